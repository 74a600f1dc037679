"""URLs of the approvals API: alias change requests and protected aliases under /api/2.0/explorer/ (and the
browser's /ajax-api/), Databricks' transition requests under /api/2.0/mlflow/transition-requests/."""
from django.urls import path

from registry.api import approvals as views
from registry.api.base import mlflow_paths

_EXPLORER = [
    ("alias-requests", views.AliasRequests, "alias-requests"),
    ("alias-requests/<str:request_id>", views.AliasRequestDetail, "alias-request"),
    ("alias-requests/<str:request_id>/approve", views.ApproveAliasRequest, "alias-request-approve"),
    ("alias-requests/<str:request_id>/reject", views.RejectAliasRequest, "alias-request-reject"),
    ("alias-requests/<str:request_id>/cancel", views.CancelAliasRequest, "alias-request-cancel"),
    ("protected-aliases", views.ProtectedAliases, "protected-aliases"),
    ("approval-policy", views.ApprovalPolicy, "approval-policy"),
]
_TRANSITIONS = [
    ("transition-requests/create", views.CreateTransitionRequest, "transition-requests-create"),
    ("transition-requests/approve", views.ApproveTransitionRequest, "transition-requests-approve"),
    ("transition-requests/reject", views.RejectTransitionRequest, "transition-requests-reject"),
    ("transition-requests/delete", views.DeleteTransitionRequest, "transition-requests-delete"),
    ("transition-requests/list", views.ListTransitionRequests, "transition-requests-list"),
]

urlpatterns: list = []
for prefix in ("api", "ajax-api"):
    name_prefix = "" if prefix == "api" else "ajax-"
    urlpatterns += [path(f"{prefix}/2.0/explorer/{suffix}", view.as_view(), name=f"{name_prefix}{name}")
                    for suffix, view, name in _EXPLORER]
urlpatterns += [url for suffix, view, name in _TRANSITIONS for url in mlflow_paths(suffix, view.as_view(), name)]
