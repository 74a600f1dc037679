"""Aliases: mutable named references to one version of a model (at most 10 per model by default). Which alias a
name denotes (the case rule) is decided once, in registry.selectors.alias_lookup / alias_to_set."""
from __future__ import annotations

from django.conf import settings

from registry import audit
from registry.events import registry_events
from registry.errors import InvalidParameter, NotFound
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
    # Deleting an alias that is not set is a no-op, as on an MLflow server.
    found = alias_lookup(model, alias).select_related("version").first()
    number = found.version.version if found else None
    if found is not None:
        found.delete()
        registry_events.model_version_alias_deleted(model, found.alias)
    audit.record(actor=actor, action="registered_model.delete_alias", obj=model,
                 params={"alias": found.alias if found else alias, "version": number})
