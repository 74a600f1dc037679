// Serving tab: Ctrl+Enter (or Cmd+Enter) in the request box sends it, as the Send button does; a version's log
// opens scrolled to its newest lines. Loaded by the tab's templates only; without JavaScript the buttons post
// the form as a plain page.
(function () {
  "use strict";
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Enter" || !(event.ctrlKey || event.metaKey)) return;
    var form = event.target.closest && event.target.closest("form[data-serving-request]");
    var send = form && form.querySelector("button[value=send]");
    if (!send) return;
    event.preventDefault();
    form.requestSubmit(send);
  });
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll(".serving-logs").forEach(function (log) { log.scrollTop = log.scrollHeight; });
  });
})();
