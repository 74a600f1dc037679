"""Serving endpoints (Databricks shapes): management under the API prefix (tokens) and the browser's ajax prefix
(session); queries under /serving-endpoints/ (tokens only)."""
from django.urls import path

from registry.api import serving_endpoints as views

urlpatterns: list = []
for prefix in ("api", "ajax-api"):
    name_prefix = "" if prefix == "api" else "ajax-"
    base = f"{prefix}/2.0/serving-endpoints"
    permissions = f"{prefix}/2.0/permissions/serving-endpoints/<str:endpoint_id>"
    urlpatterns += [
        path(base, views.ServingEndpointsView.as_view(), name=f"{name_prefix}serving-endpoints"),
        path(f"{base}/<str:name>", views.ServingEndpointView.as_view(), name=f"{name_prefix}serving-endpoint"),
        path(f"{base}/<str:name>/config", views.ServingEndpointConfigView.as_view(),
             name=f"{name_prefix}serving-endpoint-config"),
        path(permissions, views.ServingEndpointPermissionsView.as_view(),
             name=f"{name_prefix}serving-endpoint-permissions"),
        path(f"{permissions}/permissionLevels", views.ServingEndpointPermissionLevelsView.as_view(),
             name=f"{name_prefix}serving-endpoint-permission-levels"),
    ]
urlpatterns += [
    path("serving-endpoints/<str:name>/invocations", views.EndpointInvocationView.as_view(),
         name="serving-endpoint-invocations"),
]
