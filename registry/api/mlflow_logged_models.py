"""MLflow tracking API, logged models (MLflow 3): /api/2.0/mlflow/logged-models[/...] (and the /ajax-api/ twin)."""
from __future__ import annotations

from registry import storage
from registry.api.artifacts import download_response, listing_response, owner_artifact_path
from registry.api.base import MlflowView, max_results_param, ok, param
from registry.api.mlflow_tracking_json import logged_model_json
from registry.errors import BadRequest, InvalidParameter
from registry.services import tracking_logged_models as services
from registry.tracking_selectors import logged_model_details, logged_model_get, logged_model_search

SEARCH_MAX_RESULTS_DEFAULT = 100
SEARCH_MAX_RESULTS_LIMIT = 50000


def _full(model) -> dict:
    return logged_model_json(model, logged_model_details([model])[model.pk])


class LoggedModelCreateView(MlflowView):
    def post(self, request):
        p = self.params(request)
        model = services.logged_model_create(
            actor=request.user, experiment_id=param(p, "experiment_id", required=True), name=param(p, "name"),
            source_run_id=param(p, "source_run_id"), model_type=param(p, "model_type"),
            params=param(p, "params", list), tags=param(p, "tags", list),
        )
        return ok({"model": _full(model)})


class LoggedModelView(MlflowView):
    """GET reads, PATCH finalizes (sets the status), DELETE deletes."""

    def get(self, request, model_id: str):
        allow_deleted = param(self.params(request), "allow_deleted", bool, default=False)
        return ok({"model": _full(logged_model_get(actor=request.user, model_id=model_id,
                                                   allow_deleted=allow_deleted))})

    def patch(self, request, model_id: str):
        p = self.params(request)
        model = services.logged_model_finalize(actor=request.user, model_id=model_id,
                                               status=p.get("status") if p.get("status") is not None else "")
        return ok({"model": _full(model)})

    def delete(self, request, model_id: str):
        services.logged_model_delete(actor=request.user, model_id=model_id)
        return ok()


class LoggedModelTagsView(MlflowView):
    def patch(self, request, model_id: str):
        p = self.params(request)
        services.logged_model_set_tags(actor=request.user, model_id=model_id, tags=param(p, "tags", list, default=[]))
        return ok()


class LoggedModelTagView(MlflowView):
    def delete(self, request, model_id: str, tag_key: str):
        services.logged_model_delete_tag(actor=request.user, model_id=model_id, key=tag_key)
        return ok()


class LoggedModelParamsView(MlflowView):
    def post(self, request, model_id: str):
        p = self.params(request)
        services.logged_model_log_params(actor=request.user, model_id=model_id,
                                         params=param(p, "params", list, default=[]))
        return ok()


class LoggedModelSearchView(MlflowView):
    def post(self, request):
        p = self.params(request)
        models, token = logged_model_search(
            actor=request.user,
            experiment_ids=param(p, "experiment_ids", list, default=[]),
            filter_string=param(p, "filter"),
            order_by=p.get("order_by"),
            max_results=max_results_param(p, default=SEARCH_MAX_RESULTS_DEFAULT, limit=SEARCH_MAX_RESULTS_LIMIT),
            page_token=param(p, "page_token"),
            datasets=param(p, "datasets", list),
        )
        details = logged_model_details(models)
        body = {"models": [logged_model_json(m, details[m.pk]) for m in models]}
        if token:
            body["next_page_token"] = token
        return ok(body)


def _artifact_path(request, model_id: str, relative: str):
    """The readable logged model and the store path of `relative` inside its artifacts (the relative path is
    checked first, as MLflow does, so a bad path is a 400 whether or not the model exists)."""
    relative = storage.clean_relative_path(relative) if relative else ""
    model = logged_model_get(actor=request.user, model_id=model_id)
    return model, owner_artifact_path(request.user, model.artifact_uri, relative)


class LoggedModelArtifactDirectoriesView(MlflowView):
    """GET logged-models/<id>/artifacts/directories?artifact_directory_path=: one level of the model's files,
    paths relative to its artifact root (MlflowClient.list_logged_model_artifacts)."""

    def get(self, request, model_id: str):
        relative = param(self.params(request), "artifact_directory_path", default="")
        model, path = _artifact_path(request, model_id, relative)
        return listing_response(model.artifact_uri, path, relative)


class LoggedModelArtifactFileView(MlflowView):
    """GET logged-models/<id>/artifacts/files?artifact_file_path= (ajax prefix only): one file, downloaded."""

    def get(self, request, model_id: str):
        relative = request.query_params.get("artifact_file_path")
        if not relative:
            raise BadRequest('Request must include the "artifact_file_path" query parameter.')
        _, path = _artifact_path(request, model_id, relative)
        if storage.is_dir(path):
            raise InvalidParameter(f"Artifact path refers to a directory, not a file: '{relative[:200]}'")
        return download_response(path)
