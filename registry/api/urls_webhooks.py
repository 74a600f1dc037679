"""URLs of MLflow's webhook API, each under /api/2.0/mlflow/ and /ajax-api/2.0/mlflow/ as MLflow's server routes
them (handlers.get_endpoints over WebhookService)."""
from registry.api import mlflow_webhooks as views
from registry.api.base import mlflow_paths

_ENDPOINTS = [
    ("webhooks", views.Webhooks, "webhooks"),
    ("webhooks/<str:webhook_id>", views.WebhookDetail, "webhook"),
    ("webhooks/<str:webhook_id>/test", views.TestWebhook, "webhook-test"),
]

urlpatterns = [url for suffix, view, name in _ENDPOINTS for url in mlflow_paths(suffix, view.as_view(), name)]
