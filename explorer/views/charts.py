"""The explorer's chart data: metric histories of runs the signed-in user may read, as JSON for static/js/charts.js
(session-authenticated, read-only). Errors are the API's JSON envelope; a run the user may not read is an unknown
run. The pages themselves render a fallback without it (a value, a sparkline, the tables)."""
from __future__ import annotations

import math

from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from registry import tracking_charts as tc
from registry.errors import RegistryError

MAX_CHOOSER_KEYS = 200
MAX_COMPARED_RUNS = tc.MAX_CHART_RUNS
DEFAULT_COMPARED_RUNS = 5
BAR_WIDTH, BAR_ROW = 220, 20


def _error(exc: RegistryError, status: int) -> JsonResponse:
    return JsonResponse({"error_code": exc.error_code, "message": exc.message}, status=status)


def _number(value):
    # JSON has no NaN or infinity: NaN is null (a gap), infinities are said as strings the chart skips.
    if value is None or math.isfinite(value):
        return value
    return "Infinity" if value > 0 else "-Infinity"


@require_GET
def metric_history(request: HttpRequest) -> JsonResponse:
    """`?run=<id>&run=<id>&key=<metric>&key=<metric>`: one series per (run, key) that has points, in the order
    asked, each {run_id, run_name, run_url, key, total, step[], timestamp[], value[]}; `total` says how many
    points were logged when fewer are sent (a long history is thinned evenly, its last point always kept)."""
    if not request.user.is_authenticated:
        return JsonResponse({"error_code": "UNAUTHENTICATED", "message": "Sign in to read chart data."}, status=401)
    try:
        keys = tc.chart_keys(request.GET.getlist("key"))
        runs = tc.chart_runs(actor=request.user, run_ids=request.GET.getlist("run"))
    except RegistryError as exc:
        return _error(exc, 404 if exc.error_code == "RESOURCE_DOES_NOT_EXIST" else 400)
    found = tc.metric_series([r.pk for r in runs], keys)
    series = []
    for key in keys:
        for run in runs:
            entry = found.get((run.pk, key))
            if entry is None:
                continue
            points = entry["points"]
            series.append({
                "run_id": run.run_id, "run_name": run.name or run.run_id,
                "run_url": reverse("explorer:run", args=[run.run_id]), "key": key, "total": entry["total"],
                "step": [p[0] for p in points], "timestamp": [p[1] for p in points],
                "value": [_number(p[2]) for p in points],
            })
    return JsonResponse({"keys": keys, "runs": [r.run_id for r in runs], "series": series,
                         "max_points": tc.MAX_CHART_POINTS})


# What the pages render without JavaScript ----------------------------------------------------------------

def _fmt(value) -> str:
    return "NaN" if value is None else f"{value:.6g}"


def metric_summary(points: list[tuple[int, float | None]], total: int) -> dict:
    """How one metric's history reads as text (the chart's text alternative): a single value when every point
    is at one step, else the number of points, the step range, min, max and the last value."""
    steps = sorted({step for step, _ in points})
    finite = [v for _, v in points if v is not None and math.isfinite(v)]
    single = len(steps) <= 1
    if single:
        text = f"{_fmt(points[-1][1]) if points else '—'} at step {steps[0] if steps else 0}"
    else:
        shown = f"{total} points" if total == len(points) else f"{total} points (the last {len(points)} drawn)"
        text = f"{shown}, steps {steps[0]}–{steps[-1]}"
        if finite:
            text += f", min {_fmt(min(finite))}, max {_fmt(max(finite))}, last {_fmt(points[-1][1])}"
    return {"single": single, "text": text, "value": _fmt(points[-1][1]) if points else "—", "first_step": steps[0] if steps else 0,
            "last_step": steps[-1] if steps else 0}


def experiment_chart_data(rows: list[dict], details: dict) -> list[dict]:
    """The runs of a page as the experiment charts read them (latest metric values and params of each run), for
    a <script type="application/json"> block: no request needed to draw a param-against-metric scatter."""
    out = []
    for row in rows:
        run, d = row["run"], details[row["run"].pk]
        out.append({
            "run_id": run.run_id, "name": run.name or run.run_id,
            "url": reverse("explorer:run", args=[run.run_id]),
            "params": {p.key: p.value[:200] for p in d.params},
            "metrics": {m.key: _number(m.value) for m in d.metrics if not m.is_nan},
        })
    return out


def column_choices(all_params, all_metrics, param_keys, metric_keys) -> list[dict]:
    """The column chooser's boxes: every param and metric of the page's runs, ticked when shown."""
    return ([{"value": f"params.{k}", "kind": "param", "key": k, "checked": k in param_keys}
             for k in sorted(all_params)[:MAX_CHOOSER_KEYS]] +
            [{"value": f"metrics.{k}", "kind": "metric", "key": k, "checked": k in metric_keys}
             for k in sorted(all_metrics)[:MAX_CHOOSER_KEYS]])


def experiment_charts(request: HttpRequest, rows: list[dict], details: dict, params: list[str],
                       metrics: list[str]) -> dict:
    """The chart beside the runs table: `chart` (history of one metric across the compared runs, or a scatter of
    a param against a metric), the runs ticked for comparison (`compare`, else the page's first few), and, for
    reading without JavaScript, the chosen metric's latest value per compared run as bars."""
    if not rows or not metrics:
        return {"chart": None}
    mode = request.GET.get("chart") if request.GET.get("chart") in ("history", "scatter") else "history"
    metric = request.GET.get("chart_metric") if request.GET.get("chart_metric") in metrics else metrics[0]
    param = request.GET.get("chart_param") if request.GET.get("chart_param") in params else (params or [""])[0]
    on_page = [row["run"].run_id for row in rows]
    compare = [r for r in dict.fromkeys(request.GET.getlist("compare")) if r in on_page][:MAX_COMPARED_RUNS]
    selected = compare or on_page[:DEFAULT_COMPARED_RUNS]
    latest = {row["run"].run_id: {m.key: m for m in details[row["run"].pk].metrics} for row in rows}
    bars = []
    for row in rows:
        m = latest[row["run"].run_id].get(metric)
        if row["run"].run_id in selected and m is not None and not m.is_nan and math.isfinite(m.value):
            bars.append({"name": row["run"].name or row["run"].run_id, "value": m.value})
    top = max((abs(b["value"]) for b in bars), default=0) or 1.0
    for i, b in enumerate(bars):
        b.update(width=round(abs(b["value"]) / top * BAR_WIDTH, 1), y=i * BAR_ROW, text_y=i * BAR_ROW + 13)
    return {"chart": {
        "mode": mode, "metric": metric, "param": param, "params": params, "metrics": metrics,
        "selected": selected, "compare": compare, "bars": bars, "bar_width": BAR_WIDTH,
        "bars_height": max(len(bars), 1) * BAR_ROW, "label_x": BAR_WIDTH + 8,
        "history_url": reverse("explorer:metric_history"),
        "data": experiment_chart_data(rows, details),
    }}
