// Catalog Explorer: the modal shell for htmx dialogs and small progressive enhancements.
// Everything here is optional: without JavaScript every dialog is a plain page with a form.
(function () {
  "use strict";

  function modal() { return document.getElementById("modal"); }

  // A dialog partial swapped into #modal-content opens the (native, focus-trapping) modal.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "modal-content") return;
    var dialog = modal();
    if (!dialog.open) dialog.showModal();
    var first = target.querySelector("input:not([type=hidden]):not([readonly]), textarea, select");
    if (first) first.focus();
    enhance(target);
  });

  // A dialog link or button inside the modal closes it instead of navigating.
  document.addEventListener("click", function (event) {
    var closer = event.target.closest("[data-close-modal]");
    if (closer && closer.closest("#modal")) {
      event.preventDefault();
      modal().close();
    }
    var copy = event.target.closest("[data-copy]");
    if (copy) {
      var input = document.querySelector(copy.getAttribute("data-copy"));
      if (input) {
        input.select();
        if (navigator.clipboard) { navigator.clipboard.writeText(input.value).catch(function () {}); }
        copy.textContent = "Copied";
      }
    }
    // Close open menus when clicking elsewhere.
    document.querySelectorAll("details.menu[open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });

  document.addEventListener("DOMContentLoaded", function () {
    var dialog = modal();
    if (dialog) {
      dialog.addEventListener("close", function () { document.getElementById("modal-content").innerHTML = ""; });
    }
    enhance(document);
    document.body.setAttribute("data-ready", "1");  // lets browser tests know the page's scripts are wired
  });

  // Opening a menu item that loads a dialog closes the menu.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var menu = event.target.closest && event.target.closest("details.menu");
    if (menu) menu.removeAttribute("open");
  });

  function enhance(root) {
    // Description editor: Save only once something changed; warn before leaving unsaved text.
    root.querySelectorAll("textarea[data-original]").forEach(function (area) {
      var form = area.closest("form");
      var save = form && form.querySelector("[data-save]");
      function update() { if (save) save.disabled = area.value === area.getAttribute("data-original"); }
      area.addEventListener("input", update);
      update();
    });
    // Alias editor: say when an alias will move from another version.
    root.querySelectorAll("form[data-aliases]").forEach(function (form) {
      var map = {};
      try { map = JSON.parse(form.getAttribute("data-aliases")); } catch (e) { return; }
      var input = form.querySelector("input[name=alias]");
      var select = form.querySelector("select[name=version]");
      var hint = form.querySelector("[data-alias-hint]");
      var base = hint ? hint.textContent : "";
      function update() {
        var name = (input.value || "").trim();
        var current = null;
        Object.keys(map).forEach(function (k) { if (k.toLowerCase() === name.toLowerCase()) current = map[k]; });
        if (current !== null && String(current) !== select.value) {
          hint.textContent = "'" + name + "' is on version " + current + "; adding it here moves it from version " + current + ".";
          hint.classList.add("warn");
        } else {
          hint.textContent = base;
          hint.classList.remove("warn");
        }
      }
      if (input && select && hint) { input.addEventListener("input", update); select.addEventListener("change", update); }
    });
    // Tag editor: picking a key used on a sibling version pre-fills its value.
    root.querySelectorAll("form[data-suggestions]").forEach(function (form) {
      var map = {};
      try { map = JSON.parse(form.getAttribute("data-suggestions")); } catch (e) { return; }
      var key = form.querySelector("input[name=key]");
      var value = form.querySelector("input[name=value]");
      if (!key || !value) return;
      key.addEventListener("change", function () {
        if (!value.value && Object.prototype.hasOwnProperty.call(map, key.value)) value.value = map[key.value];
      });
    });
  }
})();
