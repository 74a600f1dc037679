"""Unity Catalog REST setup endpoints (`/api/2.1/unity-catalog/`): create and get catalogs and schemas, in the
open-source Unity Catalog server's shapes (CatalogInfo, SchemaInfo), so scripts can set up an environment.
Writes go through the catalog services; reads through the visibility-aware selectors."""
from __future__ import annotations

import uuid

from rest_framework.response import Response
from rest_framework.views import APIView

from registry.api.base import ms
from registry.errors import InvalidParameter
from registry.models import Catalog, Schema
from registry.selectors import catalog_get, schema_get
from registry.services.catalogs import catalog_create, schema_create

# Catalogs and schemas are keyed by integers here; Unity Catalog clients expect opaque UUID-shaped ids, so
# each is derived from the row's key under a fixed namespace (stable across restarts and processes).
_ID_NAMESPACE = uuid.UUID("6f7c1d2e-3b4a-5c6d-8e9f-a0b1c2d3e4f5")


def _username(user) -> str | None:
    return user.get_username() if user is not None else None


def catalog_info(catalog: Catalog) -> dict:
    return {
        "name": catalog.name,
        "comment": catalog.comment,
        "owner": catalog.owner_name,
        "created_at": ms(catalog.created_at),
        "created_by": _username(catalog.created_by),
        "updated_at": ms(catalog.updated_at),
        "updated_by": _username(catalog.updated_by),
        "id": str(uuid.uuid5(_ID_NAMESPACE, f"catalog:{catalog.pk}")),
    }


def schema_info(schema: Schema) -> dict:
    return {
        "name": schema.name,
        "catalog_name": schema.catalog.name,
        "full_name": schema.full_name,
        "comment": schema.comment,
        "owner": schema.owner_name,
        "created_at": ms(schema.created_at),
        "created_by": _username(schema.created_by),
        "updated_at": ms(schema.updated_at),
        "updated_by": _username(schema.updated_by),
        "schema_id": str(uuid.uuid5(_ID_NAMESPACE, f"schema:{schema.pk}")),
    }


def _body(request) -> dict:
    data = request.data
    if not isinstance(data, dict):
        raise InvalidParameter("Request body must be a JSON object.")
    # Managed storage is configured for the whole deployment and properties are not stored: refuse them
    # rather than accept and silently drop what the caller asked for.
    if data.get("storage_root"):
        raise InvalidParameter("storage_root is not supported: managed storage is configured by the server.")
    if data.get("properties"):
        raise InvalidParameter("properties are not supported on catalogs and schemas.")
    return data


class CatalogCreateView(APIView):
    def post(self, request):
        body = _body(request)
        catalog = catalog_create(actor=request.user, name=body.get("name"), comment=body.get("comment"))
        return Response(catalog_info(catalog))


class CatalogDetailView(APIView):
    def get(self, request, name: str):
        return Response(catalog_info(catalog_get(actor=request.user, name=name)))


class SchemaCreateView(APIView):
    def post(self, request):
        body = _body(request)
        schema = schema_create(actor=request.user, catalog_name=body.get("catalog_name"), name=body.get("name"),
                               comment=body.get("comment"))
        return Response(schema_info(schema))


class SchemaDetailView(APIView):
    def get(self, request, full_name: str):
        return Response(schema_info(schema_get(actor=request.user, full_name=full_name)))
