"""Aliases: mutable named references to one version of a model (at most 10 per model by default). Which alias a
name denotes (the case rule) is decided once, in registry.selectors.alias_lookup / alias_to_set."""
from __future__ import annotations

from django.conf import settings

from registry import audit
from registry.approval_selectors import ALIAS_REQUEST_ROUTE, protected_alias_get, protected_alias_names
from registry.events import registry_events
from registry.errors import InvalidParameter, NotFound, PermissionDenied
from registry.models import ModelAlias, ModelVersion
from registry.names import validate_alias, validate_alias_syntax
from registry.permissions import Action
from registry.selectors import (
    alias_lookup,
    alias_to_set,
    model_get,
    model_not_found_message,
    parse_version_number,
    version_not_found_message,
)
from registry.services.core import authorize, service
from registry.services.models import model_lock


@service("registered_model.set_alias")
def alias_set(*, actor, name: str, alias: str, version) -> ModelAlias:
    model = model_get(actor=actor, name=name)
    authorize(actor, Action.MODIFY, model, not_found_message=model_not_found_message(name))
    alias = validate_alias(alias)
    number = parse_version_number(version)
    refuse_if_protected(model, alias)
    return alias_apply_set(actor=actor, model=model, alias=alias, number=number)


def alias_apply_set(*, actor, model, alias: str, number: int) -> ModelAlias:
    """Set `alias` (validated) of `model` to version `number`, audited, with its event. The caller has authorized
    the change: `alias_set`, or the approval of a request (registry.services.approvals)."""
    name = model.full_name
    # Alias changes of one model queue up on its row lock: of two first-time sets of one alias, the second sees
    # the first's alias and moves it, and the count against the limit is exact.
    model_lock(model)
    mv = ModelVersion.objects.filter(model=model, version=number).first()
    if mv is None:
        raise NotFound(version_not_found_message(name, number))
    existing = alias_to_set(model, alias)
    previous = existing.version.version if existing else None
    if existing is None:
        limit = settings.REGISTRY_MAX_ALIASES_PER_MODEL
        if ModelAlias.objects.filter(model=model).count() >= limit:
            raise InvalidParameter(
                f"Model {model.full_name} already has {limit} aliases, the most allowed; "
                "delete or reuse an alias before adding another."
            )
        found = ModelAlias.objects.create(model=model, alias=alias, version=mv)
    else:
        existing.version = mv
        existing.save(update_fields=["version", "updated_at"])
        found = existing
    params = {"alias": found.alias, "version": number, "previous_version": previous}
    if alias != found.alias:
        params["requested_alias"] = alias  # another spelling of an alias of a three-level model
    audit.record(actor=actor, action="registered_model.set_alias", obj=model, params=params)
    # MLflow fires "created" for every set, a move included.
    registry_events.model_version_alias_created(model, found.alias, number)
    return found


@service("registered_model.delete_alias")
def alias_delete(*, actor, name: str, alias: str) -> None:
    model = model_get(actor=actor, name=name)
    authorize(actor, Action.MODIFY, model, not_found_message=model_not_found_message(name))
    alias = validate_alias_syntax(alias)
    refuse_if_protected(model, alias)
    alias_apply_delete(actor=actor, model=model, alias=alias)


def alias_apply_delete(*, actor, model, alias: str) -> None:
    """Delete `alias` of `model`, audited, with its event; authorized by the caller (as alias_apply_set)."""
    # Deleting an alias that is not set is a no-op, as on an MLflow server.
    found = alias_lookup(model, alias).select_related("version").first()
    number = found.version.version if found else None
    if found is not None:
        found.delete()
        registry_events.model_version_alias_deleted(model, found.alias)
    audit.record(actor=actor, action="registered_model.delete_alias", obj=model,
                 params={"alias": found.alias if found else alias, "version": number})


def refuse_if_protected(model, alias: str) -> None:
    """A protected alias moves or goes only through an approved request; the refusal names where to ask."""
    protected = protected_alias_get(model, alias)
    if protected is not None:
        raise PermissionDenied(
            f"Alias '{protected.alias}' of model {model.full_name} is protected: moving or deleting it needs an "
            f"approved alias change request. Open one with {ALIAS_REQUEST_ROUTE} "
            f"(name, alias, version, comment) or with 'Request change' on the model's page."
        )


def refuse_if_version_holds_protected(mv) -> None:
    """Deleting a version deletes the aliases on it: one that is protected moves first, through a request."""
    protected = {a.lower() for a in protected_alias_names(mv.model)}
    held = [a.alias for a in mv.aliases.all() if a.alias.lower() in protected]
    if held:
        raise PermissionDenied(
            f"Version {mv.version} of {mv.model.full_name} carries the protected alias '{held[0]}': deleting it "
            f"would delete the alias. Move the alias first with an approved request ({ALIAS_REQUEST_ROUTE})."
        )
