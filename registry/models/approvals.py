"""Approvals before a deployment changes: protected aliases (moving or deleting one needs an approved request),
the alias-change requests themselves, and the workspace registry's stage transition requests."""
from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from registry.models.models import ModelVersion, RegisteredModel, Stage


class RequestState(models.TextChoices):
    PENDING = "PENDING"
    APPROVED = "APPROVED"
    REJECTED = "REJECTED"
    CANCELLED = "CANCELLED"


class ProtectedAlias(models.Model):
    """An alias of a model that only an approved AliasChangeRequest may move or delete. Matched ignoring case on
    every model (protecting 'Champion' of a workspace model also covers 'champion': over-protecting is safe)."""

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="protected_aliases")
    alias = models.CharField(max_length=255)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint("model", Lower("alias"), name="protected_alias_unique_ignoring_case")]
        ordering = ["alias"]


class ApprovalPolicy(models.Model):
    """A model's approval switches beyond its protected aliases: for a workspace-registry model, whether stage
    transitions need an approved transition request (Databricks' 'transitions need approval')."""

    model = models.OneToOneField(RegisteredModel, on_delete=models.CASCADE, related_name="approval_policy")
    transitions_need_approval = models.BooleanField(default=False)
    updated_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    updated_at = models.DateTimeField(auto_now=True)


class _Request(models.Model):
    state = models.CharField(max_length=16, choices=RequestState.choices, default=RequestState.PENDING)
    comment = models.TextField(blank=True, default="")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL,
                                     related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_comment = models.TextField(blank=True, default="")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    @property
    def is_pending(self) -> bool:
        return self.state == RequestState.PENDING


class AliasChangeRequest(_Request):
    """"Move Champion to version 4" (MOVE) or "delete Champion" (DELETE). `from_version` is the version the alias
    was on when the request was opened (None: not set then); approval applies the change only if that is still
    so (see registry.services.approvals)."""

    class Action(models.TextChoices):
        MOVE = "MOVE"
        DELETE = "DELETE"

    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="alias_requests")
    alias = models.CharField(max_length=255)
    action = models.CharField(max_length=8, choices=Action.choices, default=Action.MOVE)
    version = models.PositiveIntegerField(null=True, blank=True)  # the target of a MOVE
    from_version = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["model", "state"], name="alias_request_model_state")]


class StageTransitionRequest(_Request):
    """A request to move a workspace-registry version to `to_stage` (Databricks' transition-requests)."""

    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="transition_requests")
    to_stage = models.CharField(max_length=16, choices=Stage.choices)
    from_stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.NONE)
    archive_existing_versions = models.BooleanField(default=False)  # as approved

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            # Databricks deletes a request by (name, version, stage, creator): one open request of each.
            models.UniqueConstraint(fields=["version", "to_stage", "requested_by"], condition=Q(state="PENDING"),
                                    name="transition_request_one_open_per_creator"),
        ]
