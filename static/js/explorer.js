// Catalog Explorer: the modal shell for htmx dialogs and small progressive enhancements.
// Everything here is optional: without JavaScript every dialog is a plain page with a form.
(function () {
  "use strict";

  var DISCARD = "Discard your unsaved description?";
  var FIELDS = "input:not([type=hidden]):not([readonly]):not([disabled]), textarea:not([hidden]), select";
  var opener = null;  // what opened the modal: focus goes back there when it closes
  var RETURN_KEY = "explorer:dialog-opener";  // ...even across the reload that shows what the dialog changed

  function modal() { return document.getElementById("modal"); }

  // A dialog opened as a page of its own (a new tab, a bookmark) stays the plain-form fallback: htmx would
  // post its forms into the modal and show the next state over the same page. This runs before htmx
  // processes the page (on DOMContentLoaded).
  document.querySelectorAll(".dialog-page").forEach(function (page) { page.setAttribute("hx-disable", ""); });

  // A description textarea whose text differs from what is stored, and whose form was not submitted (a
  // submitted form carries the text on: to the next state of the dialog, or into the registry).
  function unsaved(root) {
    return Array.prototype.some.call(root.querySelectorAll("textarea[data-original]"), function (area) {
      return !area.hasAttribute("data-submitted") && area.value !== area.getAttribute("data-original");
    });
  }

  // Close the modal unless it holds unsaved text that the user wants to keep.
  function closeModal() {
    var dialog = modal();
    if (!dialog.open) return;
    if (unsaved(dialog) && !window.confirm(DISCARD)) return;
    dialog.close();
  }

  // A dialog partial swapped into #modal-content opens the (native, inert-making) modal; focus goes to the
  // first field with an error, else the first field.
  document.addEventListener("htmx:afterSwap", function (event) {
    var target = event.detail.target;
    if (!target || target.id !== "modal-content") return;
    var dialog = modal();
    if (!dialog.open) dialog.showModal();
    // htmx wires the new content only when it settles (a timer later); a quick Enter in the focused field
    // would post the form without htmx, as a full page. Wire it now, before it gets focus.
    if (window.htmx) window.htmx.process(target);
    // A dialog that saved something and stays open (tags, aliases): the page behind is stale until it closes.
    if (target.querySelector("[data-dialog-changed]")) dialog.setAttribute("data-changed", "1");
    var first = target.querySelector(".has-error :is(" + FIELDS + ")") || target.querySelector(FIELDS) ||
      target.querySelector("[aria-selected=true], .dialog-actions :is(button, a[href])");
    if (first) first.focus();
    enhance(target);
  });

  // A dialog link or button inside the modal closes it instead of navigating.
  document.addEventListener("click", function (event) {
    var closer = event.target.closest("[data-close-modal]");
    if (closer && closer.closest("#modal")) {
      event.preventDefault();
      closeModal();
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
      dialog.addEventListener("close", function () {
        document.getElementById("modal-content").innerHTML = "";
        if (dialog.hasAttribute("data-changed")) {
          dialog.removeAttribute("data-changed");
          rememberOpener();
          window.location.reload();
          return;
        }
        if (opener && opener.isConnected) opener.focus();
        opener = null;
      });
    }
    enhance(document);
    // After the other scripts' DOMContentLoaded work (layout.js moves tables into scroll boxes, which drops focus).
    window.setTimeout(function () {
      refocusOpener();
      document.body.setAttribute("data-ready", "1");  // lets browser tests know the page's scripts are wired
    }, 0);
  });

  // Opening a menu item that loads a dialog closes the menu. Remember what opened the dialog; for a menu
  // item, which is hidden once the menu closes, that is the menu's button.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var menu = event.target.closest && event.target.closest("details.menu");
    if (menu) menu.removeAttribute("open");
    var target = event.detail.target, dialog = modal();
    if (target && target.id === "modal-content" && dialog && !dialog.open) {
      opener = menu ? menu.querySelector("summary") : event.target;
    }
  });

  document.addEventListener("keydown", function (event) {
    var dialog = modal();
    if (!dialog || !dialog.open || event.defaultPrevented) return;
    // Escape with unsaved text asks first. A cancelled keydown does not close the dialog; cancelling the
    // dialog's own cancel event instead works only once until the user interacts with the page again.
    if (event.key === "Escape" && unsaved(dialog)) {
      event.preventDefault();
      closeModal();
      return;
    }
    // Tab cycles through the dialog's controls instead of leaving the page for the browser's toolbar.
    if (event.key !== "Tab") return;
    var items = Array.prototype.filter.call(dialog.querySelectorAll(
      "a[href], button:not([disabled]), input:not([type=hidden]):not([disabled]), select:not([disabled]), " +
      "textarea:not([disabled]), [tabindex]:not([tabindex='-1'])"),
      function (el) { return el.getClientRects().length; });  // rendered: not hidden, not in a closed <details>
    if (!items.length) return;
    var first = items[0], last = items[items.length - 1], active = document.activeElement;
    var outside = !dialog.contains(active);
    if (event.shiftKey && (active === first || outside)) { event.preventDefault(); last.focus(); }
    else if (!event.shiftKey && (active === last || outside)) { event.preventDefault(); first.focus(); }
  });

  // A dialog that ends by loading a page (HX-Redirect, HX-Refresh: Grant, Save, Delete ...) would leave focus on
  // <body>. The opener is found again on the next page when that page is the same one: by its id, else by the
  // dialog URL it loads (the n-th such control), else as the n-th menu button.
  function locate(el) {
    if (!el || !el.isConnected) return null;
    var selector = el.id ? "#" + CSS.escape(el.id)
      : el.getAttribute("hx-get") ? '[hx-get="' + CSS.escape(el.getAttribute("hx-get")) + '"]'
      : el.matches("details.menu > summary") ? "details.menu > summary" : null;
    if (!selector) return null;
    return {page: location.pathname + location.search, selector: selector,
            index: Array.prototype.indexOf.call(document.querySelectorAll(selector), el)};
  }
  function rememberOpener() {
    var where = locate(opener);
    try { if (where) sessionStorage.setItem(RETURN_KEY, JSON.stringify(where)); } catch (e) { /* storage off */ }
  }
  function refocusOpener() {
    var where = null;
    try { where = JSON.parse(sessionStorage.getItem(RETURN_KEY) || "null"); sessionStorage.removeItem(RETURN_KEY); }
    catch (e) { return; }
    if (!where || where.page !== location.pathname + location.search) return;
    var el = document.querySelectorAll(where.selector)[where.index];
    if (el) el.focus();
  }
  document.addEventListener("htmx:beforeOnLoad", function (event) {
    var xhr = event.detail.xhr, dialog = modal();
    if (dialog && dialog.open && xhr && (xhr.getResponseHeader("HX-Redirect") || xhr.getResponseHeader("HX-Refresh"))) {
      rememberOpener();
    }
  });

  // Compare needs 2 to 10 versions: its button stays disabled, and says why, until that many are chosen (ticked,
  // or typed as numbers in the compare page's picker).
  function updateCompare(form) {
    var ticked = document.querySelectorAll('input[type=checkbox][name=versions][form="' + form.id + '"]:checked').length +
      form.querySelectorAll("input[type=checkbox][name=versions]:checked").length;
    form.querySelectorAll("input[type=text][name=more]").forEach(function (typed) {
      ticked += typed.value.split(/[\s,]+/).filter(function (t) { return /^\d+$/.test(t); }).length;
    });
    var button = form.querySelector("button[type=submit]"), hint = form.querySelector("[data-compare-hint]");
    if (button) button.disabled = ticked < 2 || ticked > 10;
    if (!hint) return;
    if (!hint.hasAttribute("data-initial")) hint.setAttribute("data-initial", hint.innerHTML);
    if (ticked === 0) hint.innerHTML = hint.getAttribute("data-initial");
    else if (ticked === 1) hint.textContent = "1 version chosen: choose at least one more to compare.";
    else if (ticked > 10) hint.textContent = ticked + " versions chosen: compare at most 10.";
    else hint.textContent = ticked + " versions chosen.";
  }
  function compareForms() { return document.querySelectorAll("form[data-compare-form]"); }
  document.addEventListener("change", function (event) {
    if (event.target.name === "versions") compareForms().forEach(updateCompare);
  });
  document.addEventListener("input", function (event) {
    if (event.target.name === "more") compareForms().forEach(updateCompare);
  });

  // A field's error describes the value that was refused: editing the field clears it.
  document.addEventListener("input", function (event) {
    var field = event.target.closest && event.target.closest(".field.has-error");
    if (!field) return;
    field.classList.remove("has-error");
    field.querySelectorAll(".error").forEach(function (error) { error.remove(); });
  });

  document.addEventListener("submit", function (event) {
    event.target.querySelectorAll("textarea[data-original]").forEach(function (area) {
      area.setAttribute("data-submitted", "1");
    });
  });
  // ...unless the post failed and the text is still only here.
  document.addEventListener("htmx:afterRequest", function (event) {
    var form = event.detail.elt && event.detail.elt.closest && event.detail.elt.closest("form");
    if (form && !event.detail.successful) {
      form.querySelectorAll("textarea[data-submitted]").forEach(function (area) {
        area.removeAttribute("data-submitted");
      });
    }
  });

  // Leaving the page (the full-page dialog without the modal, a reload, closing the tab) with unsaved text.
  window.addEventListener("beforeunload", function (event) {
    if (unsaved(document)) { event.preventDefault(); event.returnValue = ""; }
  });

  function enhance(root) {
    root.querySelectorAll("form[data-compare-form]").forEach(updateCompare);
    // Description editor: Save only once something changed (unsaved text is guarded above).
    root.querySelectorAll("textarea[data-original]").forEach(function (area) {
      var form = area.closest("form");
      var save = form && form.querySelector("[data-save]");
      function update() { if (save) save.disabled = area.value === area.getAttribute("data-original"); }
      area.addEventListener("input", update);
      update();
    });
    // Tag editor: a key the object already has pre-fills its current value, selected, so that typing replaces
    // it. A key used only on a sibling version shows that value as an example (a placeholder), never as text
    // the user would type after.
    root.querySelectorAll("form[data-own-tags]").forEach(function (form) {
      var own = {}, siblings = {};
      try {
        own = JSON.parse(form.getAttribute("data-own-tags"));
        siblings = JSON.parse(form.getAttribute("data-suggestions") || "{}");
      } catch (e) { return; }
      var key = form.querySelector("input[name=key]");
      var value = form.querySelector("input[name=value]");
      if (!key || !value) return;
      var base = value.getAttribute("placeholder") || "", prefilled = null, justFocused = false;
      function has(map, k) { return Object.prototype.hasOwnProperty.call(map, k); }
      function update() {
        var k = key.value.trim();
        if (value.value === "" || value.value === prefilled) {  // never overwrite what the user typed
          prefilled = has(own, k) ? own[k] : null;
          value.value = prefilled === null ? "" : prefilled;
        }
        if (!has(own, k) && has(siblings, k)) value.setAttribute("placeholder", "e.g. " + siblings[k] + " (as on another version)");
        else if (base) value.setAttribute("placeholder", base);
        else value.removeAttribute("placeholder");
      }
      key.addEventListener("input", update);
      key.addEventListener("change", update);
      value.addEventListener("focus", function () {
        if (prefilled !== null && value.value === prefilled) { value.select(); justFocused = true; }
      });
      // A click's mouseup would put the caret at the click and undo the selection made on focus.
      value.addEventListener("mouseup", function (event) { if (justFocused) event.preventDefault(); justFocused = false; });
    });
  }
})();
