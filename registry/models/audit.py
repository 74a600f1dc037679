"""The audit trail: every change and every refused attempt, who, what, when, from where and the outcome."""
from django.conf import settings
from django.db import models


class AuditEvent(models.Model):
    class Outcome(models.TextChoices):
        SUCCESS = "success"
        DENIED = "denied"
        FAILED = "failed"

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    actor_name = models.CharField(max_length=150, blank=True, default="")
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=32, blank=True, default="")
    object_id = models.CharField(max_length=64, blank=True, default="")
    object_name = models.CharField(max_length=800, blank=True, default="")
    parameters = models.JSONField(default=dict, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    message = models.TextField(blank=True, default="")
    client_address = models.GenericIPAddressField(null=True, blank=True)
    via = models.CharField(max_length=32, blank=True, default="")  # api, ui, command, worker

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["object_type", "object_id"])]
