"""MLflow tracking API, experiments: /api/2.0/mlflow/experiments/* (and the /ajax-api/ twin)."""
from __future__ import annotations

from registry.api.base import MlflowView, max_results_param, ok, param
from registry.api.mlflow_tracking_json import experiment_json
from registry.errors import InvalidParameter
from registry.services import tracking as services
from registry.tracking_history import dataset_summaries
from registry.tracking_selectors import (
    experiment_get,
    experiment_get_by_name,
    experiment_search,
    experiment_with_tags,
)

SEARCH_MAX_RESULTS_DEFAULT = 1000
SEARCH_MAX_RESULTS_LIMIT = 50000
DATASETS_MAX_EXPERIMENT_IDS = 20


class ExperimentCreateView(MlflowView):
    def post(self, request):
        p = self.params(request)
        experiment = services.experiment_create(
            actor=request.user, name=param(p, "name", required=True),
            artifact_location=param(p, "artifact_location"), tags=param(p, "tags", list),
        )
        return ok({"experiment_id": str(experiment.pk)})


class ExperimentGetView(MlflowView):
    def get(self, request):
        p = self.params(request)
        experiment = experiment_get(actor=request.user, experiment_id=param(p, "experiment_id", required=True))
        return ok({"experiment": experiment_json(experiment_with_tags(experiment))})


class ExperimentGetByNameView(MlflowView):
    def get(self, request):
        p = self.params(request)
        experiment = experiment_get_by_name(actor=request.user, name=param(p, "experiment_name", required=True))
        return ok({"experiment": experiment_json(experiment_with_tags(experiment))})


class ExperimentSearchView(MlflowView):
    def post(self, request):
        p = self.params(request)
        experiments, token = experiment_search(
            actor=request.user,
            view_type=param(p, "view_type"),
            filter_string=param(p, "filter"),
            order_by=param(p, "order_by", list),
            max_results=max_results_param(p, default=SEARCH_MAX_RESULTS_DEFAULT, limit=SEARCH_MAX_RESULTS_LIMIT),
            page_token=param(p, "page_token"),
        )
        body = {"experiments": [experiment_json(e) for e in experiments]}
        if token:
            body["next_page_token"] = token
        return ok(body)

    get = post


class ExperimentUpdateView(MlflowView):
    def post(self, request):
        p = self.params(request)
        services.experiment_rename(actor=request.user, experiment_id=param(p, "experiment_id", required=True),
                                   new_name=param(p, "new_name", required=True))
        return ok()


class ExperimentDeleteView(MlflowView):
    def post(self, request):
        p = self.params(request)
        services.experiment_delete(actor=request.user, experiment_id=param(p, "experiment_id", required=True))
        return ok()


class ExperimentRestoreView(MlflowView):
    def post(self, request):
        p = self.params(request)
        services.experiment_restore(actor=request.user, experiment_id=param(p, "experiment_id", required=True))
        return ok()


class ExperimentSetTagView(MlflowView):
    def post(self, request):
        p = self.params(request)
        services.experiment_set_tag(actor=request.user, experiment_id=param(p, "experiment_id", required=True),
                                    key=param(p, "key", required=True), value=param(p, "value", default=""))
        return ok()


class ExperimentDeleteTagView(MlflowView):
    def post(self, request):
        p = self.params(request)
        services.experiment_delete_tag(actor=request.user, experiment_id=param(p, "experiment_id", required=True),
                                       key=param(p, "key", required=True))
        return ok()


class SearchDatasetsView(MlflowView):
    """experiments/search-datasets (ajax prefix only, as MLflow serves it): what the UI's dataset filter offers."""

    def post(self, request):
        if (request.content_type or "").split(";")[0].strip() != "application/json":
            raise InvalidParameter("Bad Request. Content-Type must be one of ['application/json'].")
        experiment_ids = param(self.params(request), "experiment_ids", list, default=[])
        if not experiment_ids:
            raise InvalidParameter("SearchDatasets request must specify at least one experiment_id.")
        if len(experiment_ids) > DATASETS_MAX_EXPERIMENT_IDS:
            raise InvalidParameter(f"SearchDatasets request cannot specify more than {DATASETS_MAX_EXPERIMENT_IDS} "
                                   f"experiment_ids. Received {len(experiment_ids)} experiment_ids.")
        summaries = dataset_summaries(actor=request.user, experiment_ids=experiment_ids)
        return ok({"dataset_summaries": summaries} if summaries else {})
