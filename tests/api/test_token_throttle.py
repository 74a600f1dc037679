"""Repeated bad tokens from one address are answered 429 REQUEST_LIMIT_EXCEEDED after a burst, for every token from
that address until the window ends; other addresses keep working. The counters live in the shared cache, so they
hold across web processes."""
import base64
import os
import subprocess
import sys
import time
import uuid

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from registry.models import AuditEvent
from tests.conftest import ROOT

pytestmark = pytest.mark.django_db
SEARCH = "/api/2.0/mlflow/registered-models/search"


def _client(address: str, header: str) -> APIClient:
    client = APIClient(REMOTE_ADDR=address)
    client.credentials(HTTP_AUTHORIZATION=header)
    return client


def _basic(user: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{secret}".encode()).decode()


def _address() -> str:
    # A fresh address per test: the counters live in a shared cache, not in the test's database transaction.
    n = uuid.uuid4().int
    return f"10.{n % 250}.{n // 250 % 250}.{n // 62500 % 250 + 1}"


def test_defaults():
    assert settings.TOKEN_FAILURE_LIMIT == 20 and settings.TOKEN_FAILURE_WINDOW_SECONDS == 60


def test_a_burst_of_bad_tokens_is_answered_429_then_even_a_good_token(owner, token_for):
    address, good = _address(), token_for(owner)
    bad = _client(address, "Bearer cex_not-a-token")
    for _ in range(settings.TOKEN_FAILURE_LIMIT):
        assert bad.get(SEARCH).status_code == 401
    response = bad.get(SEARCH)
    assert response.status_code == 429
    body = response.json()
    assert body["error_code"] == "REQUEST_LIMIT_EXCEEDED" and "invalid tokens" in body["message"]
    assert 0 < int(response["Retry-After"]) <= settings.TOKEN_FAILURE_WINDOW_SECONDS
    # The address is refused whatever it sends, so guessing cannot go on between refusals...
    assert _client(address, f"Bearer {good}").get(SEARCH).status_code == 429
    # ...while the same valid token from another address still works.
    assert _client(_address(), f"Bearer {good}").get(SEARCH).status_code == 200


@pytest.mark.parametrize("header", [
    _basic("owner", "cex_not-a-token"),
    _basic("owner", "pw-owner"),
    "Basic !!!not-base64",
])
def test_bad_basic_credentials_count_too(owner, header):
    client = _client(_address(), header)
    statuses = [client.get(SEARCH).status_code for _ in range(settings.TOKEN_FAILURE_LIMIT + 1)]
    assert statuses == [401] * settings.TOKEN_FAILURE_LIMIT + [429]


def test_good_tokens_are_never_counted(owner, token_for):
    client = _client(_address(), f"Bearer {token_for(owner)}")
    for _ in range(settings.TOKEN_FAILURE_LIMIT + 5):
        assert client.get(SEARCH).status_code == 200


def test_requests_without_a_token_are_not_counted(owner):
    client = APIClient(REMOTE_ADDR=_address())
    for _ in range(settings.TOKEN_FAILURE_LIMIT + 1):
        assert client.get(SEARCH).status_code == 401


def test_the_window_ends(settings, owner, token_for):
    settings.TOKEN_FAILURE_LIMIT, settings.TOKEN_FAILURE_WINDOW_SECONDS = 2, 1
    address = _address()
    bad = _client(address, "Bearer cex_not-a-token")
    assert [bad.get(SEARCH).status_code for _ in range(3)] == [401, 401, 429]
    time.sleep(1.5)
    assert _client(address, f"Bearer {token_for(owner)}").get(SEARCH).status_code == 200


def test_the_start_of_a_throttle_is_audited_once(settings, owner):
    settings.TOKEN_FAILURE_LIMIT = 3
    address = _address()
    bad = _client(address, "Bearer cex_not-a-token")
    for _ in range(6):
        bad.get(SEARCH)
    event = AuditEvent.objects.get(action="auth.token_throttled")
    assert event.client_address == address and event.outcome == AuditEvent.Outcome.DENIED


def test_the_cache_is_shared_across_processes():
    """Failures counted in another process (another gunicorn worker) throttle this one."""
    backend = settings.CACHES["default"]["BACKEND"]
    assert "locmem" not in backend and "dummy" not in backend
    address = _address()
    code = ("import django; from django.conf import settings\n"
            f"settings.CACHES['default']['KEY_PREFIX'] = {settings.CACHES['default']['KEY_PREFIX']!r}\n"
            "django.setup()\n"
            "from registry.authentication import token_failure_count\n"
            f"for _ in range({settings.TOKEN_FAILURE_LIMIT}): token_failure_count({address!r})\n")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "explorer.settings"}
    subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, check=True, timeout=60)
    response = _client(address, "Bearer cex_not-a-token").get(SEARCH)
    assert response.status_code == 429
