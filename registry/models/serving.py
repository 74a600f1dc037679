"""Model serving: what is served (legacy per-model serving, serving endpoints) and the deployments the serving
supervisors run for them.

The web tier writes the *desired* state (a served model is enabled with its settings; an endpoint has a config);
`registry.serving` derives one `ServingDeployment` per thing that must run (a READY, non-archived version of an
enabled model; a served entity of an endpoint). Supervisors — on this machine or others — claim deployments by
a lease, run a pool of model processes for each, and write back the state and the address the web tier forwards
requests to. Nothing here holds credentials: model processes never see the database."""
from django.conf import settings
from django.db import models


class ServingState(models.TextChoices):
    PENDING = "PENDING"
    READY = "READY"
    FAILED = "FAILED"
    DISABLED = "DISABLED"


class ServedModel(models.Model):
    """Legacy model serving of one registered model: while enabled, every non-archived READY version is deployed.
    Settings apply to the model's pool; changing them bumps `generation` (the pool is replaced: old drains)."""

    model = models.OneToOneField("registry.RegisteredModel", on_delete=models.CASCADE, related_name="serving")
    enabled = models.BooleanField(default=False)
    state = models.CharField(max_length=16, choices=ServingState.choices, default=ServingState.DISABLED)
    message = models.TextField(blank=True, default="")
    workers = models.PositiveSmallIntegerField(default=1)  # model processes per deployed version
    memory_limit_mb = models.PositiveIntegerField(default=2048)  # for the whole pool of this model
    tags = models.JSONField(default=dict, blank=True)
    generation = models.PositiveIntegerField(default=1)
    enabled_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


class ServingEndpoint(models.Model):
    """A Databricks-style serving endpoint: named, with served entities and a traffic split (`config`)."""

    name = models.CharField(max_length=63, unique=True)
    creator = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="+")
    # The Databricks shape: {"served_entities": [...], "traffic_config": {"routes": [...]}}; the pending config
    # while an update rolls out is `pending_config`.
    config = models.JSONField(default=dict, blank=True)
    pending_config = models.JSONField(null=True, blank=True)
    config_version = models.PositiveIntegerField(default=1)
    state = models.CharField(max_length=16, choices=ServingState.choices, default=ServingState.PENDING)
    message = models.TextField(blank=True, default="")
    tags = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)


class ServingDeployment(models.Model):
    """One pool a supervisor runs: a model version served for a served model (legacy) or for one served entity
    of an endpoint. Rows are created and retired by `registry.serving` reconciliation, never by hand."""

    class State(models.TextChoices):
        PENDING = "PENDING"  # wanted, not running yet
        READY = "READY"  # processes answer at `address`
        FAILED = "FAILED"  # could not start (message says why); retried only after a change
        DRAINING = "DRAINING"  # retired: finishes in-flight requests, then STOPPED
        STOPPED = "STOPPED"

    served_model = models.ForeignKey(ServedModel, null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="deployments")
    endpoint = models.ForeignKey(ServingEndpoint, null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="deployments")
    entity_name = models.CharField(max_length=255, blank=True, default="")  # the served entity's name (endpoints)
    version = models.ForeignKey("registry.ModelVersion", on_delete=models.CASCADE, related_name="deployments")
    generation = models.PositiveIntegerField(default=1)
    workers = models.PositiveSmallIntegerField(default=1)
    memory_limit_mb = models.PositiveIntegerField(default=2048)
    state = models.CharField(max_length=16, choices=State.choices, default=State.PENDING, db_index=True)
    message = models.TextField(blank=True, default="")
    address = models.CharField(max_length=255, blank=True, default="")  # e.g. http://127.0.0.1:41234
    supervisor = models.CharField(max_length=128, blank=True, default="")  # who runs it (host:pid)
    # The end of the pool's output, copied here by its supervisor every few seconds, so that a web process on another
    # machine than the supervisor can show it (registry.serving.client.recent_logs).
    log_tail = models.TextField(blank=True, default="")
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["state", "lease_expires_at"])]


class ServingEvent(models.Model):
    """What happened to a served model, an endpoint or one of their deployments, for the UI's event lists."""

    class Kind(models.TextChoices):
        ENABLED = "enabled"
        DISABLED = "disabled"
        SETTINGS_CHANGED = "settings_changed"
        VERSION_DEPLOYED = "version_deployed"
        VERSION_REMOVED = "version_removed"
        DEPLOY_FAILED = "deploy_failed"
        PROCESS_CRASHED = "process_crashed"
        PROCESS_RESTARTED = "process_restarted"
        MEMORY_LIMIT = "memory_limit"
        CONFIG_UPDATED = "config_updated"

    served_model = models.ForeignKey(ServedModel, null=True, blank=True, on_delete=models.CASCADE,
                                     related_name="events")
    endpoint = models.ForeignKey(ServingEndpoint, null=True, blank=True, on_delete=models.CASCADE,
                                 related_name="events")
    deployment = models.ForeignKey(ServingDeployment, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="events")
    version_number = models.PositiveIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=32, choices=Kind.choices)
    message = models.TextField(blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
