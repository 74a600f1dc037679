"""Registered models: create, rename, describe, delete."""
from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from registry import audit, permissions
from registry.events import registry_events
from registry.errors import AlreadyExists, InvalidParameter, NotFound
from registry.models import Catalog, ModelVersion, RegisteredModel, RegisteredModelTag, Schema
from registry.models.models import ModelKind
from registry.names import ModelName, parse_model_name
from registry.permissions import Action
from registry.prompts import tags_mark_prompt
from registry.selectors import model_get, model_not_found_message, version_not_found_message
from registry.services.core import NotVisible, authorize, require_authenticated, require_text, service


def _description(value) -> str:
    return require_text(value, "description", max_length=settings.REGISTRY_MAX_DESCRIPTION_LENGTH)


def _schema_for_create(actor, parsed: ModelName) -> Schema:
    """The parent schema, if `actor` may create models in it. Parents it may not see are "not found"."""
    catalog = permissions.restrict(actor, Catalog.objects.filter(name=parsed.catalog)).first()
    if catalog is None:
        raise NotVisible(f"Catalog '{parsed.catalog}' does not exist.") if Catalog.objects.filter(
            name=parsed.catalog).exists() else NotFound(f"Catalog '{parsed.catalog}' does not exist.")
    full_schema = f"{parsed.catalog}.{parsed.schema}"
    schema = Schema.objects.select_related("catalog").filter(catalog=catalog, name=parsed.schema).first()
    if schema is None:
        raise NotFound(f"Schema '{full_schema}' does not exist.")
    authorize(actor, Action.CREATE_MODEL, schema, not_found_message=f"Schema '{full_schema}' does not exist.")
    return schema


@service("registered_model.create")
def registered_model_create(*, actor, name: str, description: str = "", tags: dict[str, str] | None = None) -> RegisteredModel:
    require_authenticated(actor)
    parsed = parse_model_name(name)
    description = _description(description)
    schema = _schema_for_create(actor, parsed) if parsed.is_unity_catalog else None
    # MLflow's client creates a prompt as a registered model tagged mlflow.prompt.is_prompt=true.
    kind = ModelKind.PROMPT if tags_mark_prompt(tags if isinstance(tags, dict) else None) else ModelKind.MODEL
    try:
        with transaction.atomic():
            model = RegisteredModel.objects.create(
                schema=schema, name=parsed.name, description=description, kind=kind,
                owner_user=actor, created_by=actor, updated_by=actor,
            )
    except IntegrityError:
        raise AlreadyExists(f"Registered Model (name={parsed.full_name}) already exists.") from None
    if tags:
        from registry.services.tags import validated_tags

        RegisteredModelTag.objects.bulk_create(
            RegisteredModelTag(model=model, key=k, value=v) for k, v in validated_tags(tags, existing=0).items()
        )
    audit.record(actor=actor, action="registered_model.create", obj=model,
                 params={"name": parsed.full_name, "description": description, "tags": tags or {}, "kind": kind.value})
    registry_events.registered_model_created(model)
    return model


@service("registered_model.rename")
def registered_model_rename(*, actor, name: str, new_name: str) -> RegisteredModel:
    model = model_get(actor=actor, name=name)
    authorize(actor, Action.MODIFY, model, not_found_message=model_not_found_message(name))
    parsed = parse_model_name(new_name)
    if parsed.is_unity_catalog != model.is_unity_catalog:
        raise InvalidParameter("A model cannot move between the workspace registry and Unity Catalog by renaming; "
                               "copy its versions instead.")
    if parsed.is_unity_catalog:
        current = model.schema
        if (parsed.catalog, parsed.schema) != (current.catalog.name, current.name):
            raise InvalidParameter(
                f"Renaming can only change the model's own name within '{current.full_name}'; "
                "copy versions to move a model to another schema."
            )
    old_full_name = model.full_name
    model.name = parsed.name
    model.updated_by = actor
    try:
        with transaction.atomic():
            # Only the columns a rename changes: `model` was read without a lock, and writing it back whole would
            # undo what others did since, such as version numbers allocated meanwhile.
            model.save(update_fields=["name", "updated_by", "updated_at"])
    except IntegrityError:
        raise AlreadyExists(f"Registered Model (name={parsed.full_name}) already exists.") from None
    audit.record(actor=actor, action="registered_model.rename", obj=model,
                 params={"name": old_full_name, "new_name": parsed.full_name})
    return model


@service("registered_model.update")
def registered_model_update(*, actor, name: str, description: str) -> RegisteredModel:
    model = model_get(actor=actor, name=name)
    authorize(actor, Action.MODIFY, model, not_found_message=model_not_found_message(name))
    model.description = _description(description)
    model.updated_by = actor
    model.save(update_fields=["description", "updated_by", "updated_at"])
    audit.record(actor=actor, action="registered_model.update", obj=model, params={"description": model.description})
    return model


@service("registered_model.delete")
def registered_model_delete(*, actor, name: str, force: bool = True) -> None:
    model = model_get(actor=actor, name=name)
    authorize(actor, Action.DELETE, model, not_found_message=model_not_found_message(name))
    # MLflow deletes a model with its versions; Unity Catalog's API asks for `force` to do so.
    # Locked before its versions are counted and collected: a version created meanwhile either committed first
    # (and goes with the model) or waits and then finds no model, instead of failing the delete's commit.
    model_lock(model)
    if not force and model.versions.exists():
        raise InvalidParameter(f"Registered model {model.full_name} has versions: delete them first or use force.")
    audit.record(actor=actor, action="registered_model.delete", obj=model,
                 params={"name": model.full_name, "versions": model.versions.count()})
    schedule_artifact_cleanup(actor=actor, models=[model.uid], target={"name": model.full_name})
    model.delete()


def touch_model(model: RegisteredModel, actor=None) -> None:
    """A change to a version is a change to its model: move the model's last-updated time. The update also
    takes the model's row lock (see model_lock)."""
    RegisteredModel.objects.filter(pk=model.pk).update(updated_at=timezone.now())


def touch_version(mv: ModelVersion) -> None:
    """Move the version's last-updated time; the UPDATE is also its row lock (see version_lock), and a version
    deleted since it was looked up is not found."""
    mv.updated_at = timezone.now()
    if not ModelVersion.objects.filter(pk=mv.pk).update(updated_at=mv.updated_at):
        raise NotFound(version_not_found_message(mv.model.full_name, mv.version))


# Row locks. A service that changes what hangs off a model (versions, aliases, tags) first locks the parent row
# it changes under: the model, then (for a version's tags) the version, always in that order, so concurrent
# services queue up instead of deadlocking, and a read-check-write (is this alias new? is the limit reached?)
# sees everything committed before it. Deletes take the same locks before collecting what goes with the row.

def model_lock(model: RegisteredModel) -> None:
    """Lock the model's row until the transaction ends; a model deleted meanwhile is not found."""
    locked = RegisteredModel.objects.select_for_update(no_key=True).filter(pk=model.pk).values_list("pk", flat=True)
    if not locked:
        raise NotFound(model_not_found_message(model.full_name))


def version_lock(version: ModelVersion) -> None:
    """Lock the version's row until the transaction ends; a version deleted meanwhile is not found."""
    locked = ModelVersion.objects.select_for_update(no_key=True).filter(pk=version.pk).values_list("pk", flat=True)
    if not locked:
        raise NotFound(version_not_found_message(version.model.full_name, version.version))


def schedule_artifact_cleanup(*, actor, models=(), versions=(), target: dict | None = None) -> None:
    """Metadata goes at once; the managed artifacts go in a clean-up job after commit. `target` names what was
    deleted ({"name", "version"?}), for the jobs page."""
    from registry.jobs import start_artifact_cleanup

    locations = [f"registry/{uid.hex if hasattr(uid, 'hex') else uid}" for uid in models if uid]
    locations += [location for location in versions if location]
    if locations:
        start_artifact_cleanup(actor=actor, prefixes=locations, target=target)
