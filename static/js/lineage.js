// Catalog Explorer: pan and zoom for the server-drawn lineage SVG, through its viewBox (no graph library).
// Fit shows the whole graph; + and − zoom; drag pans; the wheel zooms about the pointer; arrow keys pan and
// +/− zoom when the picture has focus. The selected node (.lineage-node--root) is kept in view by the first
// view, by Fit and by the buttons, and a node link that gets keyboard focus is brought into view. Without
// JavaScript the picture scrolls sideways at its natural size, with the same content as a table below it.
(function () {
  "use strict";

  var MIN_READABLE = 0.55;  // below this the first view is not the whole graph but its selected node, readable
  var MIN_SCALE = 0.1, MAX_SCALE = 3, STEP = 1.25;

  function attach(viewer) {
    var picture = viewer.querySelector(".lineage-picture");
    var svg = picture && picture.querySelector("svg.lineage-graph");
    if (!svg || svg.hasAttribute("data-zoomable")) return;
    var vb = (svg.getAttribute("viewBox") || "").split(/\s+/).map(Number);
    if (vb.length !== 4 || !(vb[2] > 0) || !(vb[3] > 0)) return;
    var full = { x: vb[0], y: vb[1], w: vb[2], h: vb[3] };
    svg.setAttribute("data-zoomable", "");
    svg.removeAttribute("width");
    svg.removeAttribute("height");
    svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
    picture.classList.add("zoomable");
    picture.setAttribute("tabindex", "0");
    picture.setAttribute("aria-label", "Lineage graph: arrow keys pan, + and − zoom; the nodes are links");
    var toolbar = viewer.querySelector(".lineage-toolbar");
    if (toolbar) toolbar.hidden = false;

    var view = { cx: full.x + full.w / 2, cy: full.y + full.h / 2, scale: 1 };

    // The box is as tall as the graph needs at the width it has (a short graph gets a short box), at most 60%
    // of the window. A height through the CSSOM, which the Content-Security-Policy allows (a style attribute
    // in the markup it would not).
    function sizeBox() {
      var w = picture.clientWidth || 600;
      var s = Math.max(Math.min(1, w / full.w), MIN_READABLE);
      var h = Math.max(160, Math.min(full.h * s + 16, window.innerHeight * 0.6, 576));
      svg.style.height = Math.round(h) + "px";
    }
    sizeBox();

    function box() { return { w: svg.clientWidth || picture.clientWidth || 600, h: svg.clientHeight || 400 }; }

    function apply() {
      var b = box();
      var w = b.w / view.scale, h = b.h / view.scale;
      svg.setAttribute("viewBox", [view.cx - w / 2, view.cy - h / 2, w, h].map(function (n) {
        return Math.round(n * 100) / 100;
      }).join(" "));
      svg.setAttribute("data-scale", view.scale.toFixed(3));
    }

    function visible() {
      var b = box(), w = b.w / view.scale, h = b.h / view.scale;
      return { x: view.cx - w / 2, y: view.cy - h / 2, w: w, h: h };
    }

    function rectOf(node) {
      var r = node.querySelector("rect");
      return { x: Number(node.getAttribute("data-x")), y: Number(node.getAttribute("data-y")),
        w: Number(r ? r.getAttribute("width") : 0), h: Number(r ? r.getAttribute("height") : 0) };
    }

    // Pan (not zoom) the least that puts `r` wholly in view, with a margin.
    function reveal(r) {
      var v = visible(), m = 12 / view.scale;
      if (r.w + 2 * m > v.w) view.cx = r.x + r.w / 2;
      else if (r.x - m < v.x) view.cx += r.x - m - v.x;
      else if (r.x + r.w + m > v.x + v.w) view.cx += r.x + r.w + m - (v.x + v.w);
      if (r.h + 2 * m > v.h) view.cy = r.y + r.h / 2;
      else if (r.y - m < v.y) view.cy += r.y - m - v.y;
      else if (r.y + r.h + m > v.y + v.h) view.cy += r.y + r.h + m - (v.y + v.h);
    }

    var root = svg.querySelector(".lineage-node--root");
    function keepRoot() { if (root) reveal(rectOf(root)); }

    function clamp(s) { return Math.min(MAX_SCALE, Math.max(MIN_SCALE, s)); }

    function fit() {
      var b = box();
      view.scale = clamp(Math.min(b.w / full.w, b.h / full.h, 1.5));
      view.cx = full.x + full.w / 2;
      view.cy = full.y + full.h / 2;
      apply();
    }

    // Keep the view over the graph (no empty margin past an edge the graph does not reach), centred on an axis
    // where the whole graph fits.
    function clampToGraph() {
      var v = visible();
      if (v.w >= full.w) view.cx = full.x + full.w / 2;
      else view.cx = Math.min(Math.max(view.cx, full.x + v.w / 2), full.x + full.w - v.w / 2);
      if (v.h >= full.h) view.cy = full.y + full.h / 2;
      else view.cy = Math.min(Math.max(view.cy, full.y + v.h / 2), full.y + full.h - v.h / 2);
    }

    function first() {
      fit();
      if (view.scale < MIN_READABLE && root) {  // a large graph: start at a readable size, on the selected node
        view.scale = MIN_READABLE;
        var r = rectOf(root);
        view.cx = r.x + r.w / 2;
        view.cy = r.y + r.h / 2;
        clampToGraph();
        keepRoot();
        apply();
      }
    }

    // Zoom by `factor` keeping the graph point under (px, py) (box pixels) where it is.
    function zoom(factor, px, py) {
      var b = box(), before = visible();
      var gx = before.x + (px == null ? b.w / 2 : px) / view.scale;
      var gy = before.y + (py == null ? b.h / 2 : py) / view.scale;
      var next = clamp(view.scale * factor);
      view.cx = gx - ((px == null ? b.w / 2 : px) - b.w / 2) / next;
      view.cy = gy - ((py == null ? b.h / 2 : py) - b.h / 2) / next;
      view.scale = next;
    }

    if (toolbar) toolbar.addEventListener("click", function (event) {
      var button = event.target.closest("[data-lineage]");
      if (!button) return;
      var what = button.getAttribute("data-lineage");
      if (what === "fit") { fit(); return; }
      zoom(what === "in" ? STEP : 1 / STEP);
      keepRoot();
      apply();
    });

    svg.addEventListener("wheel", function (event) {
      event.preventDefault();
      var at = svg.getBoundingClientRect();
      zoom(event.deltaY < 0 ? 1.1 : 1 / 1.1, event.clientX - at.left, event.clientY - at.top);
      apply();
    }, { passive: false });

    var drag = null, moved = false;
    svg.addEventListener("pointerdown", function (event) {
      if (event.button !== 0) return;
      drag = { x: event.clientX, y: event.clientY, cx: view.cx, cy: view.cy, id: event.pointerId };
      moved = false;
    });
    svg.addEventListener("pointermove", function (event) {
      if (!drag || drag.id !== event.pointerId) return;
      var dx = event.clientX - drag.x, dy = event.clientY - drag.y;
      if (!moved && Math.abs(dx) + Math.abs(dy) < 4) return;
      if (!moved) { moved = true; picture.classList.add("dragging"); svg.setPointerCapture(event.pointerId); }
      view.cx = drag.cx - dx / view.scale;
      view.cy = drag.cy - dy / view.scale;
      apply();
    });
    function end() { drag = null; picture.classList.remove("dragging"); }
    svg.addEventListener("pointerup", end);
    svg.addEventListener("pointercancel", end);
    // A drag that ends on a node is a pan, not a visit to the node's page.
    svg.addEventListener("click", function (event) {
      if (moved) { event.preventDefault(); moved = false; }
    }, true);

    picture.addEventListener("keydown", function (event) {
      if (event.target !== picture) return;
      var pan = 60 / view.scale, handled = true;
      if (event.key === "ArrowLeft") view.cx -= pan;
      else if (event.key === "ArrowRight") view.cx += pan;
      else if (event.key === "ArrowUp") view.cy -= pan;
      else if (event.key === "ArrowDown") view.cy += pan;
      else if (event.key === "+" || event.key === "=") zoom(STEP);
      else if (event.key === "-" || event.key === "_") zoom(1 / STEP);
      else if (event.key === "0") { fit(); return; }
      else handled = false;
      if (handled) { event.preventDefault(); apply(); }
    });

    svg.addEventListener("focusin", function (event) {
      var node = event.target.closest && event.target.closest("a") && event.target.querySelector(".lineage-node");
      if (node) { reveal(rectOf(node)); apply(); }
    });

    var width = box().w;
    if (window.ResizeObserver) new ResizeObserver(function () {
      var w = box().w;
      if (Math.abs(w - width) > 2) { width = w; sizeBox(); apply(); keepRoot(); apply(); }
    }).observe(picture);

    first();
  }

  function start() { document.querySelectorAll("[data-lineage-viewer]").forEach(attach); }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
  document.addEventListener("htmx:afterSettle", start);
})();
