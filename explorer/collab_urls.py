"""URLs of comments, follows and the webhook pages (explorer/views/comments.py, follows.py, webhooks.py)."""
from django.urls import path

from explorer.views import comments, follows, webhooks

patterns = [
    path("models/<str:name>/comments/", comments.model_comment, name="model_comment"),
    path("models/<str:name>/versions/<int:version>/comments/", comments.version_comment, name="version_comment"),
    path("comments/<int:comment_id>/edit/", comments.comment_edit_dialog, name="comment_edit"),
    path("comments/<int:comment_id>/delete/", comments.comment_delete_dialog, name="comment_delete"),
    path("follow/<str:kind>/<str:name>/", follows.follow_dialog, name="follow"),
    path("models/<str:name>/webhooks/new/", webhooks.model_webhook_create, name="model_webhook_create"),
    path("webhooks/", webhooks.webhooks_admin, name="webhooks_admin"),
    path("webhooks/new/", webhooks.webhook_create_dialog, name="webhook_create"),
    path("webhooks/<str:webhook_id>/edit/", webhooks.webhook_edit_dialog, name="webhook_edit"),
    path("webhooks/<str:webhook_id>/delete/", webhooks.webhook_delete_dialog, name="webhook_delete"),
    path("webhooks/<str:webhook_id>/status/", webhooks.webhook_status, name="webhook_status"),
    path("webhooks/<str:webhook_id>/test/", webhooks.webhook_test_view, name="webhook_test"),
    path("deliveries/<str:delivery_id>/redeliver/", webhooks.webhook_redeliver_view, name="webhook_redeliver"),
]
