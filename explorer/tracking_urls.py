"""UI routes of the tracking pages (experiments, runs)."""
from django.urls import path

from explorer.views import charts, tracking

patterns: list = [
    path("experiments/", tracking.experiments, name="experiments"),
    path("experiments/<str:experiment_id>/", tracking.experiment, name="experiment"),
    path("runs/<str:run_id>/", tracking.run_overview, name="run"),
    path("runs/<str:run_id>/artifacts/", tracking.run_artifacts, name="run_artifacts"),
    path("runs/<str:run_id>/artifacts/download/", tracking.run_artifact_download, name="run_artifact_download"),
    path("runs/<str:run_id>/lineage/", tracking.run_lineage, name="run_lineage"),
    path("runs/<str:run_id>/register/", tracking.register_model_dialog, name="run_register"),
    path("charts/metric-history/", charts.metric_history, name="metric_history"),
]
