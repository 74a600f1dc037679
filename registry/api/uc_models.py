"""Unity Catalog registered models, model versions and aliases (`/api/2.1/unity-catalog/models…`).

Only three-level models are reachable here. Creating a version takes a source this registry manages
(`runs:/…`, `models:/…`): instead of UC's "client uploads, then finalizes", the server copies and verifies the
artifacts in a registration job; the version is PENDING_REGISTRATION until then and `…/finalize` reports its
state (READY, or FAILED_REGISTRATION with the reason) without changing it."""
from __future__ import annotations

from rest_framework.response import Response
from rest_framework.views import APIView

from registry.api.answer_cache import cached_answer
from registry.api.base import param
from registry.api.uc_catalogs import body_of, update_owner
from registry.api.uc_serializers import alias_info, listing, model_info, page, version_info
from registry.errors import InvalidParameter
from registry.models import ModelVersion
from registry.models.models import VersionStatus
from registry.names import parse_model_name, validate_uc_part
from registry.selectors import (
    catalog_get,
    model_get,
    model_list_visible,
    schema_get,
    version_get,
    version_get_by_alias,
)
from registry.services.aliases import alias_delete, alias_set
from registry.services.core import all_or_nothing
from registry.services.models import (
    registered_model_create,
    registered_model_delete,
    registered_model_rename,
    registered_model_update,
)
from registry.services.versions import model_version_create, model_version_delete, model_version_update
from registry.source_visibility import attach_provenance


def uc_name(full_name: object) -> str:
    """A three-level model name from the path; workspace-registry names are not part of Unity Catalog."""
    parsed = parse_model_name(full_name)
    if not parsed.is_unity_catalog:
        raise InvalidParameter(f"Invalid registered model name {str(full_name)[:300]!r}: expected "
                               "'<catalog>.<schema>.<model>'.")
    return parsed.full_name


def _parts_name(body: dict, name_field: str) -> str:
    """`catalog_name`, `schema_name` and a model name from a request body, each checked on its own (a part
    holding a dot must not shift the others)."""
    parts = [validate_uc_part(body.get("catalog_name"), "Catalog"), validate_uc_part(body.get("schema_name"), "Schema"),
             validate_uc_part(body.get(name_field), "Model")]
    return ".".join(parts)


def _version(request, mv: ModelVersion) -> Response:
    attach_provenance(actor=request.user, versions=[mv])
    return Response(version_info(mv))


def _comment(body: dict) -> str:
    return param(body, "comment", str, default="")


class ModelListView(APIView):
    def get(self, request):
        catalog_name = request.query_params.get("catalog_name")
        schema_name = request.query_params.get("schema_name")
        # Prompts are their own kind: Unity Catalog lists them apart from registered models.
        models = model_list_visible(actor=request.user, kind="model").filter(schema__isnull=False)
        if schema_name and not catalog_name:
            raise InvalidParameter("'schema_name' needs 'catalog_name'.")
        if catalog_name and schema_name:
            models = models.filter(schema=schema_get(actor=request.user, full_name=f"{catalog_name}.{schema_name}"))
        elif catalog_name:
            models = models.filter(schema__catalog=catalog_get(actor=request.user, name=catalog_name))
        models = models.order_by("schema__catalog__name", "schema__name", "name", "pk")
        rows, token = page(request, models)
        return Response(listing("registered_models", [model_info(m) for m in rows], token))

    def post(self, request):
        body = body_of(request)
        model = registered_model_create(actor=request.user, name=_parts_name(body, "name"),
                                        description=_comment(body))
        return Response(model_info(model))


class ModelDetailView(APIView):
    @cached_answer
    def get(self, request, full_name: str):
        include = param({"v": request.query_params.get("include_aliases")}, "v", bool, default=False)
        return Response(model_info(model_get(actor=request.user, name=uc_name(full_name)), include_aliases=include))

    def patch(self, request, full_name: str):
        name = uc_name(full_name)
        body = body_of(request)
        owner = body.get("owner")
        model = model_get(actor=request.user, name=name)
        with all_or_nothing():  # comment, name and owner change together or not at all
            if body.get("comment") is not None:
                model = registered_model_update(actor=request.user, name=name, description=body.get("comment"))
            new_name = body.get("new_name")
            if new_name is not None:
                # UC sends the new name relative to the schema; a full three-level name is accepted too.
                if not (isinstance(new_name, str) and new_name.count(".") == 2):
                    new_name = f"{model.schema.full_name}.{validate_uc_part(new_name, 'Model')}"
                model = registered_model_rename(actor=request.user, name=name, new_name=new_name)
            if owner is not None:
                model = update_owner(request, model, owner)
        return Response(model_info(model))

    def delete(self, request, full_name: str):
        # As Databricks' API does, deleting a model deletes all its versions (no `force` needed).
        registered_model_delete(actor=request.user, name=uc_name(full_name))
        return Response({})


class VersionCreateView(APIView):
    def post(self, request):
        body = body_of(request)
        mv = model_version_create(actor=request.user, name=_parts_name(body, "model_name"),
                                  source=body.get("source"), run_id=param(body, "run_id", str, default=""),
                                  description=_comment(body))
        return _version(request, mv)


class VersionListView(APIView):
    def get(self, request, full_name: str):
        model = model_get(actor=request.user, name=uc_name(full_name))
        versions = ModelVersion.objects.filter(model=model).select_related(
            "model__schema__catalog", "created_by", "updated_by").prefetch_related("aliases").order_by("version")
        rows, token = page(request, versions)
        attach_provenance(actor=request.user, versions=rows)
        return Response(listing("model_versions", [version_info(mv) for mv in rows], token))


class VersionDetailView(APIView):
    @cached_answer
    def get(self, request, full_name: str, version: str):
        return _version(request, version_get(actor=request.user, name=uc_name(full_name), version=version,
                                             with_provenance=True))

    def patch(self, request, full_name: str, version: str):
        body = body_of(request)
        name = uc_name(full_name)
        mv = version_get(actor=request.user, name=name, version=version)
        if body.get("comment") is not None:
            mv = model_version_update(actor=request.user, name=name, version=version, description=body.get("comment"))
        return _version(request, mv)

    def delete(self, request, full_name: str, version: str):
        model_version_delete(actor=request.user, name=uc_name(full_name), version=version)
        return Response({})


class VersionFinalizeView(APIView):
    """UC's finalize: here the registration job finalizes; this reports where it stands."""

    def patch(self, request, full_name: str, version: str):
        mv = version_get(actor=request.user, name=uc_name(full_name), version=version)
        if mv.status == VersionStatus.FAILED_REGISTRATION:
            raise InvalidParameter(f"Model version {mv} failed registration: {mv.status_message}")
        return _version(request, mv)


class AliasView(APIView):
    @cached_answer
    def get(self, request, full_name: str, alias: str):
        return _version(request, version_get_by_alias(actor=request.user, name=uc_name(full_name), alias=alias,
                                                       with_provenance=True))

    def put(self, request, full_name: str, alias: str):
        body = body_of(request)
        number = param(body, "version_num", int, required=True)
        found = alias_set(actor=request.user, name=uc_name(full_name), alias=alias, version=number)
        return Response(alias_info(found.model, alias=found.alias, version_num=found.version.version, pk=found.pk))

    def delete(self, request, full_name: str, alias: str):
        alias_delete(actor=request.user, name=uc_name(full_name), alias=alias)
        return Response({})
