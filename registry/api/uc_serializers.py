"""JSON of catalogs, schemas, registered models and model versions in the open-source Unity Catalog server's
shapes (CatalogInfo, SchemaInfo, RegisteredModelInfo, ModelVersionInfo) with the fields the Databricks SDK's dataclasses
also read, and the paging every UC list shares."""
from __future__ import annotations

import json
import uuid

from django.db.models import QuerySet

from registry.api.base import ms, param
from registry.errors import InvalidParameter
from registry.models import Catalog, ModelAlias, ModelVersion, RegisteredModel, Schema
from registry.search.pages import keyset_page
from registry.source_visibility import provenance_of

# Catalogs and schemas are keyed by integers here; Unity Catalog clients expect opaque UUID-shaped ids, so
# each is derived from the row's key under a fixed namespace (stable across restarts and processes).
_ID_NAMESPACE = uuid.UUID("6f7c1d2e-3b4a-5c6d-8e9f-a0b1c2d3e4f5")
# One deployment is one metastore (and one workspace): a fixed id, the same in every response.
METASTORE_ID = str(uuid.uuid5(_ID_NAMESPACE, "metastore"))
WORKSPACE_ID = 0
MANAGED_STORAGE_ROOT = "mlflow-artifacts:/registry"
DEFAULT_PAGE = 100
MAX_PAGE = 1000


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


def _audit_fields(obj) -> dict:
    return {
        "owner": obj.owner_name,
        "created_at": ms(obj.created_at),
        "created_by": _username(obj.created_by),
        "updated_at": ms(obj.updated_at),
        "updated_by": _username(obj.updated_by),
    }


def _managed_storage() -> dict:
    # Storage is managed for the whole deployment: every catalog and schema stores its models under one root.
    return {"storage_root": MANAGED_STORAGE_ROOT, "storage_location": MANAGED_STORAGE_ROOT}


def catalog_info(catalog: Catalog) -> dict:
    return {
        "name": catalog.name,
        "full_name": catalog.name,
        "securable_type": "CATALOG",
        "catalog_type": "MANAGED_CATALOG",
        "comment": catalog.comment,
        "properties": dict(catalog.properties),
        **_managed_storage(),
        **_audit_fields(catalog),
        "id": str(uuid.uuid5(_ID_NAMESPACE, f"catalog:{catalog.pk}")),
        "metastore_id": METASTORE_ID,
        "isolation_mode": "OPEN",
        "browse_only": False,
    }


def schema_info(schema: Schema) -> dict:
    return {
        "name": schema.name,
        "catalog_name": schema.catalog.name,
        "full_name": schema.full_name,
        "catalog_type": "MANAGED_CATALOG",
        "comment": schema.comment,
        "properties": dict(schema.properties),
        **_managed_storage(),
        **_audit_fields(schema),
        "schema_id": str(uuid.uuid5(_ID_NAMESPACE, f"schema:{schema.pk}")),
        "metastore_id": METASTORE_ID,
        "browse_only": False,
    }


def alias_info(model: RegisteredModel, *, alias: str, version_num: int, pk: int) -> dict:
    """RegisteredModelAlias: the alias, its version and the model it belongs to."""
    return {"alias_name": alias, "version_num": version_num, "catalog_name": model.schema.catalog.name,
            "schema_name": model.schema.name, "model_name": model.name,
            "id": str(uuid.uuid5(_ID_NAMESPACE, f"alias:{pk}"))}


def alias_list(model: RegisteredModel) -> list[dict]:
    rows = ModelAlias.objects.filter(model=model).order_by("alias").values_list("alias", "version__version", "pk")
    return [alias_info(model, alias=alias, version_num=number, pk=pk) for alias, number, pk in rows]


def model_info(model: RegisteredModel, *, include_aliases: bool = False) -> dict:
    body = {
        "name": model.name,
        "catalog_name": model.schema.catalog.name,
        "schema_name": model.schema.name,
        "full_name": model.full_name,
        "comment": model.description,
        "storage_location": model.storage_location,
        **_audit_fields(model),
        "id": str(model.uid),
        "metastore_id": METASTORE_ID,
        "browse_only": False,
    }
    if include_aliases:
        body["aliases"] = alias_list(model)
    return body


def version_info(mv: ModelVersion) -> dict:
    """`mv` needs its provenance for the reader (`registry.source_visibility.attach_provenance`)."""
    model = mv.model
    shown = provenance_of(mv)
    aliases = sorted(mv.aliases.all(), key=lambda a: a.alias)
    return {
        "model_name": model.name,
        "catalog_name": model.schema.catalog.name,
        "schema_name": model.schema.name,
        "version": mv.version,
        "source": shown.source,
        "run_id": shown.run_id,
        "status": mv.status,
        "status_message": mv.status_message,
        "storage_location": mv.storage_location,
        "comment": mv.description,
        "aliases": [alias_info(model, alias=a.alias, version_num=mv.version, pk=a.pk) for a in aliases],
        "created_at": ms(mv.created_at),
        "created_by": _username(mv.created_by),
        "updated_at": ms(mv.updated_at),
        "updated_by": _username(mv.updated_by),
        "id": str(uuid.uuid5(_ID_NAMESPACE, f"model_version:{mv.pk}")),
        "metastore_id": METASTORE_ID,
        # Versions here depend on nothing registered elsewhere, and one deployment is one workspace.
        "model_version_dependencies": {"dependencies": []},
        "run_workspace_id": WORKSPACE_ID if shown.run_id else None,
    }


def page(request, queryset: QuerySet) -> tuple[list, str | None]:
    """One page of an ordered queryset by `max_results` (0 or absent: the default; capped at MAX_PAGE, as UC
    servers do) and `page_token`; returns the rows and the next token (None on the last page)."""
    params = {k: request.query_params.get(k) for k in ("max_results", "page_token")}
    size = param(params, "max_results", int, default=0)
    if size < 0:
        raise InvalidParameter(f"Invalid value {size} for parameter 'max_results': it must not be negative.")
    return keyset_page(queryset, size=min(size or DEFAULT_PAGE, MAX_PAGE), token=params["page_token"])


def listing(key: str, rows: list, token: str | None) -> dict:
    body = {key: rows}
    if token:
        body["next_page_token"] = token
    return body


def request_text(request) -> str:
    """What the caller asked for, recorded on the audit events of grant and ownership changes."""
    try:
        body = json.dumps(request.data, sort_keys=True, default=str)
    except (TypeError, ValueError):
        body = ""
    return f"{request.method} {request.path} {body}"[:2000]
