"""Legacy model serving: management under the API prefix (tokens) and the browser's ajax prefix (session);
invocations under /model/ (tokens only)."""
from django.urls import path, re_path

from registry.api import serving

urlpatterns: list = []
for prefix in ("api", "ajax-api"):
    name_prefix = "" if prefix == "api" else "ajax-"
    base = f"{prefix}/2.0/explorer/serving/models"
    urlpatterns += [
        path(f"{base}/enable", serving.ServingEnableView.as_view(), name=f"{name_prefix}serving-enable"),
        path(f"{base}/disable", serving.ServingDisableView.as_view(), name=f"{name_prefix}serving-disable"),
        path(f"{base}/status", serving.ServingStatusView.as_view(), name=f"{name_prefix}serving-status"),
        path(f"{base}/settings", serving.ServingSettingsView.as_view(), name=f"{name_prefix}serving-settings"),
    ]
urlpatterns += [
    # Model names never contain '/'; a reference is a version number, a stage (workspace models) or an alias.
    path("model/<str:name>/<str:reference>/invocations", serving.InvocationView.as_view(), name="model-invocations"),
    re_path(r"^model/", serving.unknown_model_path),  # JSON, not the HTML 404 page, for clients of /model/
]
