"""URLs of the tracking API: experiments, runs, metric history and logged models, each under /api/2.0/mlflow/ and
/ajax-api/2.0/mlflow/."""
from registry.api import mlflow_logged_models as lm
from registry.api import mlflow_metrics as metrics
from registry.api import mlflow_runs as runs
from registry.api import mlflow_tracking as exp
from registry.api.base import mlflow_paths

_ROUTES = [
    ("experiments/create", exp.ExperimentCreateView, "mlflow-experiments-create"),
    ("experiments/get", exp.ExperimentGetView, "mlflow-experiments-get"),
    ("experiments/get-by-name", exp.ExperimentGetByNameView, "mlflow-experiments-get-by-name"),
    ("experiments/search", exp.ExperimentSearchView, "mlflow-experiments-search"),
    ("experiments/update", exp.ExperimentUpdateView, "mlflow-experiments-update"),
    ("experiments/delete", exp.ExperimentDeleteView, "mlflow-experiments-delete"),
    ("experiments/restore", exp.ExperimentRestoreView, "mlflow-experiments-restore"),
    ("experiments/set-experiment-tag", exp.ExperimentSetTagView, "mlflow-experiments-set-tag"),
    ("experiments/delete-experiment-tag", exp.ExperimentDeleteTagView, "mlflow-experiments-delete-tag"),
    ("runs/create", runs.RunCreateView, "mlflow-runs-create"),
    ("runs/get", runs.RunGetView, "mlflow-runs-get"),
    ("runs/update", runs.RunUpdateView, "mlflow-runs-update"),
    ("runs/delete", runs.RunDeleteView, "mlflow-runs-delete"),
    ("runs/restore", runs.RunRestoreView, "mlflow-runs-restore"),
    ("runs/search", runs.RunSearchView, "mlflow-runs-search"),
    ("runs/log-parameter", runs.LogParamView, "mlflow-runs-log-parameter"),
    ("runs/log-metric", runs.LogMetricView, "mlflow-runs-log-metric"),
    ("runs/log-batch", runs.LogBatchView, "mlflow-runs-log-batch"),
    ("runs/set-tag", runs.SetTagView, "mlflow-runs-set-tag"),
    ("runs/delete-tag", runs.DeleteTagView, "mlflow-runs-delete-tag"),
    ("runs/log-inputs", runs.LogInputsView, "mlflow-runs-log-inputs"),
    ("runs/outputs", runs.LogOutputsView, "mlflow-runs-outputs"),
    ("metrics/get-history", runs.MetricHistoryView, "mlflow-metrics-get-history"),
    ("metrics/get-history-bulk-interval", metrics.MetricHistoryBulkIntervalView,
     "mlflow-metrics-get-history-bulk-interval"),
    ("logged-models", lm.LoggedModelCreateView, "mlflow-logged-models-create"),
    ("logged-models/search", lm.LoggedModelSearchView, "mlflow-logged-models-search"),
    ("logged-models/<str:model_id>", lm.LoggedModelView, "mlflow-logged-model"),
    ("logged-models/<str:model_id>/tags", lm.LoggedModelTagsView, "mlflow-logged-model-tags"),
    ("logged-models/<str:model_id>/tags/<path:tag_key>", lm.LoggedModelTagView, "mlflow-logged-model-tag"),
    ("logged-models/<str:model_id>/params", lm.LoggedModelParamsView, "mlflow-logged-model-params"),
    ("logged-models/<str:model_id>/artifacts/directories", lm.LoggedModelArtifactDirectoriesView,
     "mlflow-logged-model-artifact-directories"),
]
# Served by MLflow under /ajax-api/ only (its UI's endpoints): the same here, so a client sees the same surface.
_AJAX_ROUTES = [
    ("metrics/get-history-bulk", metrics.MetricHistoryBulkView, "mlflow-metrics-get-history-bulk"),
    ("experiments/search-datasets", exp.SearchDatasetsView, "mlflow-experiments-search-datasets"),
    ("logged-models/<str:model_id>/artifacts/files", lm.LoggedModelArtifactFileView,
     "mlflow-logged-model-artifact-files"),
]

urlpatterns = [
    pattern
    for routes, ajax_only in ((_ROUTES, False), (_AJAX_ROUTES, True))
    for suffix, view, name in routes
    for pattern in mlflow_paths(suffix, view.as_view(), name, ajax_only=ajax_only)
]
