"""Webhooks (MLflow's registry webhooks, optionally scoped to one model) and their transactional outbox: one
delivery row per (event, webhook), written in the transaction of the change, and every attempt to send it."""
import uuid

from django.conf import settings
from django.db import models


class Webhook(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "ACTIVE"
        DISABLED = "DISABLED"

    webhook_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=63)
    description = models.TextField(blank=True, default="")
    url = models.CharField(max_length=2000)
    # Event names "entity.action": MLflow's (registered_model.created ...) and ours (model_version.ready ...).
    events = models.JSONField(default=list)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    # Encrypted (registry.events.secrets): it must sign deliveries, so it cannot be hashed, and no answer shows it.
    secret_encrypted = models.TextField(blank=True, default="")
    # None: registry-wide (metastore admins only); otherwise the events of this one model.
    model = models.ForeignKey("registry.RegisteredModel", null=True, blank=True, on_delete=models.CASCADE,
                              related_name="webhooks")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"webhook {self.name} ({self.webhook_id})"

    @property
    def full_name(self) -> str:
        return f"{self.name} ({self.webhook_id})"


class WebhookDelivery(models.Model):
    class State(models.TextChoices):
        PENDING = "PENDING"  # waiting for its (next) attempt
        RUNNING = "RUNNING"  # a worker holds the lease and is sending it
        DELIVERED = "DELIVERED"
        FAILED = "FAILED"  # gave up: a 4xx other than 429, or the retry window ended
        SKIPPED = "SKIPPED"  # the webhook was disabled or deleted, or its owner may no longer read the model

    delivery_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    webhook = models.ForeignKey(Webhook, null=True, on_delete=models.SET_NULL, related_name="deliveries")
    event = models.CharField(max_length=64)
    # The exact JSON text sent (and signed): every attempt sends the same bytes.
    body = models.TextField()
    model = models.ForeignKey("registry.RegisteredModel", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    is_test = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    give_up_at = models.DateTimeField()
    celery_task_id = models.CharField(max_length=64, blank=True, default="")
    lease_owner = models.CharField(max_length=128, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="webhook_delivery_due")]


class WebhookAttempt(models.Model):
    delivery = models.ForeignKey(WebhookDelivery, on_delete=models.CASCADE, related_name="attempt_log")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    latency_ms = models.PositiveIntegerField(default=0)
    status_code = models.PositiveIntegerField(null=True, blank=True)
    response_excerpt = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    worker = models.CharField(max_length=128, blank=True, default="")

    class Meta:
        ordering = ["delivery_id", "number", "id"]
