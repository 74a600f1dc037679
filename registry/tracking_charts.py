"""Reads behind the metric charts: the history of some metrics of some runs (already checked as visible), as
(step, timestamp, value) points, evenly thinned in SQL when a series has more points than a chart can show."""
from __future__ import annotations

from django.db.models import Count, F, Q, Window
from django.db.models.functions import Greatest, Mod, RowNumber

from registry import tracking_selectors as ts
from registry.errors import InvalidParameter, NotFound
from registry.models import Metric, Run

MAX_CHART_RUNS = 20
MAX_CHART_KEYS = 20
MAX_CHART_POINTS = 1000  # per series: more than a chart's width in pixels has no use


def chart_runs(*, actor, run_ids: list[str]) -> list[Run]:
    """The runs named by `run_ids` (in that order, duplicates dropped), all of which `actor` may read; one that is
    missing or hidden is NotFound, worded like any unknown run."""
    run_ids = list(dict.fromkeys(r for r in run_ids if r))
    if not run_ids:
        raise InvalidParameter("Name at least one run (run=<run id>).")
    if len(run_ids) > MAX_CHART_RUNS:
        raise InvalidParameter(f"A chart shows at most {MAX_CHART_RUNS} runs, got {len(run_ids)}.")
    for run_id in run_ids:
        if len(run_id) > 32:
            raise NotFound(ts.run_not_found_message(run_id[:100]))
    found = {r.run_id: r for r in ts.run_list_visible(actor=actor).filter(run_id__in=run_ids)}
    for run_id in run_ids:
        if run_id not in found:
            raise NotFound(ts.run_not_found_message(run_id))
    return [found[r] for r in run_ids]


def chart_keys(keys: list[str]) -> list[str]:
    keys = list(dict.fromkeys(k for k in keys if k))
    if not keys:
        raise InvalidParameter("Name at least one metric (key=<metric key>).")
    if len(keys) > MAX_CHART_KEYS:
        raise InvalidParameter(f"A chart shows at most {MAX_CHART_KEYS} metrics, got {len(keys)}.")
    if any(len(k) > 250 for k in keys):
        raise InvalidParameter("A metric key has at most 250 characters.")
    return keys


def metric_series(run_pks, keys, *, points: int = MAX_CHART_POINTS) -> dict[tuple[int, str], dict]:
    """{(run pk, key): {"points": [(step, timestamp, value or None for NaN)] in step order, "total": n}} in one
    query. A series longer than `points` keeps every k-th point (k = total / points, rounded up) and always its last one, so
    the chart spans the whole run."""
    run_pks, keys = list(run_pks), list(keys)
    if not run_pks or not keys:
        return {}
    partition = [F("run_id"), F("key")]
    ranked = Metric.objects.filter(run_id__in=run_pks, key__in=keys).annotate(
        rank=Window(RowNumber(), partition_by=partition, order_by=[F("step").asc(), F("timestamp").asc(),
                                                                   F("pk").asc()]),
        total=Window(Count("pk"), partition_by=partition),
    ).annotate(stride=Greatest((F("total") + (points - 1)) / points, 1)).annotate(phase=Mod(F("rank"), F("stride")))
    rows = (ranked.filter(Q(phase=0) | Q(rank=F("total")))
            .values_list("run_id", "key", "step", "timestamp", "value", "is_nan", "total", "rank"))
    out: dict[tuple[int, str], dict] = {}
    for run_pk, key, step, timestamp, value, is_nan, total, rank in rows:
        entry = out.setdefault((run_pk, key), {"points": [], "total": total})
        entry["points"].append((rank, step, timestamp, None if is_nan else value))
    for entry in out.values():
        entry["points"] = [p[1:] for p in sorted(entry["points"])]
    return out
