"""Registered models, their versions, tags and aliases.

A model with a schema is a three-level (Unity Catalog) model `catalog.schema.model`, named lower-case. A model
without a schema is a workspace-registry model: a flat name, case preserved, with stages."""
import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from registry.models.base import Securable
from registry.models.governance import Schema


class ModelKind(models.TextChoices):
    """A registered model holds versions of a model (artifacts) or of a prompt (a template in a version tag, as
    MLflow's prompt registry stores them); lists of one kind never show the other."""
    MODEL = "model"
    PROMPT = "prompt"


class RegisteredModel(Securable):
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    schema = models.ForeignKey(Schema, null=True, blank=True, on_delete=models.CASCADE, related_name="models")
    name = models.CharField(max_length=255)
    description = models.TextField(blank=True, default="")
    # Highest version number ever allocated: numbers are never reused after a delete.
    last_version_number = models.PositiveIntegerField(default=0)
    # Fixed at creation (from the `mlflow.prompt.is_prompt` tag): a prompt's versions own no artifacts.
    kind = models.CharField(max_length=8, choices=ModelKind.choices, default=ModelKind.MODEL)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["schema", "name"], name="model_unique_name_in_schema"),
            models.UniqueConstraint(
                fields=["name"], condition=Q(schema__isnull=True), name="workspace_model_unique_name"
            ),
        ]
        indexes = [models.Index(fields=["updated_at"]), models.Index(fields=["created_at"]),
                   models.Index(fields=["kind", "name"], name="model_kind_name")]

    def __str__(self) -> str:
        return self.full_name

    @property
    def is_prompt(self) -> bool:
        return self.kind == ModelKind.PROMPT

    @property
    def is_unity_catalog(self) -> bool:
        return self.schema_id is not None

    @property
    def full_name(self) -> str:
        if self.schema_id is None:
            return self.name
        return f"{self.schema.catalog.name}.{self.schema.name}.{self.name}"

    @property
    def storage_location(self) -> str:
        return f"mlflow-artifacts:/registry/{self.uid.hex}"


class VersionStatus(models.TextChoices):
    PENDING_REGISTRATION = "PENDING_REGISTRATION"
    READY = "READY"
    FAILED_REGISTRATION = "FAILED_REGISTRATION"


class Stage(models.TextChoices):
    NONE = "None"
    STAGING = "Staging"
    PRODUCTION = "Production"
    ARCHIVED = "Archived"


class ModelVersion(models.Model):
    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    source = models.TextField()
    run_id = models.CharField(max_length=64, blank=True, default="")
    run_link = models.TextField(blank=True, default="")
    logged_model_id = models.CharField(max_length=64, blank=True, default="")
    # Where the version's artifacts are served from: its own managed location for three-level models, the
    # registered source's artifact location for workspace models.
    # Indexed: an artifact write into a run asks whether a workspace version was registered from that path.
    storage_location = models.TextField(blank=True, default="", db_index=True)
    status = models.CharField(max_length=32, choices=VersionStatus.choices, default=VersionStatus.READY)
    status_message = models.TextField(blank=True, default="")
    signature = models.JSONField(null=True, blank=True)
    description = models.TextField(blank=True, default="")
    current_stage = models.CharField(max_length=16, choices=Stage.choices, default=Stage.NONE)
    copied_from = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="copies"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "version"], name="version_unique_number")]
        indexes = [models.Index(fields=["run_id"]), models.Index(fields=["updated_at"]),
                   # "the newest version of a model in a stage" (latest versions): one backward index scan
                   models.Index(fields=["model", "current_stage", "version"], name="version_newest_in_stage")]
        ordering = ["model_id", "version"]

    def __str__(self) -> str:
        return f"{self.model.full_name} v{self.version}"

    @property
    def managed_location(self) -> str:
        return f"{self.model.storage_location}/versions/{self.version}"


class RegisteredModelTag(models.Model):
    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="tags")
    key = models.CharField(max_length=255)
    value = models.TextField(blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "key"], name="model_tag_unique_key")]


class ModelVersionTag(models.Model):
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="tags")
    key = models.CharField(max_length=255)
    value = models.TextField(blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["version", "key"], name="version_tag_unique_key")]


class ModelAlias(models.Model):
    model = models.ForeignKey(RegisteredModel, on_delete=models.CASCADE, related_name="aliases")
    alias = models.CharField(max_length=255)
    version = models.ForeignKey(ModelVersion, on_delete=models.CASCADE, related_name="aliases")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        # No two aliases of a model differ only in case (the rule is explained in registry.selectors).
        constraints = [models.UniqueConstraint("model", Lower("alias"), name="alias_unique_in_model_ignoring_case")]
        ordering = ["alias"]
