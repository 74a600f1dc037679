"""MLflow tracking data: experiments, runs with params/metrics/tags, dataset inputs and logged models."""
from django.conf import settings
from django.db import models


class Experiment(models.Model):
    # MLflow experiment ids are strings of digits; the primary key is used as that id ("0" is the default).
    id = models.BigIntegerField(primary_key=True)
    name = models.CharField(max_length=500, unique=True)
    artifact_location = models.TextField()
    lifecycle_stage = models.CharField(max_length=32, default="active")
    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    owner_group = models.ForeignKey("auth.Group", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    # The default experiment is shared by every signed-in user, as on an MLflow server.
    open_to_all = models.BooleanField(default=False)
    creation_time = models.BigIntegerField()
    last_update_time = models.BigIntegerField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name

    DEFAULT_ID = 0

    @classmethod
    def ensure_default(cls) -> "Experiment":
        """The default experiment "0" (created by a migration; recreated if a flush removed it)."""
        import time

        now = int(time.time() * 1000)
        experiment, _ = cls.objects.get_or_create(
            pk=cls.DEFAULT_ID,
            defaults={"name": "Default", "artifact_location": "mlflow-artifacts:/0", "open_to_all": True,
                      "creation_time": now, "last_update_time": now},
        )
        return experiment


class ExperimentTag(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="tags")
    key = models.CharField(max_length=250)
    value = models.TextField(blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["experiment", "key"], name="experiment_tag_unique_key")]


class Run(models.Model):
    run_id = models.CharField(max_length=32, unique=True)
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="runs")
    name = models.CharField(max_length=250, blank=True, default="")
    user_id = models.CharField(max_length=256, blank=True, default="")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=16, default="RUNNING")
    start_time = models.BigIntegerField(null=True)
    end_time = models.BigIntegerField(null=True)
    lifecycle_stage = models.CharField(max_length=32, default="active")
    artifact_uri = models.TextField()

    class Meta:
        indexes = [models.Index(fields=["experiment", "start_time"])]

    def __str__(self) -> str:
        return self.run_id


class Param(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="params")
    key = models.CharField(max_length=250)
    value = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="param_unique_key")]


class Metric(models.Model):
    """One point of a metric's history."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="metrics")
    key = models.CharField(max_length=250)
    value = models.FloatField(null=True)  # NaN is stored as NULL with is_nan set
    is_nan = models.BooleanField(default=False)
    timestamp = models.BigIntegerField()
    step = models.BigIntegerField(default=0)
    model_id = models.CharField(max_length=64, blank=True, default="")
    dataset_name = models.CharField(max_length=500, blank=True, default="")
    dataset_digest = models.CharField(max_length=64, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["run", "key", "step", "timestamp"])]


class RunTag(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="tags")
    key = models.CharField(max_length=250)
    value = models.TextField(blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "key"], name="run_tag_unique_key")]


class Dataset(models.Model):
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="datasets")
    name = models.CharField(max_length=500)
    digest = models.CharField(max_length=64)
    source_type = models.CharField(max_length=64, blank=True, default="")
    source = models.TextField(blank=True, default="")
    schema = models.TextField(blank=True, default="")
    profile = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["experiment", "name", "digest"], name="dataset_unique_in_experiment")
        ]


class RunInput(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="inputs")
    dataset = models.ForeignKey(Dataset, on_delete=models.CASCADE, related_name="run_inputs")
    tags = models.JSONField(default=list)  # [{"key": ..., "value": ...}], e.g. mlflow.data.context=training

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "dataset"], name="run_input_unique")]


class LoggedModel(models.Model):
    model_id = models.CharField(max_length=64, unique=True)
    experiment = models.ForeignKey(Experiment, on_delete=models.CASCADE, related_name="logged_models")
    name = models.CharField(max_length=500)
    source_run = models.ForeignKey(Run, null=True, blank=True, on_delete=models.SET_NULL, related_name="logged_models")
    # Who created it: in an experiment open to all, only its owner (or who may modify the experiment) writes it.
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    status = models.CharField(max_length=32, default="LOGGED_MODEL_PENDING")
    status_message = models.TextField(blank=True, default="")
    model_type = models.CharField(max_length=128, blank=True, default="")
    artifact_uri = models.TextField()
    creation_timestamp_ms = models.BigIntegerField()
    last_updated_timestamp_ms = models.BigIntegerField()
    lifecycle_stage = models.CharField(max_length=32, default="active")

    def __str__(self) -> str:
        return self.model_id


class LoggedModelParam(models.Model):
    logged_model = models.ForeignKey(LoggedModel, on_delete=models.CASCADE, related_name="params")
    key = models.CharField(max_length=250)
    value = models.TextField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["logged_model", "key"], name="logged_model_param_unique")]


class LoggedModelTag(models.Model):
    logged_model = models.ForeignKey(LoggedModel, on_delete=models.CASCADE, related_name="tags")
    key = models.CharField(max_length=250)
    value = models.TextField(blank=True, default="")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["logged_model", "key"], name="logged_model_tag_unique")]


class RunOutput(models.Model):
    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="outputs")
    logged_model = models.ForeignKey(LoggedModel, on_delete=models.CASCADE, related_name="run_outputs")
    step = models.BigIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "logged_model"], name="run_output_unique")]


class RunModelInput(models.Model):
    """A logged model a run took as input (runs/log-inputs `models`), e.g. a base model it fine-tuned."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="model_inputs")
    logged_model = models.ForeignKey(LoggedModel, on_delete=models.CASCADE, related_name="run_inputs")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["run", "logged_model"], name="run_model_input_unique")]
