"""Catalogs and schemas: created by admins (catalogs) and catalog owners or CREATE SCHEMA holders (schemas)."""
from __future__ import annotations

from django.conf import settings
from django.db import IntegrityError, transaction

from registry import audit, permissions
from registry.errors import AlreadyExists, InvalidParameter, PermissionDenied
from registry.models import Catalog, Schema
from registry.names import validate_uc_part
from registry.permissions import Action
from registry.selectors import catalog_get, schema_get
from registry.services.core import authorize, require_authenticated, require_text, service


def _comment(value) -> str:
    return require_text(value, "comment", max_length=settings.REGISTRY_MAX_DESCRIPTION_LENGTH)


MAX_PROPERTIES = 50
MAX_PROPERTY_KEY, MAX_PROPERTY_VALUE = 255, 4096


def _properties(value) -> dict[str, str]:
    """Unity Catalog's `properties` of a catalog or schema: string keys to string values, within limits."""
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_PROPERTIES:
        raise InvalidParameter(f"'properties' must be an object of at most {MAX_PROPERTIES} string keys and values.")
    for key, item in value.items():
        if not isinstance(key, str) or not 0 < len(key) <= MAX_PROPERTY_KEY:
            raise InvalidParameter(f"Property keys must be strings of 1-{MAX_PROPERTY_KEY} characters, got "
                                   f"{str(key)[:50]!r}.")
        if not isinstance(item, str) or len(item) > MAX_PROPERTY_VALUE:
            raise InvalidParameter(f"The value of property {key[:50]!r} must be a string of at most "
                                   f"{MAX_PROPERTY_VALUE} characters.")
    return dict(value)


def _save_columns(obj, columns: list[str], *, taken: str) -> None:
    """Write only the columns the service changed: `obj` was read without a lock, and writing it back whole
    would undo changes made meanwhile (a new owner, say). A name taken meanwhile is AlreadyExists."""
    try:
        with transaction.atomic():
            obj.save(update_fields=columns)
    except IntegrityError:
        raise AlreadyExists(taken) from None


@service("catalog.create")
def catalog_create(*, actor, name: str, comment: str = "", properties: dict | None = None) -> Catalog:
    require_authenticated(actor)
    if not permissions.is_admin(actor):
        raise PermissionDenied("Permission denied: only metastore admins may create catalogs.")
    key = validate_uc_part(name, "Catalog")
    comment = _comment(comment)
    properties = _properties(properties)
    try:
        with transaction.atomic():
            catalog = Catalog.objects.create(name=key, comment=comment, properties=properties, owner_user=actor,
                                             created_by=actor, updated_by=actor)
    except IntegrityError:
        raise AlreadyExists(f"Catalog '{key}' already exists.") from None
    audit.record(actor=actor, action="catalog.create", obj=catalog,
                 params={"name": key, "comment": comment, "properties": properties})
    return catalog


@service("catalog.update")
def catalog_update(*, actor, name: str, comment: str | None = None, new_name: str | None = None,
                   properties: dict | None = None) -> Catalog:
    """`properties`, when given, replace the catalog's properties."""
    catalog = catalog_get(actor=actor, name=name)
    authorize(actor, Action.MODIFY, catalog, not_found_message=f"Catalog '{name}' does not exist.")
    changed = ["updated_by", "updated_at"]
    if comment is not None:
        catalog.comment = _comment(comment)
        changed.append("comment")
    if properties is not None:
        catalog.properties = _properties(properties)
        changed.append("properties")
    if new_name is not None:
        catalog.name = validate_uc_part(new_name, "Catalog")
        changed.append("name")
        if Catalog.objects.filter(name=catalog.name).exclude(pk=catalog.pk).exists():
            raise AlreadyExists(f"Catalog '{catalog.name}' already exists.")
    catalog.updated_by = actor
    _save_columns(catalog, changed, taken=f"Catalog '{catalog.name}' already exists.")
    audit.record(actor=actor, action="catalog.update", obj=catalog,
                 params={"comment": comment, "new_name": new_name, "properties": properties})
    return catalog


@service("catalog.delete")
def catalog_delete(*, actor, name: str, force: bool = False) -> None:
    catalog = catalog_get(actor=actor, name=name)
    authorize(actor, Action.DELETE, catalog, not_found_message=f"Catalog '{name}' does not exist.")
    if not force and catalog.schemas.exists():
        raise InvalidParameter(f"Catalog '{catalog.name}' is not empty: delete its schemas first or use force.")
    audit.record(actor=actor, action="catalog.delete", obj=catalog, params={"force": force})
    from registry.services.models import schedule_artifact_cleanup

    schedule_artifact_cleanup(actor=actor, models=list(catalog.schemas.values_list("models__uid", flat=True)),
                              target={"name": catalog.name})
    catalog.delete()


@service("schema.create")
def schema_create(*, actor, catalog_name: str, name: str, comment: str = "", properties: dict | None = None) -> Schema:
    require_authenticated(actor)
    key = validate_uc_part(name, "Schema")
    comment = _comment(comment)
    properties = _properties(properties)
    catalog = catalog_get(actor=actor, name=catalog_name)
    authorize(actor, Action.CREATE_SCHEMA, catalog, not_found_message=f"Catalog '{catalog_name}' does not exist.")
    try:
        with transaction.atomic():
            schema = Schema.objects.create(
                catalog=catalog, name=key, comment=comment, properties=properties, owner_user=actor, created_by=actor,
                updated_by=actor,
            )
    except IntegrityError:
        raise AlreadyExists(f"Schema '{catalog.name}.{key}' already exists.") from None
    audit.record(actor=actor, action="schema.create", obj=schema,
                 params={"name": schema.full_name, "comment": comment, "properties": properties})
    return schema


@service("schema.update")
def schema_update(*, actor, full_name: str, comment: str | None = None, new_name: str | None = None,
                  properties: dict | None = None) -> Schema:
    """`properties`, when given, replace the schema's properties."""
    schema = schema_get(actor=actor, full_name=full_name)
    authorize(actor, Action.MODIFY, schema, not_found_message=f"Schema '{full_name}' does not exist.")
    changed = ["updated_by", "updated_at"]
    if comment is not None:
        schema.comment = _comment(comment)
        changed.append("comment")
    if properties is not None:
        schema.properties = _properties(properties)
        changed.append("properties")
    if new_name is not None:
        schema.name = validate_uc_part(new_name, "Schema")
        changed.append("name")
        if Schema.objects.filter(catalog=schema.catalog, name=schema.name).exclude(pk=schema.pk).exists():
            raise AlreadyExists(f"Schema '{schema.full_name}' already exists.")
    schema.updated_by = actor
    _save_columns(schema, changed, taken=f"Schema '{schema.full_name}' already exists.")
    audit.record(actor=actor, action="schema.update", obj=schema,
                 params={"comment": comment, "new_name": new_name, "properties": properties})
    return schema


@service("schema.delete")
def schema_delete(*, actor, full_name: str, force: bool = False) -> None:
    schema = schema_get(actor=actor, full_name=full_name)
    authorize(actor, Action.DELETE, schema, not_found_message=f"Schema '{full_name}' does not exist.")
    if not force and schema.models.exists():
        raise InvalidParameter(f"Schema '{schema.full_name}' is not empty: delete its models first or use force.")
    audit.record(actor=actor, action="schema.delete", obj=schema, params={"force": force})
    from registry.services.models import schedule_artifact_cleanup

    schedule_artifact_cleanup(actor=actor, models=list(schema.models.values_list("uid", flat=True)),
                              target={"name": schema.full_name})
    schema.delete()
