"""The approvals pages (explorer/views/approvals.py): a model's Approvals tab, the Request change dialog, a
request's page, and the protection settings."""
from django.urls import path

from explorer.views import approvals

patterns = [
    path("models/<str:name>/approvals/", approvals.model_approvals, name="model_approvals"),
    path("models/<str:name>/approvals/settings/", approvals.approval_settings, name="model_approval_settings"),
    path("models/<str:name>/approvals/request/", approvals.alias_request_create_dialog,
         name="alias_request_create"),
    path("models/<str:name>/approvals/<int:request_id>/", approvals.alias_request_page, name="alias_request"),
    path("models/<str:name>/approvals/transitions/", approvals.transition_request_action,
         name="transition_request_action"),
    path("requests/", approvals.requests_inbox, name="requests"),
]
