"""MLflow runs: create, update, delete, restore, and what is logged to them (params, metrics, tags, batches,
dataset inputs, logged-model outputs). Logging calls are high-volume: they are not audited one by one."""
from __future__ import annotations

import random
import uuid

from django.db import IntegrityError, transaction

from registry import audit, permissions
from registry.errors import InvalidParameter, NotFound, PermissionDenied
from registry.models import Dataset, LoggedModel, Metric, Param, Run, RunInput, RunModelInput, RunOutput, RunTag
from registry.permissions import Action
from registry.services.core import authorize, require_authenticated, service
from registry.services.tracking import (
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    int64,
    is_nan,
    key_values,
    metric_value,
    now_ms,
    valid_key,
    valid_value,
)
from registry.tracking_selectors import (
    experiment_get,
    experiment_not_found_message,
    run_get,
    run_list_writable,
    run_not_found_message,
)

RUN_STATUSES = ("RUNNING", "SCHEDULED", "FINISHED", "FAILED", "KILLED")
MAX_METRICS_PER_BATCH = 1000
MAX_PARAMS_TAGS_PER_BATCH = 100
MAX_ENTITIES_PER_BATCH = 1000
MAX_DATASETS_PER_REQUEST = 1000
RUN_NAME_TAG = "mlflow.runName"
USER_TAG = "mlflow.user"

_ADJECTIVES = (
    "adorable", "bold", "brave", "bright", "calm", "clever", "crisp", "dapper", "eager", "fair", "gentle", "glad",
    "grand", "honest", "jolly", "keen", "kind", "lively", "lucky", "merry", "nimble", "polite", "proud", "quick",
    "quiet", "rare", "shy", "silent", "sleek", "smart", "sunny", "swift", "tidy", "upbeat", "vivid", "warm", "wise",
    "witty", "zealous", "persistent",
)
_ANIMALS = (
    "ant", "bat", "bear", "bee", "boar", "carp", "cat", "cod", "colt", "crab", "crow", "deer", "doe", "dove", "duck",
    "eel", "elk", "finch", "fox", "frog", "goat", "hare", "hawk", "hen", "jay", "lark", "lynx", "mole", "moth", "newt",
    "owl", "ox", "panda", "rat", "seal", "shrew", "slug", "snail", "swan", "toad", "vole", "wasp", "wolf", "wren",
)


def generate_run_name() -> str:
    return f"{random.choice(_ADJECTIVES)}-{random.choice(_ANIMALS)}-{random.randint(0, 999)}"


def _status(value) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= len(RUN_STATUSES):
        return RUN_STATUSES[value - 1]
    if not isinstance(value, str) or value.upper() not in RUN_STATUSES:
        raise InvalidParameter(f"Invalid run status {str(value)[:50]!r}: use one of {', '.join(RUN_STATUSES)}.")
    return value.upper()


def _run_name(value) -> str:
    return valid_value(value, "run name", max_length=250)


def run_for_write(actor, run_id) -> Run:
    """The run, if `actor` may change it (one query when allowed): its owner, or who may modify the experiment.
    Deleted runs cannot be logged to; someone who may read but not write the run gets PermissionDenied."""
    run = None
    if isinstance(run_id, str) and 0 < len(run_id) <= 32:
        run = run_list_writable(actor=actor).select_related("experiment").filter(run_id=run_id).first()
    if run is None:
        run = run_get(actor=actor, run_id=run_id)  # NotFound when not visible
        raise PermissionDenied(f"Permission denied: only the owner of run {run.run_id}, or the owner or managers "
                               "of its experiment, may change it.")
    return run


def _active(run: Run) -> Run:
    if run.lifecycle_stage != "active":
        raise InvalidParameter(f"The run {run.run_id} must be in the 'active' state. "
                               f"Current state is {run.lifecycle_stage}.")
    return run


@service("run.create")
def run_create(*, actor, experiment_id, start_time=None, tags: list | None = None, run_name=None) -> Run:
    require_authenticated(actor)
    experiment = experiment_get(actor=actor, experiment_id=experiment_id)
    authorize(actor, Action.CREATE_RUN, experiment, not_found_message=experiment_not_found_message(experiment_id))
    if experiment.lifecycle_stage != "active":
        raise InvalidParameter(f"The experiment {experiment.pk} must be in the 'active' state. "
                               f"Current state is {experiment.lifecycle_stage}.")
    start_time = int64(start_time, "start_time", default=now_ms())
    pairs = dict(key_values(tags, "tag", value_max=MAX_TAG_VALUE_LENGTH, limit=MAX_ENTITIES_PER_BATCH))
    run_name = _run_name(run_name)
    tagged_name = pairs.get(RUN_NAME_TAG)
    if run_name and tagged_name and run_name != tagged_name:
        raise InvalidParameter(f"Both 'run_name' argument and '{RUN_NAME_TAG}' tag are specified, but with "
                               f"different values (run_name='{run_name}', {RUN_NAME_TAG}='{tagged_name}').")
    run_name = run_name or tagged_name or generate_run_name()
    username = actor.get_username()
    # Who ran it is who authenticated, not what the client claims.
    pairs[USER_TAG] = username
    pairs[RUN_NAME_TAG] = run_name
    run_id = uuid.uuid4().hex
    run = Run.objects.create(
        run_id=run_id, experiment=experiment, name=run_name, user_id=username, owner=actor, status="RUNNING",
        start_time=start_time, artifact_uri=f"mlflow-artifacts:/{experiment.pk}/{run_id}/artifacts",
    )
    RunTag.objects.bulk_create(RunTag(run=run, key=k, value=v) for k, v in pairs.items())
    audit.record(actor=actor, action="run.create", obj=run,
                 params={"experiment_id": str(experiment.pk), "run_name": run_name})
    return run


@service("run.update")
def run_update(*, actor, run_id, status=None, end_time=None, run_name=None) -> Run:
    run = _active(run_for_write(actor, run_id))
    changed = {}
    if status not in (None, ""):
        run.status = changed["status"] = _status(status)
    if end_time not in (None, ""):
        run.end_time = changed["end_time"] = int64(end_time, "end_time")
    if run_name not in (None, ""):
        run.name = changed["run_name"] = _run_name(run_name)
        RunTag.objects.update_or_create(run=run, key=RUN_NAME_TAG, defaults={"value": run.name})
    # Only the columns this call changes: a concurrent update of another column is not written back stale.
    columns = {"status": "status", "end_time": "end_time", "run_name": "name"}
    if changed:
        run.save(update_fields=[columns[key] for key in changed])
    audit.record(actor=actor, action="run.update", obj=run, params=changed)
    return run


def _set_run_stage(actor, run_id, stage: str, action_name: str) -> Run:
    run = run_for_write(actor, run_id)
    # In a shared experiment (such as the default one) only a run's owner, or who may delete in the
    # experiment, deletes or restores it.
    if run.owner_id != actor.pk and not permissions.check(actor, Action.DELETE, run.experiment):
        raise PermissionDenied("Permission denied: only the run's owner or the experiment's owner or managers "
                               "may delete or restore it.")
    run.lifecycle_stage = stage
    run.save(update_fields=["lifecycle_stage"])
    audit.record(actor=actor, action=action_name, obj=run, params={"run_id": run.run_id})
    return run


@service("run.delete")
def run_delete(*, actor, run_id) -> Run:
    return _set_run_stage(actor, run_id, "deleted", "run.delete")


@service("run.restore")
def run_restore(*, actor, run_id) -> Run:
    return _set_run_stage(actor, run_id, "active", "run.restore")


def _write_params(run: Run, pairs: list[tuple[str, str]]) -> None:
    """Params are immutable: the same value again is fine, a different one is an error (as in MLflow)."""
    wanted: dict[str, str] = {}
    for key, value in pairs:
        if key in wanted and wanted[key] != value:
            raise InvalidParameter(f"Duplicate parameter key '{key}' with different values in one request.")
        wanted[key] = value
    existing = dict(Param.objects.filter(run=run, key__in=list(wanted)).values_list("key", "value"))
    for key, old in existing.items():
        if old != wanted[key]:
            raise InvalidParameter(
                f"Changing param values is not allowed. Param with key='{key}' was already logged with "
                f"value='{old}' for run ID='{run.run_id}'. Attempted logging new value '{wanted[key]}'.")
    try:
        with transaction.atomic():
            Param.objects.bulk_create(Param(run=run, key=k, value=v) for k, v in wanted.items() if k not in existing)
    except IntegrityError:
        raise InvalidParameter(f"Params for run '{run.run_id}' were logged concurrently; please retry.") from None


def _write_tags(run: Run, pairs: list[tuple[str, str]]) -> None:
    tags = dict(pairs)
    if USER_TAG in tags:
        tags[USER_TAG] = run.user_id
    if RUN_NAME_TAG in tags and tags[RUN_NAME_TAG] != run.name:
        run.name = _run_name(tags[RUN_NAME_TAG])
        run.save(update_fields=["name"])
    RunTag.objects.bulk_create(
        [RunTag(run=run, key=k, value=v) for k, v in tags.items()],
        update_conflicts=True, unique_fields=["run", "key"], update_fields=["value"],
    )


def _metric_rows(run: Run, items) -> list[Metric]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise InvalidParameter("metrics must be a list of metric objects.")
    if len(items) > MAX_METRICS_PER_BATCH:
        raise InvalidParameter(f"A batch may carry at most {MAX_METRICS_PER_BATCH} metrics, got {len(items)}.")
    rows = []
    for item in items:
        if not isinstance(item, dict):
            raise InvalidParameter("Each metric must be an object with key, value, timestamp and step.")
        rows.append(_metric(run, **{k: item.get(k) for k in ("key", "value", "timestamp", "step", "model_id",
                                                              "dataset_name", "dataset_digest")}))
    return rows


def _metric(run: Run, *, key, value, timestamp, step=None, model_id=None, dataset_name=None,
            dataset_digest=None) -> Metric:
    value = metric_value(value)
    return Metric(
        run=run, key=valid_key(key, "metric"), value=None if is_nan(value) else value, is_nan=is_nan(value),
        timestamp=int64(timestamp, "timestamp", required=True), step=int64(step, "step", default=0),
        model_id=valid_value(model_id, "model_id", max_length=64),
        dataset_name=valid_value(dataset_name, "dataset_name", max_length=500),
        dataset_digest=valid_value(dataset_digest, "dataset_digest", max_length=64),
    )


@service("run.log_param")
def run_log_param(*, actor, run_id, key, value) -> None:
    run = _active(run_for_write(actor, run_id))
    _write_params(run, [(valid_key(key, "param"), valid_value(value, "param", max_length=MAX_PARAM_VALUE_LENGTH,
                                                              required=True))])


@service("run.log_metric")
def run_log_metric(*, actor, run_id, key, value, timestamp, step=None, model_id=None, dataset_name=None,
                   dataset_digest=None) -> None:
    run = _active(run_for_write(actor, run_id))
    _metric(run, key=key, value=value, timestamp=timestamp, step=step, model_id=model_id,
            dataset_name=dataset_name, dataset_digest=dataset_digest).save()


@service("run.log_batch")
def run_log_batch(*, actor, run_id, metrics=None, params=None, tags=None) -> None:
    run = _active(run_for_write(actor, run_id))
    param_pairs = key_values(params, "param", value_max=MAX_PARAM_VALUE_LENGTH, limit=MAX_PARAMS_TAGS_PER_BATCH)
    tag_pairs = key_values(tags, "tag", value_max=MAX_TAG_VALUE_LENGTH, limit=MAX_PARAMS_TAGS_PER_BATCH)
    metric_rows = _metric_rows(run, metrics)
    total = len(param_pairs) + len(tag_pairs) + len(metric_rows)
    if total > MAX_ENTITIES_PER_BATCH:
        raise InvalidParameter(f"A batch may carry at most {MAX_ENTITIES_PER_BATCH} metrics, params and tags "
                               f"together, got {total}.")
    if param_pairs:
        _write_params(run, param_pairs)
    if metric_rows:
        Metric.objects.bulk_create(metric_rows)
    if tag_pairs:
        _write_tags(run, tag_pairs)


@service("run.set_tag")
def run_set_tag(*, actor, run_id, key, value) -> None:
    run = _active(run_for_write(actor, run_id))
    _write_tags(run, [(valid_key(key, "tag"), valid_value(value, "tag", max_length=MAX_TAG_VALUE_LENGTH))])


@service("run.delete_tag")
def run_delete_tag(*, actor, run_id, key) -> None:
    run = _active(run_for_write(actor, run_id))
    key = valid_key(key, "tag")
    deleted, _ = RunTag.objects.filter(run=run, key=key).delete()
    if not deleted:
        raise NotFound(f"No tag with name: {key} in run with id {run.run_id}")


def _dataset_for(run: Run, spec) -> Dataset:
    if not isinstance(spec, dict):
        raise InvalidParameter("Each dataset input needs a 'dataset' object.")
    name = valid_value(spec.get("name"), "dataset name", max_length=500, required=True)
    digest = valid_value(spec.get("digest"), "dataset digest", max_length=64, required=True)
    if not name or not digest:
        raise InvalidParameter("A dataset needs a non-empty name and digest.")
    fields = {
        "source_type": valid_value(spec.get("source_type"), "dataset source_type", max_length=64),
        "source": valid_value(spec.get("source"), "dataset source", max_length=65535),
        "schema": valid_value(spec.get("schema"), "dataset schema", max_length=1048575),
        "profile": valid_value(spec.get("profile"), "dataset profile", max_length=16777215),
    }
    # One dataset row per experiment, name and digest, shared by every run that used it.
    dataset = Dataset.objects.filter(experiment=run.experiment, name=name, digest=digest).first()
    if dataset is None:
        try:
            with transaction.atomic():
                dataset = Dataset.objects.create(experiment=run.experiment, name=name, digest=digest, **fields)
        except IntegrityError:
            dataset = Dataset.objects.get(experiment=run.experiment, name=name, digest=digest)
    return dataset


def _input_tags(items) -> list[dict]:
    pairs = key_values(items, "input tag", value_max=500)
    for key, _ in pairs:
        if len(key) > 255:
            raise InvalidParameter("Input tag keys are at most 255 characters.")
    return [{"key": k, "value": v} for k, v in pairs]


@service("run.log_inputs")
def run_log_inputs(*, actor, run_id, datasets=None, models=None) -> None:
    run = _active(run_for_write(actor, run_id))
    if datasets is None:
        datasets = []
    if not isinstance(datasets, list) or len(datasets) > MAX_DATASETS_PER_REQUEST:
        raise InvalidParameter(f"datasets must be a list of at most {MAX_DATASETS_PER_REQUEST} dataset inputs.")
    for item in datasets:
        if not isinstance(item, dict):
            raise InvalidParameter("Each dataset input must be an object with 'dataset' and 'tags'.")
        dataset = _dataset_for(run, item.get("dataset"))
        tags = _input_tags(item.get("tags"))
        RunInput.objects.get_or_create(run=run, dataset=dataset, defaults={"tags": tags})
    if models is None:
        models = []
    if not isinstance(models, list) or len(models) > MAX_DATASETS_PER_REQUEST:
        raise InvalidParameter(f"models must be a list of at most {MAX_DATASETS_PER_REQUEST} model inputs.")
    for item in models:
        model_id = item.get("model_id") if isinstance(item, dict) else None
        RunModelInput.objects.get_or_create(run=run, logged_model=_logged_model_in_reach(actor, model_id))


def _logged_model_in_reach(actor, model_id) -> LoggedModel:
    from registry.tracking_selectors import logged_model_get

    if not isinstance(model_id, str) or not model_id:
        raise InvalidParameter("Each model needs a 'model_id'.")
    return logged_model_get(actor=actor, model_id=model_id)


@service("run.log_outputs")
def run_log_outputs(*, actor, run_id, models=None) -> None:
    run = _active(run_for_write(actor, run_id))
    if not isinstance(models, list) or len(models) > MAX_ENTITIES_PER_BATCH:
        raise InvalidParameter(f"models must be a list of at most {MAX_ENTITIES_PER_BATCH} {{model_id, step}} "
                               "objects.")
    for item in models:
        if not isinstance(item, dict):
            raise InvalidParameter("Each model output must be an object with 'model_id' and 'step'.")
        model = _logged_model_in_reach(actor, item.get("model_id"))
        step = int64(item.get("step"), "step", default=0)
        RunOutput.objects.update_or_create(run=run, logged_model=model, defaults={"step": step})

