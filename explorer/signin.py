"""Sign-in throttling glue around django-axes: the backend that refuses locked-out sign-ins, and the audit events
for failed sign-ins and lock-outs (connected in ExplorerConfig.ready)."""
from __future__ import annotations

from axes.backends import AxesStandaloneBackend
from axes.signals import user_locked_out
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.contrib.auth.signals import user_login_failed

from registry import audit
from registry.models import AuditEvent

_USERNAME_MAX_LENGTH = get_user_model()._meta.get_field(get_user_model().USERNAME_FIELD).max_length


class SigninThrottleBackend(AxesStandaloneBackend):
    """Axes' check, except for `authenticate()` called without a request (Django's test client `login`, a shell):
    there is no client address to throttle, and no HTTP path of ours authenticates without its request."""

    def authenticate(self, request, username=None, password=None, **kwargs):
        if request is None:
            return None
        return super().authenticate(request, username=username, password=password, **kwargs)


def _username(credentials: dict | None) -> str:
    return str((credentials or {}).get("username") or "")


def counted_username(request, credentials: dict | None) -> str:
    """The user name Axes counts failures under (AXES_USERNAME_CALLABLE). Django's sign-in form does not bound
    the name's length before authenticating, and Axes' column holds 255 characters: no account's name is longer
    than the user table allows, so a longer one is counted under its first that-many characters."""
    raw = _username(credentials) if credentials else str(request.POST.get("username", ""))
    return raw.replace("\x00", "")[:_USERNAME_MAX_LENGTH]


def record_signin_failed(sender, credentials=None, request=None, **kwargs) -> None:
    # Django has already replaced the password in `credentials` by stars; only the user name is kept.
    audit.record(actor=AnonymousUser(), action="auth.signin_failed", params={"username": _username(credentials)},
                 outcome=AuditEvent.Outcome.FAILED, message="Wrong user name or password.")


def record_lockout(sender, request=None, username=None, ip_address=None, **kwargs) -> None:
    audit.record(actor=AnonymousUser(), action="auth.lockout", params={"username": str(username or "")},
                 outcome=AuditEvent.Outcome.DENIED,
                 message="Too many failed sign-ins for this user name or from this address: locked for the cool-off.")


def connect_audit() -> None:
    user_login_failed.connect(record_signin_failed, dispatch_uid="explorer.signin.failed")
    user_locked_out.connect(record_lockout, dispatch_uid="explorer.signin.lockout")
