// Catalog Explorer on small screens: the top bar's search behind an icon button, the catalog tree as a drawer,
// and tables that scroll inside their own box (keyboard-scrollable when they do). Without JavaScript the top bar
// wraps and the tree is not shown (static/css/explorer.css).
(function () {
  "use strict";

  var NARROW = window.matchMedia("(max-width: 900px)");
  var FOCUSABLE = "a[href], button:not([disabled]), summary, input:not([type=hidden]), select, textarea";

  function drawerToggle() { return document.querySelector(".drawer-toggle"); }
  function searchToggle() { return document.querySelector(".search-toggle"); }
  function drawerOpen() { return document.body.classList.contains("drawer-open"); }
  function searchOpen() { var bar = document.querySelector(".topbar"); return !!bar && bar.classList.contains("search-open"); }

  function setDrawer(open, returnFocus) {
    var toggle = drawerToggle(), drawer = document.getElementById("catalog-tree");
    if (!toggle || !drawer) return;
    document.body.classList.toggle("drawer-open", open);
    toggle.setAttribute("aria-expanded", String(open));
    if (open) {
      var first = drawer.querySelector(FOCUSABLE);
      if (first) first.focus();
    } else if (returnFocus) {
      toggle.focus();
    }
  }

  function setSearch(open, returnFocus) {
    var toggle = searchToggle(), bar = document.querySelector(".topbar");
    if (!toggle || !bar) return;
    bar.classList.toggle("search-open", open);
    toggle.setAttribute("aria-expanded", String(open));
    if (open) document.getElementById("global-search").focus();
    else if (returnFocus) toggle.focus();
  }

  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target.closest(".drawer-toggle")) { setDrawer(!drawerOpen(), false); return; }
    if (target.closest("[data-close-drawer]")) { setDrawer(false, true); return; }
    if (target.closest(".search-toggle")) { setSearch(!searchOpen(), false); return; }
    // A click outside the open drawer (on its backdrop) closes it.
    if (drawerOpen() && !target.closest("#catalog-tree")) setDrawer(false, false);
  });

  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    var modal = document.getElementById("modal");
    if (modal && modal.open) return;  // the dialog's own Escape
    if (drawerOpen()) { setDrawer(false, true); return; }
    var form = document.getElementById("global-search-form");
    if (searchOpen() && form && (form.contains(document.activeElement) || document.activeElement === searchToggle())) {
      setSearch(false, true);
    }
  });

  // Back to a wide window: the tree and the search are on the page again, nothing is "open".
  NARROW.addEventListener("change", function () {
    if (!NARROW.matches) { setDrawer(false, false); setSearch(false, false); }
    updateScrollers();
  });

  // Tables -------------------------------------------------------------------------------------------------
  function label(box, table) {
    var caption = table.querySelector("caption");
    if (caption) return caption.textContent.trim();
    if (table.getAttribute("aria-label")) return table.getAttribute("aria-label");
    var scope = box.closest("section, .panel, .tab-body, main");
    var heading = scope && scope.querySelector("h2, h3, h1");
    return heading ? heading.textContent.replace(/\s+/g, " ").trim() : "Table";
  }

  function wrapTables(root) {
    root.querySelectorAll("main table, #modal table").forEach(function (table) {
      if (table.parentElement.closest("table, .lineage-picture")) return;
      var box = table.parentElement;
      if (!box.classList.contains("table-scroll")) {
        if (table.closest(".table-scroll")) return;
        box = document.createElement("div");
        box.className = "table-scroll";
        table.parentNode.insertBefore(box, table);
        box.appendChild(table);
      }
      box.setAttribute("data-table-label", label(box, table));
    });
    updateScrollers();
  }

  // A box whose table is wider than it is a named, focusable region, so that it scrolls by keyboard too; so is
  // a preformatted block (a snippet, a file preview) with lines longer than the page.
  function updateScrollers() {
    document.querySelectorAll("main pre, #modal pre").forEach(function (pre) {
      var scrolls = pre.scrollWidth > pre.clientWidth + 1 || pre.scrollHeight > pre.clientHeight + 1;
      if (scrolls && !pre.hasAttribute("tabindex")) { pre.setAttribute("tabindex", "0"); pre.setAttribute("data-scroll-region", ""); }
      else if (!scrolls && pre.hasAttribute("data-scroll-region")) { pre.removeAttribute("tabindex"); pre.removeAttribute("data-scroll-region"); }
    });
    document.querySelectorAll(".table-scroll").forEach(function (box) {
      var scrolls = box.scrollWidth > box.clientWidth + 1;
      var ours = box.hasAttribute("data-scroll-region");
      if (scrolls && !ours && !box.hasAttribute("tabindex")) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        box.setAttribute("aria-label", (box.getAttribute("data-table-label") || "Table") + " (scrolls sideways)");
        box.setAttribute("data-scroll-region", "");
      } else if (!scrolls && ours) {
        ["tabindex", "role", "aria-label", "data-scroll-region"].forEach(function (a) { box.removeAttribute(a); });
      }
    });
  }

  var pending = false;
  window.addEventListener("resize", function () {
    if (pending) return;
    pending = true;
    window.requestAnimationFrame(function () { pending = false; updateScrollers(); });
  });
  document.addEventListener("htmx:afterSettle", function (event) { wrapTables(event.detail.elt || document); });
  document.addEventListener("DOMContentLoaded", function () { wrapTables(document); });
})();
