"""The DBFS upload area the MLflow client's remote-registry path writes into before it registers a version
(`dbfs:/databricks/mlflow/tmp-external-source/<dir>/...`): one row per uploaded directory, per principal."""
from django.conf import settings
from django.db import models


class UploadAreaDirectory(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=100)  # the directory below tmp-external-source/ (the client's run id)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="upload_area_directory_unique")]
        indexes = [models.Index(fields=["updated_at"])]

    def __str__(self) -> str:
        return f"{self.owner_id}/{self.name}"
