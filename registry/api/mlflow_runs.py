"""MLflow tracking API, runs: /api/2.0/mlflow/runs/* and metrics/get-history (and the /ajax-api/ twins)."""
from __future__ import annotations

from registry.api.base import MlflowView, max_results_param, ok, param
from registry.api.mlflow_tracking_json import metric_json, run_info_json, run_json
from registry.services import tracking_runs as services
from registry.tracking_selectors import metric_history, run_details, run_get, run_search

SEARCH_MAX_RESULTS_DEFAULT = 1000
SEARCH_MAX_RESULTS_LIMIT = 50000
HISTORY_MAX_RESULTS_LIMIT = 1_000_000


def _run_id(p: dict) -> str:
    # Older clients send run_uuid, newer ones run_id; both are accepted.
    return param(p, "run_id", required=True, aliases=("run_uuid",))


def _full_run(run, actor) -> dict:
    return run_json(run, run_details([run], actor=actor)[run.pk])


class RunCreateView(MlflowView):
    def post(self, request):
        p = self.params(request)
        run = services.run_create(
            actor=request.user, experiment_id=param(p, "experiment_id", required=True),
            start_time=p.get("start_time"), tags=param(p, "tags", list), run_name=param(p, "run_name"),
        )
        return ok({"run": _full_run(run, request.user)})


class RunGetView(MlflowView):
    def get(self, request):
        run = run_get(actor=request.user, run_id=_run_id(self.params(request)))
        return ok({"run": _full_run(run, request.user)})


class RunUpdateView(MlflowView):
    def post(self, request):
        p = self.params(request)
        run = services.run_update(actor=request.user, run_id=_run_id(p), status=p.get("status"),
                                  end_time=p.get("end_time"), run_name=param(p, "run_name"))
        return ok({"run_info": run_info_json(run)})


class RunDeleteView(MlflowView):
    def post(self, request):
        services.run_delete(actor=request.user, run_id=_run_id(self.params(request)))
        return ok()


class RunRestoreView(MlflowView):
    def post(self, request):
        services.run_restore(actor=request.user, run_id=_run_id(self.params(request)))
        return ok()


class RunSearchView(MlflowView):
    def post(self, request):
        p = self.params(request)
        runs, token = run_search(
            actor=request.user,
            experiment_ids=param(p, "experiment_ids", list, default=[]),
            filter_string=param(p, "filter"),
            view_type=param(p, "run_view_type"),
            order_by=param(p, "order_by", list),
            max_results=max_results_param(p, default=SEARCH_MAX_RESULTS_DEFAULT, limit=SEARCH_MAX_RESULTS_LIMIT),
            page_token=param(p, "page_token"),
        )
        details = run_details(runs, actor=request.user)
        body = {"runs": [run_json(run, details[run.pk]) for run in runs]}
        if token:
            body["next_page_token"] = token
        return ok(body)


class LogParamView(MlflowView):
    def post(self, request):
        p = self.params(request)
        services.run_log_param(actor=request.user, run_id=_run_id(p), key=param(p, "key", required=True),
                               value=p.get("value"))
        return ok()


class LogMetricView(MlflowView):
    def post(self, request):
        p = self.params(request)
        services.run_log_metric(
            actor=request.user, run_id=_run_id(p), key=param(p, "key", required=True), value=p.get("value"),
            timestamp=p.get("timestamp"), step=p.get("step"), model_id=p.get("model_id"),
            dataset_name=p.get("dataset_name"), dataset_digest=p.get("dataset_digest"),
        )
        return ok()


class LogBatchView(MlflowView):
    def post(self, request):
        p = self.params(request)
        services.run_log_batch(actor=request.user, run_id=_run_id(p), metrics=param(p, "metrics", list),
                               params=param(p, "params", list), tags=param(p, "tags", list))
        return ok()


class SetTagView(MlflowView):
    def post(self, request):
        p = self.params(request)
        services.run_set_tag(actor=request.user, run_id=_run_id(p), key=param(p, "key", required=True),
                             value=p.get("value"))
        return ok()


class DeleteTagView(MlflowView):
    def post(self, request):
        p = self.params(request)
        services.run_delete_tag(actor=request.user, run_id=_run_id(p), key=param(p, "key", required=True))
        return ok()


class LogInputsView(MlflowView):
    def post(self, request):
        p = self.params(request)
        services.run_log_inputs(actor=request.user, run_id=_run_id(p), datasets=param(p, "datasets", list),
                                models=param(p, "models", list))
        return ok()


class LogOutputsView(MlflowView):
    def post(self, request):
        p = self.params(request)
        services.run_log_outputs(actor=request.user, run_id=_run_id(p), models=param(p, "models", list, default=[]))
        return ok()


class MetricHistoryView(MlflowView):
    def get(self, request):
        p = self.params(request)
        limit = None
        if p.get("max_results") not in (None, "") or p.get("page_token") not in (None, ""):
            # A page token without max_results still pages (and a malformed one is refused, as MLflow does).
            limit = max_results_param(p, default=HISTORY_MAX_RESULTS_LIMIT, limit=HISTORY_MAX_RESULTS_LIMIT)
        metrics, token = metric_history(actor=request.user, run_id=_run_id(p),
                                        key=param(p, "metric_key", required=True), max_results=limit,
                                        page_token=param(p, "page_token"))
        body = {"metrics": [metric_json(m) for m in metrics]}
        if token:
            body["next_page_token"] = token
        return ok(body)
