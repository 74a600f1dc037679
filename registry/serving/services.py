"""Legacy model serving, the desired state: enable, disable, and the settings of a model's pool. Owner or MANAGE
on the model; each call is one audited transaction that writes its serving event, and runs reconciliation after
the commit, so deployments and the status move at once even before a supervisor picks them up."""
from __future__ import annotations

from django.conf import settings
from django.db import transaction

from registry import audit
from registry.errors import InvalidParameter
from registry.models import ServedModel, ServingEvent, ServingState
from registry.names import validate_tag
from registry.permissions import Action
from registry.selectors import model_get, model_not_found_message
from registry.serving.reconcile import reconcile_all
from registry.services.core import authorize, service

MIN_WORKERS, MAX_WORKERS = 1, 8
# A pool below this cannot even import a scikit-learn model; above it is a typing error rather than a plan.
MIN_MEMORY_LIMIT_MB, MAX_MEMORY_LIMIT_MB = 256, 262_144


def _served_for_update(*, actor, name: str) -> ServedModel:
    """The model's serving row, locked (created disabled on first use), once the actor may manage the model."""
    model = model_get(actor=actor, name=name)
    authorize(actor, Action.MODIFY, model, not_found_message=model_not_found_message(name))
    served, _ = ServedModel.objects.get_or_create(model=model)
    # Changes to one model's serving queue up on its row: a generation is bumped once per change.
    served = ServedModel.objects.select_for_update().get(pk=served.pk)
    served.model = model  # already loaded with its schema and catalog (for full_name)
    return served


def _reconcile_after_commit() -> None:
    # robust: a failure here must not turn the committed change into an error; the supervisors reconcile anyway.
    transaction.on_commit(reconcile_all, robust=True)


@service("serving.enable")
def serving_enable(*, actor, name: str) -> ServedModel:
    served = _served_for_update(actor=actor, name=name)
    was_enabled = served.enabled
    if not was_enabled:
        served.enabled = True
        served.enabled_by = actor
        served.state, served.message = ServingState.PENDING, ""
        served.generation += 1  # a fresh set of pools: nothing of an earlier enable is reused
        served.save(update_fields=["enabled", "enabled_by", "state", "message", "generation", "updated_at"])
        ServingEvent.objects.create(served_model=served, kind=ServingEvent.Kind.ENABLED,
                                    message=f"Serving enabled by {actor.get_username()}.")
    audit.record(actor=actor, action="serving.enable", obj=served.model, params={"already_enabled": was_enabled})
    _reconcile_after_commit()
    return served


@service("serving.disable")
def serving_disable(*, actor, name: str) -> ServedModel:
    served = _served_for_update(actor=actor, name=name)
    was_enabled = served.enabled
    if was_enabled:
        served.enabled = False
        served.state, served.message = ServingState.DISABLED, ""
        served.save(update_fields=["enabled", "state", "message", "updated_at"])
        ServingEvent.objects.create(served_model=served, kind=ServingEvent.Kind.DISABLED,
                                    message=f"Serving stopped by {actor.get_username()}.")
    audit.record(actor=actor, action="serving.disable", obj=served.model, params={"was_enabled": was_enabled})
    _reconcile_after_commit()
    return served


def _bounded_int(value, field: str, low: int, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise InvalidParameter(f"{field} must be an integer between {low} and {high}.")
    try:
        number = int(value)
    except ValueError:
        raise InvalidParameter(f"{field} must be an integer between {low} and {high}, got {str(value)[:50]!r}.") from None
    if not low <= number <= high:
        raise InvalidParameter(f"{field} must be between {low} and {high}, got {number}.")
    return number


def validated_serving_tags(tags) -> dict[str, str]:
    """Serving tags within the registry's tag limits (key and value length, count per object)."""
    if not isinstance(tags, dict):
        raise InvalidParameter("tags must be a mapping of key to value.")
    limit = settings.REGISTRY_MAX_TAGS_PER_OBJECT
    if len(tags) > limit:
        raise InvalidParameter(f"Too many tags: at most {limit} tags are allowed per object.")
    return dict(validate_tag(k, v, max_key=settings.REGISTRY_MAX_TAG_KEY_LENGTH,
                             max_value=settings.REGISTRY_MAX_TAG_VALUE_LENGTH) for k, v in tags.items())


@service("serving.update_settings")
def serving_settings_update(*, actor, name: str, workers=None, memory_limit_mb=None, tags=None) -> ServedModel:
    """Change what is given (None leaves a setting as it is). A new number of workers or memory limit replaces
    the pool (a new generation: the old pools drain, then stop); tags replace the tags and touch no pool."""
    changes = {}
    if workers is not None:
        changes["workers"] = _bounded_int(workers, "workers", MIN_WORKERS, MAX_WORKERS)
    if memory_limit_mb is not None:
        changes["memory_limit_mb"] = _bounded_int(memory_limit_mb, "memory_limit_mb", MIN_MEMORY_LIMIT_MB,
                                                  MAX_MEMORY_LIMIT_MB)
    if tags is not None:
        changes["tags"] = validated_serving_tags(tags)
    served = _served_for_update(actor=actor, name=name)
    changed = {field: value for field, value in changes.items() if getattr(served, field) != value}
    if changed:
        for field, value in changed.items():
            setattr(served, field, value)
        fields = [*changed, "updated_at"]
        if {"workers", "memory_limit_mb"} & changed.keys():
            served.generation += 1
            fields.append("generation")
        served.save(update_fields=fields)
        described = ", ".join("tags" if field == "tags" else f"{field}={value}" for field, value in changed.items())
        ServingEvent.objects.create(served_model=served, kind=ServingEvent.Kind.SETTINGS_CHANGED,
                                    message=f"Settings changed by {actor.get_username()}: {described}.")
    audit.record(actor=actor, action="serving.update_settings", obj=served.model,
                 params={**changes, "changed": sorted(changed)})
    if changed:
        _reconcile_after_commit()
    return served
