"""The bulk metric-history reads of the MLflow UI's charts: metrics/get-history-bulk (ajax prefix only, as MLflow
serves it) and metrics/get-history-bulk-interval (both prefixes), with MLflow's limits and messages."""
from __future__ import annotations

from registry.api.base import SEE_DOCS, MlflowView, ok, param
from registry.api.mlflow_tracking_json import metric_with_run_json
from registry.errors import InvalidParameter
from registry.tracking_history import metric_history_bulk, metric_history_sampled

BULK_MAX_RESULTS = 25_000
MAX_RUN_IDS = 100
INTERVAL_MAX_RESULTS = 2_500


class MetricHistoryBulkView(MlflowView):
    def get(self, request):
        run_ids = request.query_params.getlist("run_id")
        if not run_ids:
            raise InvalidParameter("GetMetricHistoryBulk request must specify at least one run_id.")
        if len(run_ids) > MAX_RUN_IDS:
            raise InvalidParameter(f"GetMetricHistoryBulk request cannot specify more than {MAX_RUN_IDS} run_ids. "
                                   f"Received {len(run_ids)} run_ids.")
        key = request.query_params.get("metric_key")
        if key is None:
            raise InvalidParameter("GetMetricHistoryBulk request must specify a metric_key.")
        # MLflow caps a larger max_results silently.
        max_results = min(param(self.params(request), "max_results", int, default=BULK_MAX_RESULTS), BULK_MAX_RESULTS)
        if max_results < 0:
            raise InvalidParameter(f"Invalid value {max_results} for parameter 'max_results' supplied. It must be a "
                                   "positive integer.")
        metrics = metric_history_bulk(actor=request.user, run_ids=run_ids, key=key, max_results=max_results)
        return ok({"metrics": [metric_with_run_json(m) for m in metrics]})


class MetricHistoryBulkIntervalView(MlflowView):
    def get(self, request):
        p = self.params(request)
        run_ids = param(p, "run_ids", list, required=True)
        if not all(isinstance(r, str) for r in run_ids):
            raise InvalidParameter(f"Invalid value for parameter 'run_ids' supplied: run ids are strings.{SEE_DOCS}")
        if len(run_ids) > MAX_RUN_IDS:
            raise InvalidParameter(f"GetMetricHistoryBulkInterval request must specify at most {MAX_RUN_IDS} run_ids. "
                                   f"Received {len(run_ids)} run_ids.{SEE_DOCS}")
        key = param(p, "metric_key", required=True)
        start, end = param(p, "start_step", int), param(p, "end_step", int)
        max_results = param(p, "max_results", int, default=INTERVAL_MAX_RESULTS)
        if not 1 <= max_results <= INTERVAL_MAX_RESULTS:
            raise InvalidParameter(f"max_results must be between 1 and {INTERVAL_MAX_RESULTS}.{SEE_DOCS}")
        if (start is None) != (end is None):
            raise InvalidParameter("If either start step or end step are specified, both must be specified.")
        if start is not None and start > end:
            raise InvalidParameter(f"end_step must be greater than start_step. Found start_step={start} and "
                                   f"end_step={end}.")
        metrics = metric_history_sampled(actor=request.user, run_ids=run_ids, key=key, max_results=max_results,
                                         steps=None if start is None else (start, end))
        return ok({"metrics": [metric_with_run_json(m) for m in metrics]} if metrics else {})
