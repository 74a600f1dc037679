"""Follows (a user hears chosen events of a model, or of every model of a schema, by email) and the email outbox:
one row per (event, follower), written in the transaction of the change, as webhook deliveries are."""
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


class Follow(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="follows")
    # Exactly one of the two.
    model = models.ForeignKey("registry.RegisteredModel", null=True, blank=True, on_delete=models.CASCADE,
                              related_name="follows")
    schema = models.ForeignKey("registry.Schema", null=True, blank=True, on_delete=models.CASCADE,
                               related_name="follows")
    events = models.JSONField(default=list)  # event names "entity.action" (registry.events.names.FOLLOWABLE)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(model__isnull=False, schema__isnull=True) | Q(model__isnull=True, schema__isnull=False)),
                name="follow_model_xor_schema"),
            models.UniqueConstraint(fields=["user", "model"], condition=Q(model__isnull=False),
                                    name="follow_one_per_model"),
            models.UniqueConstraint(fields=["user", "schema"], condition=Q(schema__isnull=False),
                                    name="follow_one_per_schema"),
        ]

    def __str__(self) -> str:
        return f"follow {self.pk}"

    @property
    def full_name(self) -> str:
        target = self.model or self.schema
        return f"{self.user.get_username()} follows {target.full_name}"


class NotificationEmail(models.Model):
    class State(models.TextChoices):
        PENDING = "PENDING"
        SENDING = "SENDING"  # a worker holds the lease
        SENT = "SENT"
        FAILED = "FAILED"  # the mail server refused it every time
        SKIPPED = "SKIPPED"  # unfollowed, or the follower may no longer read the model, or has no address

    email_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    follow = models.ForeignKey(Follow, null=True, on_delete=models.SET_NULL, related_name="emails")
    event = models.CharField(max_length=64)
    model = models.ForeignKey("registry.RegisteredModel", null=True, blank=True, on_delete=models.SET_NULL,
                              related_name="+")
    subject = models.CharField(max_length=300)
    body = models.TextField()
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    celery_task_id = models.CharField(max_length=64, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["state", "next_attempt_at"], name="notification_email_due")]
