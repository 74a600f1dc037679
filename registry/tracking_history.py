"""Metric histories of several runs at once, as the MLflow UI's charts read them (metrics/get-history-bulk and
metrics/get-history-bulk-interval), and the dataset summaries of experiments (experiments/search-datasets).
Runs and experiments the actor may not read contribute nothing, exactly like ones that do not exist."""
from __future__ import annotations

from django.db.models import F, Window
from django.db.models.functions import RowNumber

from registry.models import Metric, RunInput
from registry.tracking_selectors import experiment_list_visible, parse_experiment_ids, run_list_visible

DATASET_CONTEXT_TAG = "mlflow.data.context"
MAX_DATASET_SUMMARIES = 1000  # as MLflow's SQL store


def metric_history_bulk(*, actor, run_ids: list[str], key: str, max_results: int) -> list[Metric]:
    """Every point of `key` in the readable runs among `run_ids`, by run id, then timestamp, step and value;
    at most `max_results` in all."""
    runs = run_list_visible(actor=actor).filter(run_id__in=[r for r in run_ids if isinstance(r, str)])
    return list(Metric.objects.filter(run__in=runs, key=key).select_related("run")
                .order_by("run__run_id", "timestamp", "step", F("value").asc(nulls_last=True))[:max_results])


def metric_history_sampled(*, actor, run_ids: list[str], key: str, max_results: int,
                           steps: tuple[int, int] | None = None) -> list[Metric]:
    """For each readable run of `run_ids`, in the order given, at most `max_results` points of `key` (within
    `steps`, inclusive, when given) evenly spread over its history: the first of each of `max_results` equal
    buckets, the last point always kept, as MLflow's SQL store samples them (NTILE)."""
    visible = {r.run_id: r for r in run_list_visible(actor=actor).filter(run_id__in=set(run_ids))}
    out: list[Metric] = []
    for run_id in run_ids:
        if run_id in visible:
            out += _sample(visible[run_id], key, max_results, steps)
    return out


def _sample(run, key: str, max_results: int, steps: tuple[int, int] | None) -> list[Metric]:
    points = Metric.objects.filter(run=run, key=key)
    if steps is not None:
        points = points.filter(step__gte=steps[0], step__lte=steps[1])
    order = ["step", "timestamp", F("value").asc(nulls_last=True), "pk"]
    total = points.count()
    if total <= max_results:
        return [_with_run(m, run) for m in points.order_by(*order)]
    rows = _bucket_starts(total, max_results)
    ranked = points.annotate(position=Window(RowNumber(), order_by=order))
    return [_with_run(m, run) for m in ranked.filter(position__in=[i + 1 for i in rows]).order_by(*order)]


def _bucket_starts(total: int, buckets: int) -> list[int]:
    """Row indices NTILE(buckets) starts its buckets at over `total` rows (> buckets), the last one replaced by
    the final row so a chart always reaches the newest point."""
    size, larger = divmod(total, buckets)
    starts, position = [], 0
    for i in range(buckets):
        starts.append(position)
        position += size + (1 if i < larger else 0)
    starts[-1] = total - 1
    return starts


def _with_run(metric: Metric, run) -> Metric:
    metric.run = run  # the caller writes run ids: no query per point
    return metric


def dataset_summaries(*, actor, experiment_ids: list) -> list[dict]:
    """The distinct (experiment, dataset name, digest, context) of the inputs logged to readable experiments."""
    experiments = experiment_list_visible(actor=actor).filter(pk__in=parse_experiment_ids(experiment_ids))
    inputs = (RunInput.objects.filter(dataset__experiment__in=experiments.values("pk"))
              .order_by("dataset__experiment_id", "dataset__name", "dataset__digest", "pk")
              .values_list("dataset__experiment_id", "dataset__name", "dataset__digest", "tags"))
    seen: dict[tuple, None] = {}
    for experiment_id, name, digest, tags in inputs.iterator():
        context = next((t.get("value") for t in tags or [] if isinstance(t, dict)
                        and t.get("key") == DATASET_CONTEXT_TAG), None)
        seen.setdefault((experiment_id, name, digest, context))
        if len(seen) >= MAX_DATASET_SUMMARIES:
            break
    summaries = []
    for experiment_id, name, digest, context in seen:
        summary = {"experiment_id": str(experiment_id), "name": name, "digest": digest}
        if context is not None:
            summary["context"] = context
        summaries.append(summary)
    return summaries
