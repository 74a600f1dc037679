"""Fields every securable shares: an owner (a user or a group), a comment and who/when it changed."""
from django.conf import settings
from django.contrib.auth.models import Group
from django.db import models


class Securable(models.Model):
    owner_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    owner_group = models.ForeignKey(Group, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True

    @property
    def owner_name(self) -> str:
        if self.owner_group_id:
            return self.owner_group.name
        if self.owner_user_id:
            return self.owner_user.get_username()
        return ""
