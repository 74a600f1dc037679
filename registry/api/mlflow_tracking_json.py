"""JSON shapes of MLflow's tracking protos (Experiment, Run, Metric, LoggedModel), as the MLflow server writes
them: ids as strings, empty repeated fields left out, NaN and infinities as strings."""
from __future__ import annotations

from registry.api.base import finite
from registry.models import Experiment, LoggedModel, Metric, Run
from registry.tracking_selectors import LoggedModelDetails, RunDetails


def _kv(rows) -> list[dict]:
    return [{"key": r.key, "value": r.value} for r in rows]


def experiment_json(experiment: Experiment) -> dict:
    out = {
        "experiment_id": str(experiment.pk),
        "name": experiment.name,
        "artifact_location": experiment.artifact_location,
        "lifecycle_stage": experiment.lifecycle_stage,
        "last_update_time": experiment.last_update_time,
        "creation_time": experiment.creation_time,
    }
    tags = getattr(experiment, "tag_list", None)
    if tags:
        out["tags"] = _kv(tags)
    return out


def _metric_value(metric: Metric) -> float | str:
    return "NaN" if metric.is_nan or metric.value is None else finite(metric.value)


def metric_json(metric: Metric, *, with_run: bool = False) -> dict:
    out = {
        "key": metric.key,
        "value": _metric_value(metric),
        "timestamp": metric.timestamp,
        "step": metric.step,
    }
    for name in ("dataset_name", "dataset_digest", "model_id"):
        if getattr(metric, name):
            out[name] = getattr(metric, name)
    if with_run:
        out["run_id"] = metric.run.run_id
    return out


def metric_with_run_json(metric: Metric) -> dict:
    """MLflow's MetricWithRunId: a point of a history read across several runs."""
    return {"key": metric.key, "value": _metric_value(metric), "timestamp": metric.timestamp, "step": metric.step,
            "run_id": metric.run.run_id}


def run_info_json(run: Run) -> dict:
    out = {
        "run_uuid": run.run_id,
        "experiment_id": str(run.experiment_id),
        "run_name": run.name,
        "user_id": run.user_id,
        "status": run.status,
        "start_time": run.start_time,
        "end_time": run.end_time,
        "artifact_uri": run.artifact_uri,
        "lifecycle_stage": run.lifecycle_stage,
        "run_id": run.run_id,
    }
    return {k: v for k, v in out.items() if v is not None}


def _dataset_input_json(run_input) -> dict:
    d = run_input.dataset
    return {
        "tags": run_input.tags or [],
        "dataset": {"name": d.name, "digest": d.digest, "source_type": d.source_type, "source": d.source,
                    "schema": d.schema, "profile": d.profile},
    }


def run_json(run: Run, details: RunDetails) -> dict:
    data = {}
    if details.metrics:
        data["metrics"] = [metric_json(m) for m in details.metrics]
    if details.params:
        data["params"] = _kv(details.params)
    if details.tags:
        data["tags"] = _kv(details.tags)
    inputs = {"dataset_inputs": [_dataset_input_json(i) for i in details.inputs]} if details.inputs else {}
    if details.model_inputs:
        inputs["model_inputs"] = [{"model_id": i.logged_model.model_id} for i in details.model_inputs]
    outputs = {"model_outputs": [{"model_id": o.logged_model.model_id, "step": o.step} for o in details.outputs]} \
        if details.outputs else {}
    return {"info": run_info_json(run), "data": data, "inputs": inputs, "outputs": outputs}


def logged_model_json(model: LoggedModel, details: LoggedModelDetails) -> dict:
    info = {
        "model_id": model.model_id,
        "experiment_id": str(model.experiment_id),
        "name": model.name,
        "creation_timestamp_ms": model.creation_timestamp_ms,
        "last_updated_timestamp_ms": model.last_updated_timestamp_ms,
        "artifact_uri": model.artifact_uri,
        "status": model.status,
        "model_type": model.model_type,
        "source_run_id": model.source_run.run_id if model.source_run_id else "",
    }
    if model.status_message:
        info["status_message"] = model.status_message
    if details.tags:
        info["tags"] = _kv(details.tags)
    data = {}
    if details.params:
        data["params"] = _kv(details.params)
    if details.metrics:
        data["metrics"] = [metric_json(m, with_run=True) for m in details.metrics]
    return {"info": info, "data": data}
