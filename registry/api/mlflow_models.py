"""MLflow REST endpoints for registered models (`/api/2.0/mlflow/registered-models/...`): one thin view per
operation, each calling one service or selector."""
from __future__ import annotations

from registry import search, selectors
from registry.api.answer_cache import cached_answer
from registry.api.base import MlflowView, max_results_param, ok, param
from registry.api.registry_serializers import (
    load_provenance,
    model_version_json,
    order_by_param,
    registered_model_json,
    tags_param,
)
from registry.errors import InvalidParameter
from registry.models import RegisteredModel
from registry.models.models import Stage
from registry.services.aliases import alias_delete, alias_set
from registry.services.models import (
    registered_model_create,
    registered_model_delete,
    registered_model_rename,
    registered_model_update,
)
from registry.services.tags import model_tag_delete, model_tag_set

_STAGES = {s.value.lower(): s.value for s in Stage}


def _name(params: dict, key: str = "name") -> str:
    return param(params, key, str, required=True)


def _model_body(actor, model: RegisteredModel) -> dict:
    search.load_model_details([model], provenance_for=actor)
    load_provenance(actor=actor, models=[model])
    return {"registered_model": registered_model_json(model)}


class CreateRegisteredModel(MlflowView):
    def post(self, request):
        p = self.params(request)
        model = registered_model_create(actor=request.user, name=_name(p), description=param(p, "description", default=""),
                                        tags=tags_param(p))
        return ok(_model_body(request.user, model))


class GetRegisteredModel(MlflowView):
    @cached_answer
    def get(self, request):
        p = self.params(request)
        return ok(_model_body(request.user, selectors.model_get(actor=request.user, name=_name(p))))


class RenameRegisteredModel(MlflowView):
    def post(self, request):
        p = self.params(request)
        model = registered_model_rename(actor=request.user, name=_name(p), new_name=_name(p, "new_name"))
        return ok(_model_body(request.user, model))


class UpdateRegisteredModel(MlflowView):
    def patch(self, request):
        p = self.params(request)
        model = registered_model_update(actor=request.user, name=_name(p), description=param(p, "description", default=""))
        return ok(_model_body(request.user, model))


class DeleteRegisteredModel(MlflowView):
    def delete(self, request):
        p = self.params(request)
        registered_model_delete(actor=request.user, name=_name(p))
        return ok()


class SearchRegisteredModels(MlflowView):
    @cached_answer
    def get(self, request):
        p = self.params(request)
        page = search.search_registered_models(
            actor=request.user,
            filter_string=param(p, "filter", default=None),
            order_by=order_by_param(p),
            max_results=max_results_param(p, default=search.MODELS_MAX_RESULTS_DEFAULT,
                                          limit=search.MODELS_MAX_RESULTS_LIMIT),
            page_token=param(p, "page_token", default=None),
            with_provenance=True,
        )
        load_provenance(actor=request.user, models=page.items)
        body = {"registered_models": [registered_model_json(m) for m in page.items]}
        if page.next_page_token:
            body["next_page_token"] = page.next_page_token
        return ok(body)

    post = get


class GetLatestVersions(MlflowView):
    def post(self, request):
        p = self.params(request)
        name = _name(p)
        stages = param(p, "stages", list, default=[])
        wanted = set()
        for stage in stages:
            if not isinstance(stage, str) or stage.lower() not in _STAGES:
                raise InvalidParameter(f"Invalid Model Version stage: {str(stage)[:50]}. "
                                       f"Value must be one of {', '.join(_STAGES.values())}.")
            wanted.add(_STAGES[stage.lower()])
        model = selectors.model_get(actor=request.user, name=name)
        if model.is_unity_catalog and wanted - {Stage.NONE}:
            raise InvalidParameter(
                f"Model stages are not supported for Unity Catalog models such as {model.full_name}: load a version "
                f"by alias instead, for example models:/{model.full_name}@Champion."
            )
        latest = search.latest_versions_by_model([model], provenance_for=request.user)[model.pk]
        search.load_version_details(latest)
        load_provenance(actor=request.user, versions=latest)
        return ok({"model_versions": [model_version_json(mv) for mv in latest if not wanted or mv.current_stage in wanted]})

    get = post


class SetRegisteredModelTag(MlflowView):
    def post(self, request):
        p = self.params(request)
        model_tag_set(actor=request.user, name=_name(p), key=param(p, "key", required=True),
                      value=param(p, "value", default=""))
        return ok()


class DeleteRegisteredModelTag(MlflowView):
    def delete(self, request):
        p = self.params(request)
        model_tag_delete(actor=request.user, name=_name(p), key=param(p, "key", required=True))
        return ok()


class RegisteredModelAlias(MlflowView):
    """POST sets an alias, DELETE removes it, GET returns the version it points to."""

    def post(self, request):
        p = self.params(request)
        alias_set(actor=request.user, name=_name(p), alias=param(p, "alias", required=True),
                  version=param(p, "version", required=True))
        return ok()

    def delete(self, request):
        p = self.params(request)
        alias_delete(actor=request.user, name=_name(p), alias=param(p, "alias", required=True))
        return ok()

    @cached_answer
    def get(self, request):
        p = self.params(request)
        name, alias = _name(p), param(p, "alias", required=True)
        try:  # an unknown model is 404
            mv = selectors.version_get_by_alias(actor=request.user, name=name, alias=alias, with_provenance=True)
        except selectors.AliasNotFound as exc:
            # An MLflow server answers an unknown alias of a known model with 400 INVALID_PARAMETER_VALUE.
            raise InvalidParameter(exc.message) from None
        search.load_version_details([mv])
        load_provenance(actor=request.user, versions=[mv])
        return ok({"model_version": model_version_json(mv)})
