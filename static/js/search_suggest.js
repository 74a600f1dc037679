// The header search box as an ARIA 1.2 combobox: suggestions (catalogs, schemas, models, versions by alias,
// experiments, runs) appear as you type; ArrowDown/ArrowUp move through them, Enter opens the chosen one (or
// searches for the text when none is chosen), Escape closes the list.
// Without JavaScript the box is a plain search form.
(function () {
  "use strict";
  var DELAY = 150;

  function setUp(input) {
    var url = input.getAttribute("data-suggest-url");
    if (!url) return;
    var form = input.form;
    var listId = input.id + "-listbox";
    var list = document.createElement("ul");
    list.id = listId;
    list.className = "suggestions";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", "Suggestions");
    list.hidden = true;
    var status = document.createElement("div");
    status.className = "visually-hidden";
    status.setAttribute("role", "status");
    status.setAttribute("aria-live", "polite");
    form.appendChild(list);
    form.appendChild(status);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", listId);
    input.setAttribute("autocomplete", "off");

    var timer = null, active = -1, items = [], sent = 0, shownFor = null;

    function options() { return list.querySelectorAll("[role=option]"); }

    function close() {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    }

    function open() {
      if (!items.length) { close(); return; }
      list.hidden = false;
      input.setAttribute("aria-expanded", "true");
    }

    function highlight(index) {
      var all = options();
      if (!all.length) return;
      active = (index + all.length) % all.length;
      all.forEach(function (el, i) { el.setAttribute("aria-selected", i === active ? "true" : "false"); });
      input.setAttribute("aria-activedescendant", all[active].id);
      all[active].scrollIntoView({block: "nearest"});
    }

    function render(query, suggestions) {
      list.textContent = "";
      items = suggestions.slice();
      items.push({kind: "search", kind_label: "Search", label: "Search for “" + query + "”", detail: "",
                  url: form.action + "?q=" + encodeURIComponent(query)});
      items.forEach(function (item, i) {
        var li = document.createElement("li");
        li.id = listId + "-" + i;
        li.setAttribute("role", "option");
        li.setAttribute("aria-selected", "false");
        li.setAttribute("data-url", item.url);
        var kind = document.createElement("span");
        kind.className = "suggestion-kind";
        kind.textContent = item.kind_label;
        var label = document.createElement("span");
        label.className = "suggestion-label";
        label.textContent = item.label;
        li.appendChild(kind);
        li.appendChild(label);
        if (item.detail) {
          var detail = document.createElement("span");
          detail.className = "suggestion-detail";
          detail.textContent = item.detail;
          li.appendChild(detail);
        }
        // mousedown, not click: the input's blur would close the list before a click lands.
        li.addEventListener("mousedown", function (event) { event.preventDefault(); go(i); });
        list.appendChild(li);
      });
      shownFor = query;
      active = -1;
      input.removeAttribute("aria-activedescendant");
      var n = suggestions.length;
      status.textContent = n ? n + (n === 1 ? " suggestion" : " suggestions") + ": use the arrow keys to choose"
        : "No suggestions";
      open();
    }

    function go(index) {
      var item = items[index];
      if (item) window.location.assign(item.url);
    }

    function fetchSuggestions() {
      var query = input.value.trim();
      if (!query) { items = []; list.textContent = ""; close(); status.textContent = ""; return; }
      var mine = ++sent;
      fetch(url + "?q=" + encodeURIComponent(query), {headers: {"Accept": "application/json"}, credentials: "same-origin"})
        .then(function (response) { return response.ok ? response.json() : null; })
        .then(function (body) {
          if (!body || mine !== sent || input.value.trim() !== query) return;  // an older answer, or the text moved on
          render(query, body.suggestions || []);
        })
        .catch(function () { /* offline or signed out: the plain search still works */ });
    }

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(fetchSuggestions, DELAY);
    });
    input.addEventListener("keydown", function (event) {
      var expanded = !list.hidden;
      if (event.key === "ArrowDown") {
        event.preventDefault();
        if (!expanded) { if (items.length && shownFor === input.value.trim()) open(); else fetchSuggestions(); return; }
        highlight(active + 1);
      } else if (event.key === "ArrowUp") {
        if (!expanded) return;
        event.preventDefault();
        highlight(active < 0 ? -1 : active - 1);
      } else if (event.key === "Enter") {
        if (expanded && active >= 0) { event.preventDefault(); go(active); }
      } else if (event.key === "Escape") {
        // The first Escape closes the list only; the next one is the page's (closing the phone's search bar).
        if (expanded) { event.preventDefault(); event.stopPropagation(); close(); }
      } else if (event.key === "Tab") {
        close();
      }
    });
    input.addEventListener("blur", function () { window.setTimeout(close, 0); });
    input.addEventListener("focus", function () {
      if (items.length && shownFor === input.value.trim() && input.value.trim()) open();
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("input[data-suggest-url]").forEach(setUp);
  });
})();
