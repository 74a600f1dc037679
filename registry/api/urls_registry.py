"""URLs of the MLflow model registry API, each under /api/2.0/mlflow/ and /ajax-api/2.0/mlflow/."""
from registry.api import mlflow_models as models
from registry.api import mlflow_versions as versions
from registry.api.base import mlflow_paths

_ENDPOINTS = [
    ("registered-models/create", models.CreateRegisteredModel, "rm-create"),
    ("registered-models/get", models.GetRegisteredModel, "rm-get"),
    ("registered-models/rename", models.RenameRegisteredModel, "rm-rename"),
    ("registered-models/update", models.UpdateRegisteredModel, "rm-update"),
    ("registered-models/delete", models.DeleteRegisteredModel, "rm-delete"),
    ("registered-models/search", models.SearchRegisteredModels, "rm-search"),
    ("registered-models/get-latest-versions", models.GetLatestVersions, "rm-get-latest-versions"),
    ("registered-models/set-tag", models.SetRegisteredModelTag, "rm-set-tag"),
    ("registered-models/delete-tag", models.DeleteRegisteredModelTag, "rm-delete-tag"),
    ("registered-models/alias", models.RegisteredModelAlias, "rm-alias"),
    ("model-versions/create", versions.CreateModelVersion, "mv-create"),
    ("model-versions/get", versions.GetModelVersion, "mv-get"),
    ("model-versions/update", versions.UpdateModelVersion, "mv-update"),
    ("model-versions/delete", versions.DeleteModelVersion, "mv-delete"),
    ("model-versions/search", versions.SearchModelVersions, "mv-search"),
    ("model-versions/set-tag", versions.SetModelVersionTag, "mv-set-tag"),
    ("model-versions/delete-tag", versions.DeleteModelVersionTag, "mv-delete-tag"),
    ("model-versions/transition-stage", versions.TransitionModelVersionStage, "mv-transition-stage"),
    ("model-versions/get-download-uri", versions.GetModelVersionDownloadUri, "mv-get-download-uri"),
]

urlpatterns = [url for suffix, view, name in _ENDPOINTS for url in mlflow_paths(suffix, view.as_view(), name)]
