"""URLs of the artifacts proxy and server-info, under the API prefix (tokens) and the browser's ajax prefix
(session)."""
from django.urls import re_path

from registry.api.artifacts import ArtifactView, RunArtifactListView, ServerInfoView, UploadArtifactView
from registry.api.base import mlflow_paths

urlpatterns: list = [
    *mlflow_paths("artifacts/list", RunArtifactListView.as_view(), "mlflow-artifacts-list"),
    # MLflow's UI upload: served under /ajax-api/ only, as MLflow does.
    *mlflow_paths("upload-artifact", UploadArtifactView.as_view(), "mlflow-upload-artifact", ajax_only=True),
]
for prefix in ("api", "ajax-api"):
    name_prefix = "" if prefix == "api" else "ajax-"
    urlpatterns += [
        re_path(rf"^{prefix}/2\.0/mlflow-artifacts/artifacts$", ArtifactView.as_view(),
                name=f"{name_prefix}artifacts-list"),
        # [\s\S] rather than `.`: a path holding a newline must reach the view and be refused with 400, not
        # fall through to a bare 404.
        re_path(rf"^{prefix}/2\.0/mlflow-artifacts/artifacts/(?P<artifact_path>[\s\S]*)$", ArtifactView.as_view(),
                name=f"{name_prefix}artifacts"),
        re_path(rf"^{prefix}/3\.0/mlflow/server-info$", ServerInfoView.as_view(), name=f"{name_prefix}server-info"),
    ]
