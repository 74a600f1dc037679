"""The sign-in backend for people: Django's ModelBackend, except that a service principal never signs in (to the
browser UI or the Django admin), even if someone gave its user a password. Service principals authenticate with
tokens only (registry.authentication)."""
from __future__ import annotations

from django.contrib.auth.backends import ModelBackend

from registry.models import ServicePrincipal


class PeopleModelBackend(ModelBackend):
    # Checked at sign-in only: a session can only come from a sign-in, and get_user runs on every request.
    def authenticate(self, request, username=None, password=None, **kwargs):
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is not None and ServicePrincipal.objects.filter(user_id=user.pk).exists():
            return None
        return user
