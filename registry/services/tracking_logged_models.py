"""MLflow 3 logged models: create (PENDING), finalize (READY / UPLOAD_FAILED), tags, params, delete."""
from __future__ import annotations

import json
import uuid

from django.db import IntegrityError, transaction

from registry import audit
from registry.errors import InvalidParameter, NotFound, PermissionDenied
from registry.models import LoggedModel, LoggedModelParam, LoggedModelTag
from registry.permissions import Action
from registry.services.core import authorize, require_authenticated, service
from registry.services.tracking import (
    MAX_PARAM_VALUE_LENGTH,
    MAX_TAG_VALUE_LENGTH,
    key_values,
    now_ms,
    valid_key,
    valid_value,
)
from registry.services.tracking_runs import generate_run_name
from registry.tracking_selectors import (
    experiment_get,
    experiment_not_found_message,
    logged_model_get,
    logged_model_list_writable,
    run_get,
)

STATUSES = ("LOGGED_MODEL_STATUS_UNSPECIFIED", "LOGGED_MODEL_PENDING", "LOGGED_MODEL_READY",
            "LOGGED_MODEL_UPLOAD_FAILED")
MAX_PARAMS_PER_REQUEST = 100
MAX_TAGS_PER_REQUEST = 100
MODEL_VERSIONS_TAG = "mlflow.modelVersions"  # the registry versions made from a logged model, as MLflow keeps it


def _status(value) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and 0 <= value < len(STATUSES):
        value = STATUSES[value]
    if not isinstance(value, str) or value not in STATUSES[2:]:
        raise InvalidParameter(f"Invalid logged model status {str(value)[:50]!r}: a model is finalized as "
                               "LOGGED_MODEL_READY or LOGGED_MODEL_UPLOAD_FAILED.")
    return value


def _model_for_write(actor, model_id) -> LoggedModel:
    """The logged model, if `actor` may change it: its owner, or who may modify the experiment."""
    model = logged_model_get(actor=actor, model_id=model_id)  # NotFound when not visible
    if not logged_model_list_writable(actor=actor).filter(pk=model.pk).exists():
        raise PermissionDenied(f"Permission denied: only the owner of logged model {model.model_id}, or the owner "
                               "or managers of its experiment, may change it.")
    return model


def _write_params(model: LoggedModel, pairs: list[tuple[str, str]]) -> None:
    existing = dict(LoggedModelParam.objects.filter(logged_model=model, key__in=[k for k, _ in pairs])
                    .values_list("key", "value"))
    new = {}
    for key, value in pairs:
        old = existing.get(key, new.get(key))
        if old is not None and old != value:
            raise InvalidParameter(f"Changing param values is not allowed. Param with key='{key}' was already "
                                   f"logged with value='{old}' for logged model ID='{model.model_id}'.")
        if key not in existing:
            new[key] = value
    try:
        with transaction.atomic():
            LoggedModelParam.objects.bulk_create(LoggedModelParam(logged_model=model, key=k, value=v)
                                                 for k, v in new.items())
    except IntegrityError:
        raise InvalidParameter("Params were logged concurrently; please retry.") from None


def _write_tags(model: LoggedModel, pairs: list[tuple[str, str]]) -> None:
    LoggedModelTag.objects.bulk_create(
        [LoggedModelTag(logged_model=model, key=k, value=v) for k, v in dict(pairs).items()],
        update_conflicts=True, unique_fields=["logged_model", "key"], update_fields=["value"],
    )


def logged_model_record_version(model: LoggedModel, *, name: str, version: int) -> None:
    """Part of registering `version` of `name` from `model` (model_version_create, which authorized it): append
    it to the model's mlflow.modelVersions tag, as MLflow's server does. The tag row is locked so concurrent
    registrations from one model each keep their entry."""
    tag, _ = LoggedModelTag.objects.select_for_update().get_or_create(logged_model=model, key=MODEL_VERSIONS_TAG,
                                                                      defaults={"value": "[]"})
    try:
        entries = json.loads(tag.value)
    except ValueError:
        entries = []
    entries = entries if isinstance(entries, list) else []
    entry = {"name": name, "version": version}
    if entry not in entries:
        tag.value = json.dumps(entries + [entry])
        tag.save(update_fields=["value"])


@service("logged_model.create")
def logged_model_create(*, actor, experiment_id, name=None, source_run_id=None, model_type=None,
                        params=None, tags=None) -> LoggedModel:
    require_authenticated(actor)
    experiment = experiment_get(actor=actor, experiment_id=experiment_id)
    authorize(actor, Action.CREATE_RUN, experiment, not_found_message=experiment_not_found_message(experiment_id))
    if experiment.lifecycle_stage != "active":
        raise InvalidParameter(f"The experiment {experiment.pk} must be in the 'active' state.")
    name = valid_value(name, "model name", max_length=500) or generate_run_name()
    if "/" in name or ":" in name:
        raise InvalidParameter(f"Invalid model name '{name}': it may not contain '/' or ':'.")
    model_type = valid_value(model_type, "model_type", max_length=128)
    source_run = run_get(actor=actor, run_id=source_run_id) if source_run_id not in (None, "") else None
    param_pairs = key_values(params, "param", value_max=MAX_PARAM_VALUE_LENGTH, limit=MAX_PARAMS_PER_REQUEST)
    tag_pairs = key_values(tags, "tag", value_max=MAX_TAG_VALUE_LENGTH, limit=MAX_TAGS_PER_REQUEST)
    model_id = f"m-{uuid.uuid4().hex}"
    now = now_ms()
    model = LoggedModel.objects.create(
        model_id=model_id, experiment=experiment, name=name, source_run=source_run, model_type=model_type, owner=actor,
        artifact_uri=f"mlflow-artifacts:/{experiment.pk}/models/{model_id}/artifacts",
        creation_timestamp_ms=now, last_updated_timestamp_ms=now,
    )
    _write_params(model, param_pairs)
    _write_tags(model, tag_pairs)
    audit.record(actor=actor, action="logged_model.create", obj=model,
                 params={"experiment_id": str(experiment.pk), "name": name,
                         "source_run_id": source_run.run_id if source_run else ""})
    return model


@service("logged_model.finalize")
def logged_model_finalize(*, actor, model_id, status) -> LoggedModel:
    model = _model_for_write(actor, model_id)
    model.status = _status(status)
    model.last_updated_timestamp_ms = now_ms()
    model.save(update_fields=["status", "last_updated_timestamp_ms"])
    audit.record(actor=actor, action="logged_model.finalize", obj=model, params={"status": model.status})
    return model


@service("logged_model.set_tags")
def logged_model_set_tags(*, actor, model_id, tags) -> None:
    model = _model_for_write(actor, model_id)
    pairs = key_values(tags, "tag", value_max=MAX_TAG_VALUE_LENGTH, limit=MAX_TAGS_PER_REQUEST)
    _write_tags(model, pairs)


@service("logged_model.delete_tag")
def logged_model_delete_tag(*, actor, model_id, key) -> None:
    model = _model_for_write(actor, model_id)
    key = valid_key(key, "tag")
    deleted, _ = LoggedModelTag.objects.filter(logged_model=model, key=key).delete()
    if not deleted:
        raise NotFound(f"No tag with key '{key}' found for logged model with ID '{model.model_id}'.")


@service("logged_model.log_params")
def logged_model_log_params(*, actor, model_id, params) -> None:
    model = _model_for_write(actor, model_id)
    _write_params(model, key_values(params, "param", value_max=MAX_PARAM_VALUE_LENGTH, limit=MAX_PARAMS_PER_REQUEST))


@service("logged_model.delete")
def logged_model_delete(*, actor, model_id) -> None:
    model = _model_for_write(actor, model_id)
    model.lifecycle_stage = "deleted"
    model.last_updated_timestamp_ms = now_ms()
    model.save(update_fields=["lifecycle_stage", "last_updated_timestamp_ms"])
    audit.record(actor=actor, action="logged_model.delete", obj=model, params={"model_id": model.model_id})
