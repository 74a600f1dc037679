"""MLflow REST endpoints for model versions (`/api/2.0/mlflow/model-versions/...`): one thin view per
operation, each calling one service or selector."""
from __future__ import annotations

from registry import search, selectors
from registry.api.answer_cache import cached_answer
from registry.api.base import MlflowView, max_results_param, ok, param
from registry.api.registry_serializers import load_provenance, model_version_json, order_by_param, tags_param
from registry.errors import InvalidParameter
from registry.models import ModelVersion
from registry.models.models import VersionStatus
from registry.services.tags import version_tag_delete, version_tag_set
from registry.services.versions import (
    model_version_create,
    model_version_delete,
    model_version_transition_stage,
    model_version_update,
)


def _name_version(params: dict) -> tuple[str, str]:
    return param(params, "name", required=True), param(params, "version", required=True)


def _version_body(actor, mv: ModelVersion) -> dict:
    search.load_version_details([mv])
    load_provenance(actor=actor, versions=[mv])
    return {"model_version": model_version_json(mv)}


class CreateModelVersion(MlflowView):
    def post(self, request):
        p = self.params(request)
        mv = model_version_create(
            actor=request.user,
            name=param(p, "name", required=True),
            source=param(p, "source", required=True),
            run_id=param(p, "run_id", default=""),
            description=param(p, "description", default=""),
            tags=tags_param(p),
            run_link=param(p, "run_link", default=""),
            model_id=param(p, "model_id", default=""),
        )
        # The registration job may already have moved a pending status on: answer with the row as it is now (a
        # version created READY stays so).
        if mv.status != VersionStatus.READY:
            mv.refresh_from_db(fields=["status", "status_message", "updated_at"])
        return ok(_version_body(request.user, mv))


class GetModelVersion(MlflowView):
    @cached_answer
    def get(self, request):
        name, version = _name_version(self.params(request))
        return ok(_version_body(request.user, selectors.version_get(actor=request.user, name=name, version=version,
                                                                          with_provenance=True)))


class UpdateModelVersion(MlflowView):
    def patch(self, request):
        p = self.params(request)
        name, version = _name_version(p)
        mv = model_version_update(actor=request.user, name=name, version=version,
                                  description=param(p, "description", default=""))
        return ok(_version_body(request.user, mv))


class DeleteModelVersion(MlflowView):
    def delete(self, request):
        name, version = _name_version(self.params(request))
        model_version_delete(actor=request.user, name=name, version=version)
        return ok()


class SearchModelVersions(MlflowView):
    @cached_answer
    def get(self, request):
        p = self.params(request)
        page = search.search_model_versions(
            actor=request.user,
            filter_string=param(p, "filter", default=None),
            order_by=order_by_param(p),
            max_results=max_results_param(p, default=search.VERSIONS_MAX_RESULTS_DEFAULT,
                                          limit=search.VERSIONS_MAX_RESULTS_LIMIT),
            page_token=param(p, "page_token", default=None),
        )
        load_provenance(actor=request.user, versions=page.items)
        body = {"model_versions": [model_version_json(mv) for mv in page.items]}
        if page.next_page_token:
            body["next_page_token"] = page.next_page_token
        return ok(body)

    post = get


class SetModelVersionTag(MlflowView):
    def post(self, request):
        p = self.params(request)
        name, version = _name_version(p)
        version_tag_set(actor=request.user, name=name, version=version, key=param(p, "key", required=True),
                        value=param(p, "value", default=""))
        return ok()


class DeleteModelVersionTag(MlflowView):
    def delete(self, request):
        p = self.params(request)
        name, version = _name_version(p)
        version_tag_delete(actor=request.user, name=name, version=version, key=param(p, "key", required=True))
        return ok()


class TransitionModelVersionStage(MlflowView):
    def post(self, request):
        p = self.params(request)
        name, version = _name_version(p)
        mv = model_version_transition_stage(
            actor=request.user, name=name, version=version, stage=param(p, "stage", required=True),
            archive_existing_versions=param(p, "archive_existing_versions", bool, default=False),
        )
        return ok(_version_body(request.user, mv))


class GetModelVersionDownloadUri(MlflowView):
    def get(self, request):
        name, version = _name_version(self.params(request))
        mv = selectors.version_get(actor=request.user, name=name, version=version)
        if mv.status != VersionStatus.READY:
            detail = f": {mv.status_message}" if mv.status_message else ""
            raise InvalidParameter(
                f"Model version {mv.model.full_name} version {mv.version} is {mv.status}{detail}. "
                "Its artifacts can be downloaded once it is READY."
            )
        return ok({"artifact_uri": mv.storage_location})
