"""Long work (registration copy, version copy, migration, artifact clean-up) is a row advanced by a task."""
from django.conf import settings
from django.db import models


class Job(models.Model):
    class Kind(models.TextChoices):
        REGISTER = "register"
        COPY = "copy"
        MIGRATE = "migrate"
        DELETE_ARTIFACTS = "delete_artifacts"
        MOVE_ARTIFACTS = "move_artifacts"  # manage.py artifacts_migrate: the filesystem store onto S3
        IMPORT = "import"  # a version downloaded from a remote registry (registry/remote_import.py)

    class State(models.TextChoices):
        QUEUED = "QUEUED"
        RUNNING = "RUNNING"
        SUCCEEDED = "SUCCEEDED"
        FAILED = "FAILED"
        CANCELLED = "CANCELLED"

    kind = models.CharField(max_length=32, choices=Kind.choices)
    state = models.CharField(max_length=16, choices=State.choices, default=State.QUEUED, db_index=True)
    params = models.JSONField(default=dict, blank=True)
    files_done = models.PositiveIntegerField(default=0)
    files_total = models.PositiveIntegerField(default=0)
    bytes_done = models.BigIntegerField(default=0)
    bytes_total = models.BigIntegerField(default=0)
    message = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    attempts = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    model = models.ForeignKey("registry.RegisteredModel", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs")
    model_version = models.ForeignKey(
        "registry.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    celery_task_id = models.CharField(max_length=64, blank=True, default="")
    lease_owner = models.CharField(max_length=128, blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    @property
    def recorded_target(self) -> str:
        """What the job acted on, as recorded when it started ("prod.ml_team.iris v3"): still there once the
        model or version is deleted (and the foreign keys with it)."""
        target = (self.params or {}).get("target") or {}
        name, version = target.get("name"), target.get("version")
        if not name:
            return ""
        return f"{name} v{version}" if version else str(name)

    @property
    def is_finished(self) -> bool:
        return self.state in {self.State.SUCCEEDED, self.State.FAILED, self.State.CANCELLED}
