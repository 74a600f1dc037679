"""Sign-in throttling (django-axes): repeated wrong passwords lock the account and the address for a cool-off,
the locked-out user sees a clear page, and every failure and lock-out is in the audit log."""
from datetime import timedelta

import pytest
from django.conf import settings
from django.test import Client
from django.utils import timezone

from registry.models import AuditEvent

pytestmark = pytest.mark.django_db
LOGIN = "/accounts/login/"


def _client(address: str) -> Client:
    return Client(REMOTE_ADDR=address)


def _sign_in(client: Client, username: str, password: str):
    return client.post(LOGIN, {"username": username, "password": password})


def _fail(client: Client, username: str, times: int) -> None:
    for _ in range(times):
        assert _sign_in(client, username, "wrong").status_code == 200


def _signed_in(client: Client) -> bool:
    return client.get("/").status_code == 200


def test_defaults_are_sensible():
    assert settings.AXES_FAILURE_LIMIT == 10 and settings.AXES_COOLOFF_TIME == timedelta(minutes=15)
    assert settings.AXES_LOCKOUT_PARAMETERS == ["username", "ip_address"]


def test_failures_below_the_limit_still_let_the_right_password_in(owner):
    client = _client("10.0.0.1")
    _fail(client, "owner", settings.AXES_FAILURE_LIMIT - 1)
    assert _sign_in(client, "owner", "pw-owner").status_code == 302 and _signed_in(client)


def test_the_right_password_is_refused_once_the_account_is_locked(owner):
    client = _client("10.0.0.2")
    _fail(client, "owner", settings.AXES_FAILURE_LIMIT - 1)
    locked = _sign_in(client, "owner", "wrong")
    assert locked.status_code == 429
    response = _sign_in(client, "owner", "pw-owner")
    assert response.status_code == 429 and not _signed_in(client)
    html = response.content.decode()
    assert "Too many failed sign-ins" in html and "15 minutes" in html
    assert "Traceback" not in html and "<title>" in html  # our page, not the library's bare text
    assert response["Retry-After"] == str(15 * 60)


def test_the_account_is_locked_for_every_address(owner):
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _sign_in(_client(f"10.0.1.{n}"), "owner", "wrong").status_code == 200
    assert _sign_in(_client("10.0.1.100"), "owner", "wrong").status_code == 429
    assert _sign_in(_client("10.0.1.200"), "owner", "pw-owner").status_code == 429


def test_an_address_is_locked_for_every_account(owner, reader):
    attacker = _client("10.0.2.1")
    for n in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _sign_in(attacker, f"guess{n}", "wrong").status_code == 200
    assert _sign_in(attacker, "guess-last", "wrong").status_code == 429
    assert _sign_in(attacker, "reader", "pw-reader").status_code == 429
    # Someone else, elsewhere, is not affected.
    other = _client("10.0.2.2")
    assert _sign_in(other, "reader", "pw-reader").status_code == 302 and _signed_in(other)


def test_lockout_ends_after_the_cool_off(owner):
    from axes.models import AccessAttempt

    client = _client("10.0.3.1")
    _fail(client, "owner", settings.AXES_FAILURE_LIMIT - 1)
    assert _sign_in(client, "owner", "wrong").status_code == 429
    AccessAttempt.objects.update(attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1))
    assert _sign_in(client, "owner", "pw-owner").status_code == 302 and _signed_in(client)


def test_limit_comes_from_the_environment(settings, owner):
    settings.AXES_FAILURE_LIMIT = 2
    client = _client("10.0.4.1")
    _fail(client, "owner", 1)
    assert _sign_in(client, "owner", "wrong").status_code == 429


def test_failed_signins_and_the_lockout_are_audited(owner):
    client = _client("10.0.5.1")
    _fail(client, "owner", settings.AXES_FAILURE_LIMIT - 1)
    _sign_in(client, "owner", "wrong")
    failed = AuditEvent.objects.filter(action="auth.signin_failed")
    assert failed.count() == settings.AXES_FAILURE_LIMIT
    event = failed.first()
    assert event.parameters["username"] == "owner" and event.client_address == "10.0.5.1"
    assert event.outcome == AuditEvent.Outcome.FAILED and event.actor is None and event.actor_name == "anonymous"
    assert "wrong" not in str(event.parameters)  # never the password
    lockout = AuditEvent.objects.get(action="auth.lockout")
    assert lockout.parameters["username"] == "owner" and lockout.client_address == "10.0.5.1"
    assert lockout.outcome == AuditEvent.Outcome.DENIED


def test_admin_sees_signin_failures_in_the_audit_log(client_for, admin, owner):
    _fail(_client("10.0.6.1"), "owner", 1)
    html = client_for(admin).get("/audit/", {"action": "auth.signin_failed"}).content.decode()
    assert "auth.signin_failed" in html and "10.0.6.1" in html


@pytest.mark.parametrize("username", ["own\x00er", "x" * 5000, "Ωmega", ""])
def test_hostile_usernames_are_refused_not_crashed(owner, username):
    response = _sign_in(_client("10.0.7.1"), username, "wrong")
    assert response.status_code == 200 and b'role="alert"' in response.content


def test_test_client_login_and_force_login_still_work(owner):
    assert Client().login(username="owner", password="pw-owner")
    client = Client()
    client.force_login(owner)
    assert _signed_in(client)


def test_the_admin_sign_in_is_throttled_too(admin):
    client = _client("10.0.8.1")
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert client.post("/admin/login/", {"username": "admin", "password": "wrong"}).status_code == 200
    assert client.post("/admin/login/", {"username": "admin", "password": "wrong"}).status_code == 429
    response = client.post("/admin/login/", {"username": "admin", "password": "pw-admin"})
    assert response.status_code == 429 and b"Too many failed sign-ins" in response.content
