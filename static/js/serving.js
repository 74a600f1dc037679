// Serving tab: Ctrl+Enter (or Cmd+Enter) in the request box sends it, as the Send button does. Loaded by the
// tab's template only; without JavaScript the buttons post the form as a plain page.
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
})();
