"""Comments: a Markdown thread on a registered model or on one of its versions."""
from django.conf import settings
from django.db import models


class Comment(models.Model):
    model = models.ForeignKey("registry.RegisteredModel", on_delete=models.CASCADE, related_name="comments")
    # None: a comment on the model itself; otherwise on this version of it.
    version = models.ForeignKey("registry.ModelVersion", null=True, blank=True, on_delete=models.CASCADE,
                                related_name="comments")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField()  # Markdown, sanitised when rendered (explorer/markdown.py)
    created_at = models.DateTimeField(auto_now_add=True)
    edited_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["model", "version", "created_at"], name="comment_thread")]

    def __str__(self) -> str:
        return f"comment {self.pk}"

    @property
    def full_name(self) -> str:
        where = f"{self.model.full_name}/{self.version.version}" if self.version_id else self.model.full_name
        return f"comment {self.pk} on {where}"
