"""URLs the MLflow client's remote-registry path (`registry_uri="databricks://<profile>"`) needs besides the
registry API: the DBFS upload area, a version's files through signed URLs, and the SDK's host metadata."""
from django.urls import path, re_path

from registry.api import dbfs, remote_registry
from registry.api.base import mlflow_paths

urlpatterns: list = [
    path("api/2.0/dbfs/list", dbfs.DbfsList.as_view(), name="dbfs-list"),
    # [\s\S]: a path holding a newline must reach the view and be refused with 400.
    re_path(r"^dbfs/(?P<dbfs_path>[\s\S]+)$", dbfs.DbfsUpload.as_view(), name="dbfs-upload"),
    *mlflow_paths("model-versions/list-artifacts", remote_registry.ListVersionArtifacts.as_view(), "mv-list-artifacts"),
    *mlflow_paths("model-versions/get-signed-download-uri", remote_registry.GetSignedDownloadUri.as_view(),
                  "mv-get-signed-download-uri"),
    path("api/2.0/mlflow/model-versions/signed-download", remote_registry.SignedDownload.as_view(),
         name="signed-download"),
    path(".well-known/databricks-config", remote_registry.DatabricksConfig.as_view(), name="databricks-config"),
]
