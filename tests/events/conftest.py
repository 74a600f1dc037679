"""Fixtures of the webhook tests: a real HTTP receiver on loopback (a threaded http.server) that records every
request and answers from a script, real Celery workers (with the beat sweeper) on a queue of their own with short
leases and fast retries, and an `MlflowClient` of the live server that can act as any persona."""
from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.conftest import wait_for
from tests.jobs.conftest import JOB_ENV, BeatWorker

EVENTS_QUEUE = f"{os.environ.get('CELERY_QUEUE', 'explorer')}-events"
WEBHOOK_ENV = {
    "WEBHOOK_ALLOWED_HOSTS": "127.0.0.1",
    "WEBHOOK_RETRY_BACKOFF_MS": "200",
    "WEBHOOK_TIMEOUT_SECONDS": "3",
    "WEBHOOK_LEASE_SECONDS": "5",
}


class Receiver:
    """Records (headers, body) of each POST. `script` is a list of answers used in order (an int status, or
    "hang" to hold the request until `release` is set); once used up, `default` answers."""

    def __init__(self):
        self.requests: list[dict] = []
        self.script: list = []
        self.default = 200
        self.release = threading.Event()
        self.arrived = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                receiver.requests.append({"headers": {k.lower(): v for k, v in self.headers.items()}, "body": body})
                answer = receiver.script.pop(0) if receiver.script else receiver.default
                receiver.arrived.set()
                if answer == "hang":
                    receiver.release.wait(30)
                    return
                payload = json.dumps({"ok": answer < 300, "n": len(receiver.requests)}).encode()
                self.send_response(answer)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def payloads(self) -> list[dict]:
        return [json.loads(r["body"]) for r in list(self.requests)]

    def events(self) -> list[str]:
        return [f"{p['entity']}.{p['action']}" for p in self.payloads()]

    def wait(self, count: int, timeout: float = 30.0) -> list[dict]:
        wait_for(lambda: len(self.requests) >= count, timeout=timeout, message=f"{count} webhook requests")
        return self.requests

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(autouse=True)
def _webhook_settings(settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.WEBHOOK_RETRY_BACKOFF_MS = 200
    settings.WEBHOOK_TIMEOUT_SECONDS = 3
    settings.WEBHOOK_LEASE_SECONDS = 5
    settings.CELERY_TASK_DEFAULT_QUEUE = EVENTS_QUEUE
    settings.JOB_STALE_QUEUED_SECONDS = int(JOB_ENV["JOB_STALE_QUEUED_SECONDS"])


@pytest.fixture(autouse=True)
def _empty_queue(_webhook_settings):
    from explorer.celery import app

    with app.connection_for_write() as conn:
        conn.default_channel.queue_declare(queue=EVENTS_QUEUE)
        conn.default_channel.queue_purge(EVENTS_QUEUE)


@pytest.fixture
def start_worker(worker_env, tmp_path):
    """start_worker(**env) -> a started worker with beat on the events queue; all are stopped at the end."""
    started: list[BeatWorker] = []

    def start(**extra) -> BeatWorker:
        env = {**worker_env, **JOB_ENV, **WEBHOOK_ENV, "CELERY_QUEUE": EVENTS_QUEUE, **extra}
        n = len(started)
        worker = BeatWorker(env, tmp_path / f"worker-{n}.log", tmp_path / f"beat-{n}")
        worker.start(concurrency=1)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture
def mlflow_as(live_server, monkeypatch, token_for):
    """mlflow_as(user) -> an MlflowClient of the live server whose calls carry a fresh token of `user`."""
    from django.db import connections
    from mlflow.tracking import MlflowClient

    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", live_server.url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")

    def make(user) -> MlflowClient:
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token_for(user))
        return MlflowClient(tracking_uri=live_server.url, registry_uri=live_server.url)

    return make
