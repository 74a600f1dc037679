"""Reads that apply visibility rules. Every list, search and lookup a principal can reach goes through here,
so the UI and every API agree on what exists for that principal."""
from __future__ import annotations

from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

from registry import permissions
from registry.query_helpers import only_row
from registry.errors import AlreadyExists, InvalidParameter, NotFound
from registry.models import Catalog, ModelAlias, ModelVersion, RegisteredModel, Schema
from registry.names import parse_model_name, parse_schema_name, validate_alias_syntax, validate_uc_part
from registry.permissions import Action
from registry.source_visibility import annotate_provenance, keep_provenance_row


class NotVisible(NotFound):
    """The object exists but the actor may not see it: indistinguishable from NotFound for every adapter (same
    type, same message), but audited as a denied attempt rather than a failed one."""


def _not_found(message: str, *, exists: bool) -> NotFound:
    return NotVisible(message) if exists else NotFound(message)


def model_not_found_message(name: str) -> str:
    return f"Registered Model with name={name} not found"


def version_not_found_message(name: str, version) -> str:
    return f"Model Version (name={name}, version={version}) not found"


def catalog_list_visible(*, actor) -> QuerySet[Catalog]:
    return permissions.restrict(actor, Catalog.objects.all())


def schema_list_visible(*, actor, catalog: Catalog | None = None) -> QuerySet[Schema]:
    qs = Schema.objects.select_related("catalog")
    if catalog is not None:
        qs = qs.filter(catalog=catalog)
    return permissions.restrict(actor, qs)


def model_list_visible(*, actor, schema: Schema | None = None, kind: str | None = None) -> QuerySet[RegisteredModel]:
    """`kind`: only models ("model") or only prompts ("prompt"); None for both (what MLflow's API searches)."""
    qs = RegisteredModel.objects.select_related("schema__catalog", "owner_user", "owner_group", "created_by")
    if schema is not None:
        qs = qs.filter(schema=schema)
    if kind is not None:
        qs = qs.filter(kind=kind)
    return permissions.restrict(actor, qs)


def version_list_visible(*, actor) -> QuerySet[ModelVersion]:
    return permissions.restrict(actor, ModelVersion.objects.select_related("model__schema__catalog"))


def catalog_get(*, actor, name: str) -> Catalog:
    key = validate_uc_part(name, "Catalog")
    catalog, exists = permissions.first_allowed(actor, Catalog.objects.filter(name=key))
    if catalog is None:
        raise _not_found(f"Catalog '{name}' does not exist.", exists=exists)
    return catalog


def schema_get(*, actor, full_name: str) -> Schema:
    catalog_name, schema_name = parse_schema_name(full_name)
    schema, exists = permissions.first_allowed(
        actor, Schema.objects.select_related("catalog").filter(catalog__name=catalog_name, name=schema_name))
    if schema is None:
        raise _not_found(f"Schema '{full_name}' does not exist.", exists=exists)
    return schema


def model_lookup(name: str) -> QuerySet[RegisteredModel]:
    """All models answering to `name` (at most one), before any visibility rule."""
    parsed = parse_model_name(name)
    qs = RegisteredModel.objects.select_related("schema__catalog", "owner_user", "owner_group", "created_by")
    if parsed.is_unity_catalog:
        return qs.filter(schema__catalog__name=parsed.catalog, schema__name=parsed.schema, name=parsed.name)
    return qs.filter(schema__isnull=True, name=parsed.name)


def model_get(*, actor, name: str, action: Action = Action.READ) -> RegisteredModel:
    """The model named `name` if `actor` may at least see it; NotFound otherwise (never "forbidden")."""
    model, exists = permissions.first_allowed(actor, model_lookup(name))
    if model is None:
        raise _not_found(model_not_found_message(name), exists=exists)
    return model


MAX_VERSION_NUMBER = 2**63 - 1


def parse_version_number(version) -> int:
    try:
        number = int(str(version).strip())
    except (TypeError, ValueError):
        raise InvalidParameter(f"Model version must be an integer, got {str(version)[:50]!r}.") from None
    # Any positive int64 is a version number a client may ask for (Databricks' API types it so); one that no
    # version has is simply not found, like any other missing version.
    if number < 1 or number > MAX_VERSION_NUMBER:
        raise InvalidParameter(f"Model version must be a positive 64-bit integer, got {str(number)[:50]}.")
    return number


def version_get(*, actor, name: str, version, with_provenance: bool = False) -> ModelVersion:
    """`with_provenance`: what `actor` may see of the version's sources comes with the row (for an adapter that
    shows them: `attach_provenance` then needs no query of its own)."""
    number = parse_version_number(version)
    model = model_get(actor=actor, name=name)
    # The model is at hand (with its chain): joining it again would cost more to compile than to run.
    qs = ModelVersion.objects.select_related("created_by").filter(model=model, version=number)
    mv = only_row(annotate_provenance(actor, qs) if with_provenance else qs)
    if mv is None:
        raise NotFound(version_not_found_message(name, number))
    mv.model = model
    return keep_provenance_row(actor, mv, mv)


# Aliases and case, the one rule: no two aliases of a model differ only in case (a database constraint holds it).
# A three-level model matches aliases ignoring case, as Unity Catalog does and as its names are matched here:
# `champion` *is* `Champion`. A workspace model matches them exactly, as MLflow's registry does on PostgreSQL and
# SQLite, and refuses to add a spelling that differs from an existing alias only in case.

def alias_lookup(model: RegisteredModel | QuerySet[RegisteredModel], alias: str) -> QuerySet[ModelAlias]:
    """The alias of `model` (or of the models of a queryset, in the same one query) that the name `alias`
    denotes, under the rule above: at most one per model."""
    qs = ModelAlias.objects.filter(**{"model__in" if isinstance(model, QuerySet) else "model": model})
    return qs.alias(alias_key=Lower("alias")).filter(
        Q(model__schema__isnull=False, alias_key=alias.lower()) | Q(model__schema__isnull=True, alias=alias))


def alias_to_set(model: RegisteredModel, alias: str) -> ModelAlias | None:
    """The existing alias that setting `alias` on `model` would move, or None when it would add a new one; an
    alias differing from an existing one only in case is refused (AlreadyExists). The alias service and the
    alias dialog's warning both ask this."""
    # One query for both cases: the constraint leaves at most one alias of the model per lower-cased name, which is
    # the alias itself on a three-level model, and on a workspace model either the alias itself or its case twin.
    twin = only_row(ModelAlias.objects.filter(model=model).alias(alias_key=Lower("alias"))
                    .filter(alias_key=alias.lower()).select_related("version"))
    if twin is None or model.is_unity_catalog or twin.alias == alias:
        return twin
    raise AlreadyExists(
        f"Model {model.full_name} already has the alias '{twin.alias}' (on version {twin.version.version}), "
        f"which differs from '{alias}' only in case; aliases of one model may not differ only in case. "
        f"Use '{twin.alias}' to move it, or choose another name."
    )


class AliasNotFound(NotFound):
    """The model exists (and the actor may see it) but has no such alias: MLflow answers this differently."""


def version_get_by_alias(*, actor, name: str, alias: str, with_provenance: bool = False) -> ModelVersion:
    model = model_get(actor=actor, name=name)
    alias = validate_alias_syntax(alias)
    qs = alias_lookup(model, alias).select_related("version__created_by")
    found = only_row(annotate_provenance(actor, qs, prefix="version__") if with_provenance else qs)
    if found is None:
        raise AliasNotFound(f"Registered model alias {alias} not found.")
    found.version.model = model
    return keep_provenance_row(actor, found, found.version)


def aliases_by_version(model: RegisteredModel) -> dict[int, list[str]]:
    result: dict[int, list[str]] = {}
    for alias, number in ModelAlias.objects.filter(model=model).values_list("alias", "version__version"):
        result.setdefault(number, []).append(alias)
    return result
