// Catalog Explorer: metric charts (uPlot, vendored under static/vendor/uplot) on the run page and beside an
// experiment's runs table. Progressive: without JavaScript the pages show the values, sparklines and bars the
// server drew; with it each chart is drawn from /charts/metric-history/ (session-authenticated JSON).
(function () {
  "use strict";
  if (!window.uPlot) return;

  // Line colours with at least 4.5:1 contrast on white, told apart by more than hue alone (dashes, below).
  var COLOURS = ["#1d4ed8", "#b91c1c", "#047857", "#7c3aed", "#b45309", "#0e7490", "#be185d", "#4d7c0f",
    "#334155", "#c2410c"];
  var DASHES = [[], [6, 3], [2, 3], [8, 3, 2, 3]];
  var HEIGHT = 240;

  function colour(i) { return COLOURS[i % COLOURS.length]; }
  function dash(i) { return DASHES[Math.floor(i / COLOURS.length) % DASHES.length]; }

  function fmt(v) {
    if (v == null || typeof v !== "number" || !isFinite(v)) return "—";
    if (v !== 0 && (Math.abs(v) >= 1e6 || Math.abs(v) < 1e-4)) return v.toExponential(3);
    return String(Number(v.toPrecision(6)));
  }
  function fmtTime(ms) {
    if (ms == null) return "—";
    return new Date(ms).toISOString().replace("T", " ").replace(/\.\d+Z$/, " UTC");
  }
  function num(v) { return typeof v === "number" && isFinite(v) ? v : null; }

  function historyUrl(base, runs, keys) {
    var q = runs.map(function (r) { return "run=" + encodeURIComponent(r); })
      .concat(keys.map(function (k) { return "key=" + encodeURIComponent(k); }));
    return base + "?" + q.join("&");
  }

  function fetchJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body.message || ("HTTP " + r.status));
        return body;
      });
    });
  }

  // [x, y] of one series on the chosen axis, in increasing x (uPlot's one rule); NaN and infinities are gaps.
  function table(s, axis) {
    var xs = axis === "time" ? s.timestamp : s.step;
    var pairs = xs.map(function (x, i) { return [x, num(s.value[i])]; });
    pairs.sort(function (a, b) { return a[0] - b[0]; });
    return [pairs.map(function (p) { return p[0]; }), pairs.map(function (p) { return p[1]; })];
  }

  function xSeries(axis) {
    return { label: axis === "time" ? "Time" : "Step", value: function (u, v) {
      return axis === "time" ? fmtTime(v) : (v == null ? "—" : String(v));
    } };
  }

  function line(label, i, points) {
    return { label: label, stroke: colour(i), width: 2, dash: dash(i), spanGaps: true,
      points: { show: points <= 60, size: 5, fill: colour(i) }, value: function (u, v) { return fmt(v); } };
  }

  // Steps are whole numbers: no tick at 0.5.
  var STEP_INCRS = [];
  [1, 2, 5].forEach(function (m) { for (var e = 0; e < 10; e++) STEP_INCRS.push(m * Math.pow(10, e)); });
  STEP_INCRS.sort(function (a, b) { return a - b; });

  function axes(axis, xLabel, yLabel) {
    var x = { label: xLabel, stroke: "#334155", grid: { stroke: "#e2e8f0" }, ticks: { stroke: "#cbd5e1" } };
    if (axis === "step") x.incrs = STEP_INCRS;
    return [
      x,
      { label: yLabel, stroke: "#334155", grid: { stroke: "#e2e8f0" }, ticks: { stroke: "#cbd5e1" }, size: 64, space: 22,
        values: function (u, splits) { return splits.map(fmt); } },
    ];
  }

  // One uPlot in `box`, sized to it and resized with it; the canvas is labelled, the legend is its live text.
  function draw(box, opts, data, label) {
    box.textContent = "";
    box.classList.add("chart-live");
    opts.width = Math.max(box.clientWidth, 200);
    opts.height = box.clientWidth < 420 ? 220 : HEIGHT;
    opts.cursor = { points: { size: 8 }, focus: { prox: 24 } };
    opts.focus = { alpha: 0.35 };
    var chart = new window.uPlot(opts, data, box);
    var canvas = box.querySelector("canvas");
    if (canvas) { canvas.setAttribute("role", "img"); canvas.setAttribute("aria-label", label); }
    var legend = box.querySelector(".u-legend");
    if (legend) { legend.setAttribute("aria-live", "off"); legend.setAttribute("role", "presentation"); }
    if (window.ResizeObserver) {
      var observer = new ResizeObserver(function () {
        if (!box.isConnected) { observer.disconnect(); return; }
        var w = Math.max(box.clientWidth, 200);
        if (Math.abs(w - chart.width) > 2) chart.setSize({ width: w, height: w < 420 ? 220 : HEIGHT });
      });
      observer.observe(box);
    }
    return chart;
  }

  function failed(box, message) {
    var p = document.createElement("p");
    p.className = "chart-error";
    p.setAttribute("role", "alert");
    p.textContent = "The chart could not be drawn: " + message;
    box.appendChild(p);
  }

  // Run page --------------------------------------------------------------------------------------------------

  function runCharts(root) {
    var figures = Array.prototype.slice.call(root.querySelectorAll(".metric-chart"));
    var keys = figures.map(function (f) { return f.getAttribute("data-key"); });
    var toggle = document.querySelector("[data-chart-axis]");
    var body = null;

    function render() {
      var axis = toggle && toggle.querySelector("input:checked") ? toggle.querySelector("input:checked").value : "step";
      figures.forEach(function (figure) {
        var key = figure.getAttribute("data-key");
        var s = body.series.filter(function (x) { return x.key === key; })[0];
        var box = figure.querySelector("[data-chart-box]");
        if (!s) return;
        var opts = { scales: { x: { time: axis === "time" } }, ms: 1,
          series: [xSeries(axis), line(key, 0, s.step.length)],
          axes: axes(axis, axis === "time" ? "Time" : "Step", key) };
        var summary = figure.querySelector(".chart-summary");
        draw(box, opts, table(s, axis), "Chart of " + key + " by " + axis + (summary ? ": " + summary.textContent : ""));
      });
    }

    fetchJson(historyUrl(root.getAttribute("data-history-url"), [root.getAttribute("data-run")], keys))
      .then(function (b) {
        body = b;
        render();
        if (toggle) {
          toggle.hidden = false;
          toggle.addEventListener("change", render);
        }
      })
      .catch(function (e) { failed(root, e.message); });
  }

  // Experiment page -------------------------------------------------------------------------------------------

  function experimentChart(panel) {
    var data = JSON.parse(document.getElementById("runs-chart-data").textContent);
    var byId = {};
    data.forEach(function (r) { byId[r.run_id] = r; });
    var box = panel.querySelector("[data-chart-box]");
    var caption = panel.querySelector(".chart-summary");
    var mode = panel.querySelector("#chart-mode");
    var metric = panel.querySelector("#chart-metric");
    var param = panel.querySelector("#chart-param");
    var apply = panel.querySelector("[data-chart-apply]");
    if (apply) apply.hidden = true;  // the selects redraw at once
    var cache = {};

    function ticked() {
      var boxes = document.querySelectorAll("input[name=compare]:checked");
      var ids = Array.prototype.map.call(boxes, function (b) { return b.value; });
      if (!ids.length) ids = (panel.getAttribute("data-default-runs") || "").split(",").filter(Boolean);
      return ids.filter(function (id) { return byId[id]; }).slice(0, 20);
    }

    function remember(ids) {
      var url = new URL(window.location.href);
      url.searchParams.delete("compare");
      Array.prototype.forEach.call(document.querySelectorAll("input[name=compare]:checked"), function (b) {
        url.searchParams.append("compare", b.value);
      });
      url.searchParams.set("chart", mode.value);
      url.searchParams.set("chart_metric", metric.value);
      if (param) url.searchParams.set("chart_param", param.value);
      window.history.replaceState(null, "", url.toString());
      var count = document.querySelector("[data-compare-count]");
      var chosen = document.querySelectorAll("input[name=compare]:checked").length;
      if (count) count.textContent = ids.length + " run" + (ids.length === 1 ? "" : "s") + " compared" +
        (chosen ? "" : " (the first on this page until you tick some)");
    }

    function history(ids, key) {
      var url = historyUrl(panel.getAttribute("data-history-url"), ids, [key]);
      var got = cache[url] ? Promise.resolve(cache[url]) : fetchJson(url);
      return got.then(function (body) {
        cache[url] = body;
        var series = ids.map(function (id) {
          return body.series.filter(function (s) { return s.run_id === id; })[0];
        }).filter(Boolean);
        if (!series.length) { box.textContent = "None of the compared runs logged " + key + "."; return; }
        var joined = window.uPlot.join(series.map(function (s) { return table(s, "step"); }));
        var opts = { scales: { x: { time: false } }, series: [xSeries("step")].concat(series.map(function (s, i) {
          return line(s.run_name, ids.indexOf(s.run_id), s.step.length);
        })), axes: axes("step", "Step", key) };
        draw(box, opts, joined, key + " by step for " + series.length + " runs");
        caption.textContent = key + " by step, one line per compared run (" + series.map(function (s) {
          return s.run_name + ": last " + fmt(num(s.value[s.value.length - 1]));
        }).join("; ") + ")";
      });
    }

    function scatter(ids, key, p) {
      var runs = ids.map(function (id) { return byId[id]; });
      var raw = runs.map(function (r) { return r.params[p]; });
      var numeric = raw.every(function (v) { return v == null || (v !== "" && isFinite(Number(v))); });
      var categories = numeric ? null : raw.filter(function (v) { return v != null; })
        .filter(function (v, i, a) { return a.indexOf(v) === i; }).sort();
      var xOf = function (v) { return v == null ? null : (numeric ? Number(v) : categories.indexOf(v)); };
      var tables = [];
      var shown = [];
      runs.forEach(function (r, i) {
        var x = xOf(raw[i]);
        var y = num(r.metrics[key]);
        if (x == null || y == null) return;
        tables.push([[x], [y]]);
        shown.push(i);
      });
      if (!tables.length) { box.textContent = "None of the compared runs has both " + p + " and " + key + "."; return; }
      var joined = window.uPlot.join(tables);
      var opts = {
        scales: { x: { time: false, range: function (u, lo, hi) {
          var pad = (hi - lo) * 0.1 || 1;
          return [lo - pad, hi + pad];
        } } },
        series: [{ label: p, value: function (u, v) { return v == null ? "—" : (categories ? categories[v] : fmt(v)); } }]
          .concat(shown.map(function (i) {
            var s = line(runs[i].name, ids.indexOf(runs[i].run_id), 1);
            s.paths = function () { return null; };
            s.points = { show: true, size: 10, fill: colour(ids.indexOf(runs[i].run_id)) };
            return s;
          })),
        axes: axes("x", p, key),
      };
      if (categories) {
        opts.axes[0].values = function (u, splits) {
          return splits.map(function (v) { return Number.isInteger(v) && categories[v] != null ? categories[v] : ""; });
        };
        opts.axes[0].splits = function () { return categories.map(function (c, i) { return i; }); };
      }
      draw(box, opts, joined, "Scatter of " + key + " against " + p + " for " + shown.length + " runs");
      caption.textContent = key + " (latest) against param " + p + ": " + shown.map(function (i) {
        return runs[i].name + " (" + raw[i] + ", " + fmt(num(runs[i].metrics[key])) + ")";
      }).join("; ");
    }

    // `changed`: the user changed a control, so the URL records the new state (not on arrival: a link or a
    // bookmark stays as it was).
    function render(changed) {
      var ids = ticked();
      if (changed === true) remember(ids);
      if (param) param.closest(".filter-field").hidden = mode.value !== "scatter";
      var done = mode.value === "scatter" && param ? Promise.resolve(scatter(ids, metric.value, param.value))
        : history(ids, metric.value);
      done.catch(function (e) { box.textContent = ""; failed(box, e.message); });
    }

    [mode, metric, param].forEach(function (el) {
      if (el) el.addEventListener("change", function () { render(true); });
    });
    document.addEventListener("change", function (event) {
      if (event.target.matches && event.target.matches("input[name=compare]")) render(true);
    });
    render(false);
  }

  function start() {
    document.querySelectorAll("[data-metric-charts]").forEach(runCharts);
    document.querySelectorAll("[data-chart-panel]").forEach(experimentChart);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
