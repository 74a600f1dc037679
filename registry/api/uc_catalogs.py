"""Unity Catalog catalogs and schemas (`/api/2.1/unity-catalog/catalogs`, `/schemas`): create, get, list,
update (comment, new name, properties, owner) and delete (with `force`), through the catalog and grant services and the
visibility-aware selectors."""
from __future__ import annotations

from rest_framework.response import Response
from rest_framework.views import APIView

from registry.api.base import param
from registry.api.uc_serializers import catalog_info, listing, page, request_text, schema_info
from registry.errors import InvalidParameter
from registry.selectors import catalog_get, catalog_list_visible, schema_get, schema_list_visible
from registry.services.catalogs import (
    catalog_create,
    catalog_delete,
    catalog_update,
    schema_create,
    schema_delete,
    schema_update,
)
from registry.services.core import all_or_nothing
from registry.services.grants import owner_set, principal_resolve


def body_of(request, *, allowed: set[str] | None = None) -> dict:
    data = request.data
    if data is None or data == "":
        data = {}
    if not isinstance(data, dict):
        raise InvalidParameter("Request body must be a JSON object.")
    # Managed storage is configured for the whole deployment: refuse a storage root rather than accept and
    # silently drop what the caller asked for.
    if data.get("storage_root"):
        raise InvalidParameter("storage_root is not supported: managed storage is configured by the server.")
    return data


def force_param(request) -> bool:
    return param({"force": request.query_params.get("force")}, "force", bool, default=False)


def update_owner(request, obj, owner):
    """Hand `obj` to `owner` (a user or group name) through `owner_set`, recording the request."""
    return owner_set(actor=request.user, securable=obj, principal=principal_resolve(owner),
                     statement=request_text(request))


class CatalogListView(APIView):
    def get(self, request):
        rows, token = page(request, catalog_list_visible(actor=request.user).order_by("name", "pk"))
        return Response(listing("catalogs", [catalog_info(c) for c in rows], token))

    def post(self, request):
        body = body_of(request)
        catalog = catalog_create(actor=request.user, name=body.get("name"), comment=body.get("comment"),
                                 properties=body.get("properties"))
        return Response(catalog_info(catalog))


class CatalogDetailView(APIView):
    def get(self, request, name: str):
        return Response(catalog_info(catalog_get(actor=request.user, name=name)))

    def patch(self, request, name: str):
        catalog = _patch(request, catalog_get(actor=request.user, name=name),
                         lambda **changes: catalog_update(actor=request.user, name=name, **changes))
        return Response(catalog_info(catalog))

    def delete(self, request, name: str):
        catalog_delete(actor=request.user, name=name, force=force_param(request))
        return Response({})


class SchemaListView(APIView):
    def get(self, request):
        catalog_name = request.query_params.get("catalog_name")
        if not catalog_name:
            raise InvalidParameter("Missing value for required parameter 'catalog_name'.")
        catalog = catalog_get(actor=request.user, name=catalog_name)
        schemas = schema_list_visible(actor=request.user, catalog=catalog).order_by("name", "pk")
        rows, token = page(request, schemas)
        return Response(listing("schemas", [schema_info(s) for s in rows], token))

    def post(self, request):
        body = body_of(request)
        schema = schema_create(actor=request.user, catalog_name=body.get("catalog_name"), name=body.get("name"),
                               comment=body.get("comment"), properties=body.get("properties"))
        return Response(schema_info(schema))


class SchemaDetailView(APIView):
    def get(self, request, full_name: str):
        return Response(schema_info(schema_get(actor=request.user, full_name=full_name)))

    def patch(self, request, full_name: str):
        schema = _patch(request, schema_get(actor=request.user, full_name=full_name),
                        lambda **changes: schema_update(actor=request.user, full_name=full_name, **changes))
        return Response(schema_info(schema))

    def delete(self, request, full_name: str):
        schema_delete(actor=request.user, full_name=full_name, force=force_param(request))
        return Response({})


def _patch(request, securable, update):
    """UC's PATCH of a catalog or schema: `comment`/`new_name`/`properties` through `update`, then `owner`, all
    or nothing."""
    body = body_of(request)
    owner = body.get("owner")
    changes = {field: body.get(field) for field in ("comment", "new_name", "properties")}
    with all_or_nothing():
        if any(value is not None for value in changes.values()):
            securable = update(**changes)
        if owner is not None:
            securable = update_owner(request, securable, owner)
    return securable
