"""MLflow experiments: create, rename, delete, restore, tags; and the validation every tracking service shares
(keys, values, int64 numbers, key/value lists) with MLflow's limits."""
from __future__ import annotations

import math
import re
import time

from django.db import IntegrityError, transaction
from django.db.models import Max

from registry import audit
from registry.errors import AlreadyExists, InvalidParameter, NotFound
from registry.models import Experiment, ExperimentTag
from registry.permissions import Action
from registry.services.core import authorize, require_authenticated, service
from registry.tracking_selectors import INT64_MAX, experiment_get, experiment_not_found_message

MAX_KEY_LENGTH = 250
MAX_PARAM_VALUE_LENGTH = 6000
MAX_TAG_VALUE_LENGTH = 8000
MAX_EXPERIMENT_NAME_LENGTH = 500
MAX_EXPERIMENT_TAG_VALUE_LENGTH = 20000
DEFAULT_EXPERIMENT_ID = 0
_KEY = re.compile(r"^[/\w.\- :]+$")


def now_ms() -> int:
    return int(time.time() * 1000)


def valid_key(key, what: str) -> str:
    """Metric, param and tag names as MLflow allows them: path-like, no `..`, not absolute."""
    if not isinstance(key, str) or key == "":
        raise InvalidParameter(f"Missing value for required parameter '{what} key'." if key in (None, "")
                               else f"Invalid {what} key {str(key)[:100]!r}: expected a string.")
    if len(key) > MAX_KEY_LENGTH:
        raise InvalidParameter(f"{what.capitalize()} key '{key[:100]}…' is longer than {MAX_KEY_LENGTH} characters.")
    if not _KEY.match(key) or key.startswith("/") or ".." in key.split("/"):
        raise InvalidParameter(
            f"Invalid {what} name: '{key}'. Names may only contain alphanumerics, underscores (_), dashes (-), "
            "periods (.), spaces ( ), colons (:) and slashes (/), and may not be absolute or contain '..'.")
    return key


def valid_value(value, what: str, *, max_length: int, required: bool = False) -> str:
    if value is None:
        if required:
            raise InvalidParameter(f"Missing value for required parameter '{what} value'.")
        return ""
    if not isinstance(value, str):
        raise InvalidParameter(f"Invalid {what} value {str(value)[:100]!r}: expected a string.")
    if len(value) > max_length:
        raise InvalidParameter(f"{what.capitalize()} value is {len(value)} characters long; at most {max_length} "
                               "are allowed.")
    return value


def int64(value, what: str, *, default=None, required: bool = False):
    if value is None or value == "":
        if required:
            raise InvalidParameter(f"Missing value for required parameter '{what}'.")
        return default
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        raise InvalidParameter(f"Invalid value {str(value)[:100]!r} for parameter '{what}': expected an integer.") \
            from None
    if not -INT64_MAX - 1 <= number <= INT64_MAX:
        raise InvalidParameter(f"Invalid value for parameter '{what}': {number} is out of the 64-bit range.")
    return number


def metric_value(value) -> float:
    """A float; MLflow sends NaN and the infinities as the strings "NaN", "Infinity", "-Infinity"."""
    if value is None or value == "":
        raise InvalidParameter("Missing value for required parameter 'value'.")
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise InvalidParameter(f"Invalid metric value {str(value)[:100]!r}: expected a number.")
    try:
        return float(value)
    except (ValueError, OverflowError):
        raise InvalidParameter(f"Invalid metric value {str(value)[:100]!r}: expected a number.") from None


def key_values(items, what: str, *, value_max: int, limit: int = 1000) -> list[tuple[str, str]]:
    """[{"key": ..., "value": ...}, ...] as validated (key, value) pairs."""
    if items is None:
        return []
    if not isinstance(items, list):
        raise InvalidParameter(f"{what}s must be a list of {{key, value}} objects.")
    if len(items) > limit:
        raise InvalidParameter(f"A request may carry at most {limit} {what}s, got {len(items)}.")
    out = []
    for item in items:
        if not isinstance(item, dict):
            raise InvalidParameter(f"Each {what} must be an object with 'key' and 'value'.")
        out.append((valid_key(item.get("key"), what),
                    valid_value(item.get("value"), what, max_length=value_max, required=what == "param")))
    return out


def is_nan(value: float) -> bool:
    return isinstance(value, float) and math.isnan(value)


# ---- experiments ------------------------------------------------------------------------------------------

def _experiment_name(name) -> str:
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameter("Invalid experiment name: it must be a non-empty string.")
    if len(name) > MAX_EXPERIMENT_NAME_LENGTH:
        raise InvalidParameter(f"Experiment name is longer than {MAX_EXPERIMENT_NAME_LENGTH} characters.")
    return name


def _already_exists(name: str) -> AlreadyExists:
    return AlreadyExists(f"Experiment(name={name}) already exists.")


@service("experiment.create")
def experiment_create(*, actor, name: str, artifact_location: str | None = None,
                      tags: list | None = None) -> Experiment:
    require_authenticated(actor)
    name = _experiment_name(name)
    if artifact_location:
        raise InvalidParameter("artifact_location cannot be chosen: the explorer stores every experiment's "
                               "artifacts itself, at mlflow-artifacts:/<experiment_id>. Leave it empty.")
    pairs = key_values(tags, "tag", value_max=MAX_EXPERIMENT_TAG_VALUE_LENGTH)
    if Experiment.objects.filter(name=name).exists():
        raise _already_exists(name)
    now = now_ms()
    for _attempt in range(20):
        # ids are max+1 like MLflow's; a concurrent create of the same id loses the insert and takes the next one.
        next_id = (Experiment.objects.aggregate(top=Max("id"))["top"] or 0) + 1
        try:
            with transaction.atomic():
                experiment = Experiment.objects.create(
                    id=next_id, name=name, artifact_location=f"mlflow-artifacts:/{next_id}", owner_user=actor,
                    creation_time=now, last_update_time=now,
                )
            break
        except IntegrityError:
            if Experiment.objects.filter(name=name).exists():
                raise _already_exists(name) from None
    else:  # pragma: no cover - only under extreme contention
        raise InvalidParameter("Could not allocate an experiment id; please retry.")
    ExperimentTag.objects.bulk_create(
        ExperimentTag(experiment=experiment, key=k, value=v) for k, v in dict(pairs).items()
    )
    audit.record(actor=actor, action="experiment.create", obj=experiment, params={"name": name, "tags": dict(pairs)})
    return experiment


def _experiment_for(actor, experiment_id, action: Action) -> Experiment:
    experiment = experiment_get(actor=actor, experiment_id=experiment_id)
    authorize(actor, action, experiment, not_found_message=experiment_not_found_message(experiment_id))
    return experiment


@service("experiment.rename")
def experiment_rename(*, actor, experiment_id, new_name: str) -> Experiment:
    experiment = _experiment_for(actor, experiment_id, Action.DELETE)
    new_name = _experiment_name(new_name)
    if experiment.lifecycle_stage != "active":
        raise InvalidParameter("Cannot rename a non-active experiment.")
    old = experiment.name
    if Experiment.objects.filter(name=new_name).exclude(pk=experiment.pk).exists():
        raise _already_exists(new_name)
    experiment.name, experiment.last_update_time = new_name, now_ms()
    try:
        with transaction.atomic():
            experiment.save(update_fields=["name", "last_update_time"])
    except IntegrityError:
        raise _already_exists(new_name) from None
    audit.record(actor=actor, action="experiment.rename", obj=experiment, params={"name": old, "new_name": new_name})
    return experiment


def _set_stage(actor, experiment_id, stage: str, action_name: str) -> Experiment:
    experiment = _experiment_for(actor, experiment_id, Action.DELETE)
    if experiment.pk == DEFAULT_EXPERIMENT_ID and stage == "deleted":
        raise InvalidParameter("Cannot delete the default experiment '0'. This is an internally reserved experiment.")
    experiment.lifecycle_stage, experiment.last_update_time = stage, now_ms()
    experiment.save(update_fields=["lifecycle_stage", "last_update_time"])
    audit.record(actor=actor, action=action_name, obj=experiment, params={"experiment_id": str(experiment.pk)})
    return experiment


@service("experiment.delete")
def experiment_delete(*, actor, experiment_id) -> Experiment:
    return _set_stage(actor, experiment_id, "deleted", "experiment.delete")


@service("experiment.restore")
def experiment_restore(*, actor, experiment_id) -> Experiment:
    return _set_stage(actor, experiment_id, "active", "experiment.restore")


@service("experiment.set_tag")
def experiment_set_tag(*, actor, experiment_id, key: str, value: str) -> None:
    experiment = _experiment_for(actor, experiment_id, Action.MODIFY)
    key = valid_key(key, "tag")
    value = valid_value(value, "tag", max_length=MAX_EXPERIMENT_TAG_VALUE_LENGTH)
    ExperimentTag.objects.update_or_create(experiment=experiment, key=key, defaults={"value": value})
    Experiment.objects.filter(pk=experiment.pk).update(last_update_time=now_ms())
    audit.record(actor=actor, action="experiment.set_tag", obj=experiment, params={"key": key, "value": value})


@service("experiment.delete_tag")
def experiment_delete_tag(*, actor, experiment_id, key: str) -> None:
    experiment = _experiment_for(actor, experiment_id, Action.MODIFY)
    key = valid_key(key, "tag")
    deleted, _ = ExperimentTag.objects.filter(experiment=experiment, key=key).delete()
    if not deleted:
        raise NotFound(f"No tag with name: {key} in experiment with id {experiment.pk}")
    audit.record(actor=actor, action="experiment.delete_tag", obj=experiment, params={"key": key})
