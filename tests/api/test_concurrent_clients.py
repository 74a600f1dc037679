"""Thirty clients at once over real HTTP, against gunicorn with several worker processes (as deployed): version
creations, renames, alias sets (first-time sets of one new alias among them) and tag edits on a workspace model
and a three-level model. No answer is a 5xx, and each model's versions are numbered 1..N without a gap or a
duplicate."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests
from django.db import connection

from registry.models import ModelAlias, RegisteredModel
from tests.conftest import ROOT, wait_for
from tests.registry.factories import make_model, make_run

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

CLIENTS = 30
# SQLite (the quick start) runs one write at a time: fewer rounds there keep the test short; it must still
# answer every request without a 5xx.
ROUNDS = 4 if connection.vendor == "postgresql" else 2
WEB_WORKERS = 4
API = "/api/2.0/mlflow"
UC = "/api/2.1/unity-catalog"
# Each model is renamed back and forth between two names while the others work on it.
NAMES = {"workspace": ("Busy Legacy", "Busy Legacy 2"), "uc": ("prod.ml_team.busy", "prod.ml_team.busy_b")}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def web_server(worker_env, tmp_path):
    """gunicorn with several sync worker processes on this test's database; yields its base URL."""
    port = _free_port()
    log = open(tmp_path / "gunicorn.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "explorer.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(WEB_WORKERS), "--preload", "--timeout", "60", "--graceful-timeout", "5"],
        cwd=ROOT, env=worker_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"

    def up():
        try:
            return requests.get(f"{url}/healthz", timeout=10).status_code == 200
        except requests.RequestException:  # not listening yet, or a worker still importing
            return False

    try:
        wait_for(up, timeout=30, message="gunicorn to answer")
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


# The name each model was last seen under, shared by the clients (as colleagues would tell each other).
last_seen = {kind: 0 for kind in NAMES}


class Client:
    """One API client with its own connection; records the status of every answer."""

    def __init__(self, base: str, token: str, statuses: Counter, failures: list, lock: threading.Lock):
        self.base, self.session = base, requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.statuses, self.failures, self.lock = statuses, failures, lock

    def call(self, method: str, path: str, body: dict | None = None, params: dict | None = None):
        response = self.session.request(method, self.base + path, json=body, params=params, timeout=60)
        with self.lock:
            self.statuses[response.status_code] += 1
            if response.status_code >= 500:
                self.failures.append((method, path, body, response.status_code, response.text[:300]))
        return response

    def current_name(self, kind: str, attempt: int) -> str:
        """The name last seen, then (after a 404: renamed meanwhile) the other one."""
        return NAMES[kind][(last_seen[kind] + attempt) % 2]

    def saw(self, kind: str, name: str) -> None:
        last_seen[kind] = NAMES[kind].index(name)

    def create_version(self, kind: str, source: str) -> int | None:
        """Create a version under whichever name the model has now (a 404 means it was just renamed)."""
        for attempt in range(20):
            name = self.current_name(kind, attempt)
            response = self.call("POST", f"{API}/model-versions/create", {"name": name, "source": source})
            if response.status_code == 200:
                self.saw(kind, name)
                return int(response.json()["model_version"]["version"])
            if response.status_code != 404:
                return None
        return None

    def rename(self, kind: str) -> None:
        old, new = self.current_name(kind, 0), self.current_name(kind, 1)
        if self.call("POST", f"{API}/registered-models/rename", {"name": old, "new_name": new}).status_code == 200:
            self.saw(kind, new)

    def set_alias(self, kind: str, alias: str, version: int, *, uc_api: bool = False) -> None:
        for attempt in range(4):
            name = self.current_name(kind, attempt)
            if uc_api:
                response = self.call("PUT", f"{UC}/models/{name}/aliases/{alias}", {"version_num": version})
            else:
                response = self.call("POST", f"{API}/registered-models/alias",
                                     {"name": name, "alias": alias, "version": str(version)})
            if response.status_code != 404:
                return

    def set_tags(self, kind: str, i: int) -> None:
        for attempt in range(4):
            name = self.current_name(kind, attempt)
            response = self.call("POST", f"{API}/registered-models/set-tag",
                                 {"name": name, "key": "round", "value": f"client {i}"})
            if response.status_code == 404:
                continue
            self.call("POST", f"{API}/model-versions/set-tag",
                      {"name": name, "version": "1", "key": "validation", "value": f"client {i}"})
            if i % 3 == 0:
                self.call("DELETE", f"{API}/model-versions/delete-tag",
                          {"name": name, "version": "1", "key": "validation"})
            return


def test_thirty_clients_at_once_get_no_server_error_and_gapless_version_numbers(web_server, governed, owner,
                                                                               token_for):
    models = {kind: make_model(owner, names[0]) for kind, names in NAMES.items()}
    sources = [f"runs:/{make_run().run_id}/model" for _ in range(CLIENTS * ROUNDS)]
    token = token_for(owner)
    statuses, failures, lock = Counter(), [], threading.Lock()
    created = {kind: [] for kind in NAMES}
    # Every round starts all clients together, so first-time alias sets and renames meet the creations.
    barrier = threading.Barrier(CLIENTS)

    def client_work(i: int) -> None:
        client = Client(web_server, token, statuses, failures, lock)
        kind = "workspace" if i % 2 else "uc"
        for r in range(ROUNDS):
            barrier.wait(timeout=60)
            role = (i // 2 + r) % 10  # over the rounds, each client plays every part
            if role == 0:
                client.rename(kind)
            elif role in (1, 2):
                # First-time sets of one new alias, several clients at once; on the three-level model in
                # two spellings (one alias there) and through both APIs.
                alias = f"round{r}" if role == 1 or kind == "workspace" else f"ROUND{r}"
                client.set_alias(kind, alias, 1, uc_api=(kind == "uc" and role == 2))
            elif role == 3:
                client.set_tags(kind, i)
            else:
                number = client.create_version(kind, sources[i * ROUNDS + r])
                if number is not None:
                    with lock:
                        created[kind].append(number)

    # Version 1 of each model exists before the crowd arrives, for the aliases and version tags.
    bootstrap = Client(web_server, token, statuses, failures, lock)
    for kind in NAMES:
        created[kind].append(bootstrap.create_version(kind, f"runs:/{make_run().run_id}/model"))

    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        list(pool.map(client_work, range(CLIENTS)))

    assert failures == [], failures[:5]
    assert all(status < 500 for status in statuses), statuses
    assert statuses[200] > CLIENTS * ROUNDS // 2, statuses  # the crowd really worked
    for kind, model in models.items():
        model.refresh_from_db()
        stored = sorted(model.versions.values_list("version", flat=True))
        assert stored == sorted(created[kind]) == list(range(1, model.last_version_number + 1)), kind
        assert len(stored) > CLIENTS // 2, kind
    # One alias per round and model, whatever the spelling and however many clients set it first.
    for model in models.values():
        aliases = [a.lower() for a in ModelAlias.objects.filter(model=model).values_list("alias", flat=True)]
        assert len(aliases) == len(set(aliases))
    assert RegisteredModel.objects.count() == 2
