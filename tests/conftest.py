"""Shared fixtures: personas (admin, owner, reader, outsider, group member), a governed catalog, API clients
authenticated with real personal access tokens, and a real Celery worker process on the test database."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from registry.child_process import die_with_parent
from registry.services.catalogs import catalog_create, schema_create
from registry.services.grants import grant_add
from registry.services.tokens import token_create
from tests.s3 import s3_server  # noqa: F401 (a real S3 server for the tests that use object storage)

ROOT = Path(__file__).resolve().parent.parent


def pytest_configure(config):
    from django.db import connections

    # Live-server tests: the mlflow client keeps HTTP connections alive, so persistent database connections in
    # server threads would outlive the test and block dropping the test database.
    connections.settings["default"]["CONN_MAX_AGE"] = 0
    _flush_retries_deadlocks()


def _flush_retries_deadlocks() -> None:
    """Transactional tests end with a flush (TRUNCATE of every table). A background process of the session (the
    Celery worker finishing a clean-up job of the test that just ended, a serving supervisor's tick) may hold a
    read lock on one table while waiting for another: PostgreSQL then cancels one side of the deadlock, and when
    that is the flush, the next test starts on the old rows. The cancelled flush is simply run again."""
    from django.core.management.commands import flush

    original = flush.Command.handle

    def handle(self, **options):
        for attempt in range(5):
            try:
                return original(self, **options)
            except Exception as exc:
                if attempt == 4 or "deadlock detected" not in str(exc.__cause__ or exc):
                    raise
                time.sleep(0.2 * (attempt + 1))

    flush.Command.handle = handle


def wait_for(predicate, *, timeout: float = 30.0, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Tests create several personas each; nothing here tests password hashing, so make it cheap."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _mlflow_uris_do_not_leak():
    """A test that points the mlflow client's global tracking or registry URI at its own server (set_tracking_uri,
    set_registry_uri: module globals, and copied into the environment) or sets its active experiment must not send
    a later test's client there, a server long gone: all are put back after each test."""
    names = ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI", "MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME")
    saved = {name: os.environ.get(name) for name in names}
    yield
    if "mlflow" in sys.modules:
        import mlflow
        from mlflow.tracking import fluent

        mlflow.set_tracking_uri(None)
        mlflow.set_registry_uri(None)
        # set_experiment's choice too (a module global, and MLFLOW_EXPERIMENT_ID): the next test's server has no
        # experiment of that id, and its start_run() would fail against it.
        fluent._active_experiment_id = None
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(autouse=True)
def _own_cache_keys(settings):
    """Throttling counters live in the shared cache (Redis in CI), outside the test's transaction: each test gets
    keys of its own, so one test's bad tokens never throttle the next."""
    settings.CACHES = {name: {**conf, "KEY_PREFIX": f"test-{uuid.uuid4().hex}"} for name, conf in settings.CACHES.items()}


@pytest.fixture
def make_user(db):
    def make(username: str, *, superuser: bool = False, groups=()):
        User = get_user_model()
        if superuser:
            user = User.objects.create_superuser(username, f"{username}@example.com", "pw-" + username)
        else:
            user = User.objects.create_user(username, f"{username}@example.com", "pw-" + username)
        for group in groups:
            user.groups.add(group)
        return user

    return make


@pytest.fixture
def admin(make_user):
    return make_user("admin", superuser=True)


@pytest.fixture
def owner(make_user):
    return make_user("owner")


@pytest.fixture
def reader(make_user):
    return make_user("reader")


@pytest.fixture
def outsider(make_user):
    return make_user("outsider")


@pytest.fixture
def team(db):
    return Group.objects.create(name="ml_team")


@pytest.fixture
def member(make_user, team):
    return make_user("member", groups=[team])


@pytest.fixture
def governed(admin, owner, reader):
    """Catalog `prod`, schema `prod.ml_team`: `owner` may create models there, `reader` may use both."""
    catalog = catalog_create(actor=admin, name="prod", comment="production")
    schema = schema_create(actor=admin, catalog_name="prod", name="ml_team", comment="team schema")
    for user in (owner, reader):
        grant_add(actor=admin, securable=catalog, principal=user, privilege="USE CATALOG")
        grant_add(actor=admin, securable=schema, principal=user, privilege="USE SCHEMA")
    grant_add(actor=admin, securable=schema, principal=owner, privilege="CREATE MODEL")
    return schema


@pytest.fixture
def token_for(db):
    def make(user, **kwargs) -> str:
        return token_create(actor=user, user=user, **kwargs)[1]

    return make


@pytest.fixture
def api(token_for):
    """api(user) -> a DRF client sending `Authorization: Bearer <token>` of a fresh token of `user`."""

    def make(user=None) -> APIClient:
        client = APIClient()
        if user is not None:
            client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_for(user)}")
        return client

    return make


def _database_url_for_tests() -> str:
    from django.db import connection

    settings_dict = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{settings_dict['NAME']}"
    user = settings_dict.get("USER") or ""
    password = f":{settings_dict['PASSWORD']}" if settings_dict.get("PASSWORD") else ""
    host = settings_dict.get("HOST") or "127.0.0.1"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{user}{password}@{host}:{port}/{settings_dict['NAME']}"


def stop_group(proc: subprocess.Popen, sig=signal.SIGTERM) -> None:
    """Stop a child started in a session of its own, and everything it started; SIGKILL after 20 s."""
    if proc.poll() is None:
        os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


class WorkerProcess:
    def __init__(self, env: dict, log_path: Path):
        self.env, self.log_path = env, log_path
        self.proc: subprocess.Popen | None = None

    def start(self, concurrency: int = 1, cwd: Path = ROOT) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "explorer", "worker", "--loglevel", "INFO",
             "--concurrency", str(concurrency), "--without-heartbeat", "--without-gossip", "--without-mingle"],
            cwd=cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            # An interrupted test run must not leave workers sweeping the test database for the next run.
            preexec_fn=die_with_parent(signal.SIGKILL),
        )

    def stop(self, sig=signal.SIGTERM) -> None:
        if self.proc:
            stop_group(self.proc, sig)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture(scope="session")
def worker_env(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        url = _database_url_for_tests()
    env = dict(os.environ)
    env["DATABASE_URL"] = url
    env["DB_CONN_MAX_AGE"] = "0"
    return env


@pytest.fixture(scope="session")
def celery_worker(worker_env, tmp_path_factory):
    """A real Celery worker process consuming this test session's queue on the test database."""
    worker = WorkerProcess(worker_env, tmp_path_factory.mktemp("worker") / "worker.log")
    worker.start(concurrency=2)
    yield worker
    worker.stop()
