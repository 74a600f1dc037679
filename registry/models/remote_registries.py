"""Remote registries: another deployment's registry (its URL and one user's own token for it), which that user
browses, compares against and imports from. The token is stored encrypted (registry/remote_client.py) and is
usable by its owner only."""
from django.conf import settings
from django.db import models


class RemoteRegistry(models.Model):
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    name = models.CharField(max_length=64)  # the owner's own label, unique among their remotes
    base_url = models.CharField(max_length=2000)
    token_encrypted = models.TextField()  # Fernet token of the secret (REMOTE_REGISTRY_KEY); never shown again
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "name"], name="remote_registry_unique_name")]
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
