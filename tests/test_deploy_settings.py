"""The production environment documented in docs/operations.md ("Production settings") passes
`manage.py check --deploy` with no warning and makes plain http redirect to https with secure cookies and HSTS; the
quick start (nothing configured) stays plain http; bad values stop start-up with a clear message."""
import os
import re
import secrets
import subprocess
import sys

import pytest

from tests.conftest import ROOT

DOCS = ROOT / "docs" / "operations.md"
# What the subprocess inherits must not decide the outcome: these are the settings under test.
_OURS = ("DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS", "SECURE_PROXY_SSL_HEADER", "SECURE_SSL_REDIRECT",
         "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE", "SECURE_HSTS_SECONDS", "SECURE_HSTS_INCLUDE_SUBDOMAINS",
         "SECURE_HSTS_PRELOAD", "SECURE_REDIRECT_EXEMPT")


def documented_production_environment() -> dict[str, str]:
    """The `NAME=value` lines of the fenced block under "Production settings" in docs/operations.md."""
    text = DOCS.read_text()
    section = text.split("## Production settings", 1)[1]
    block = section.split("```", 2)[1]
    env = dict(re.findall(r"^([A-Z_]+)=(\S*)", block, flags=re.M))
    assert env, "no NAME=value lines in the Production settings block"
    return env


def _environment(tmp_path, extra: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _OURS}
    env.update(VAR_DIR=str(tmp_path / "var"), DJANGO_SETTINGS_MODULE="explorer.settings", **extra)
    return env


def _run(args, env, **kwargs):
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
                          **kwargs)


def _production(tmp_path) -> dict[str, str]:
    documented = documented_production_environment()
    assert documented["SECRET_KEY"].startswith("<"), "the docs must not publish a usable key"
    # The documented placeholder stands for a real random key.
    return _environment(tmp_path, {**documented, "SECRET_KEY": secrets.token_urlsafe(50)})


def test_check_deploy_passes_with_the_documented_production_environment(tmp_path):
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], _production(tmp_path))
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert "System check identified no issues" in output and "WARNINGS" not in output, output


def test_check_deploy_warns_on_the_quick_start_defaults(tmp_path):
    """The same check can fail: unconfigured, the quick start is plain http and says so."""
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], _environment(tmp_path, {}))
    output = result.stdout + result.stderr
    assert result.returncode != 0
    for warning in ("security.W004", "security.W008", "security.W012", "security.W016"):
        assert warning in output, output


_REQUESTS = """
from django.test import Client
client = Client(HTTP_HOST="registry.example.com")
plain = client.get("/models/")
print("plain", plain.status_code, plain.get("Location"))
https = client.get("/accounts/login/", HTTP_X_FORWARDED_PROTO="https")
print("https", https.status_code, https.get("Strict-Transport-Security"), https.cookies["csrftoken"]["secure"])
print("csp", https.get("Content-Security-Policy"))
probe = client.get("/healthz")
print("probe", probe.status_code)
"""


def test_production_redirects_http_and_sends_hsts_and_secure_cookies(tmp_path):
    env = _production(tmp_path)
    result = _run(["-c", "import django; django.setup()\n" + _REQUESTS], env)
    assert result.returncode == 0, result.stderr
    lines = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    assert lines["plain"] == "301 https://registry.example.com/models/"
    assert lines["https"] == "200 max-age=31536000; includeSubDomains; preload True"
    assert "script-src 'self'" in lines["csp"]
    assert not lines["probe"].startswith("301")  # the load balancer's health probe is not redirected


def test_quick_start_stays_plain_http(tmp_path):
    code = ("import django; django.setup()\nfrom django.conf import settings as s\n"
            "print(s.SECURE_SSL_REDIRECT, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS,"
            " s.SECURE_PROXY_SSL_HEADER)")
    result = _run(["-c", code], _environment(tmp_path, {}))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False", "False", "0", "None"]


@pytest.mark.parametrize("name,value,message", [
    ("SECURE_HSTS_SECONDS", "a year", "SECURE_HSTS_SECONDS must be an integer"),
    ("SECURE_SSL_REDIRECT", "sure", "SECURE_SSL_REDIRECT must be a boolean"),
    ("SECURE_PROXY_SSL_HEADER", "X Forwarded Proto", "SECURE_PROXY_SSL_HEADER must be an HTTP header name"),
    ("SECURE_HSTS_PRELOAD", "true", "SECURE_HSTS_PRELOAD needs"),
    ("SIGNIN_FAILURE_LIMIT", "0", "SIGNIN_FAILURE_LIMIT must be >= 1"),
])
def test_bad_values_stop_start_up_with_a_clear_message(tmp_path, name, value, message):
    result = _run(["manage.py", "check"], _environment(tmp_path, {name: value}))
    assert result.returncode != 0 and message in result.stderr, result.stderr
