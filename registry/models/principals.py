"""Service principals: identities for automation (CI/CD, scripts, serving clients). Each is a Django user with an
unusable password, so grants, group membership and tokens work exactly as for a person, while it can never sign
in to the browser UI (registry.principal_auth refuses it even if a password were set)."""
import uuid

from django.conf import settings
from django.db import models


class ServicePrincipal(models.Model):
    # The user's name is the application id (as in Databricks, grants name a service principal by it).
    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="service_principal")
    application_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    display_name = models.CharField(max_length=255)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")

    class Meta:
        ordering = ["display_name", "id"]

    def __str__(self) -> str:
        return self.display_name

    @property
    def full_name(self) -> str:  # what audit rows and messages name it by
        return self.display_name

    @property
    def active(self) -> bool:
        return self.user.is_active
