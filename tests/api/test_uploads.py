"""Uploads over a real gunicorn server (what `make run` serves with; the development server cannot decode chunked
bodies): an upload is stored whole or refused, never truncated. curl sends HTTP/1.0 bodies without a length,
chunked artifact and JSON bodies, and lying Content-Lengths; a worker killed mid-upload leaves a partial file
that the periodic sweep removes while the partial of a live upload stays."""
from __future__ import annotations

import hashlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest

from registry.models import Experiment, RegisteredModel, Run
from registry.services.tokens import token_create
from tests.conftest import wait_for

ROOT = Path(__file__).resolve().parents[2]
JSON_LIMIT = 64 * 1024  # DATA_UPLOAD_MAX_MEMORY_SIZE of the server under test
PARTIAL = ".partial-upload-"

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@dataclass
class Server:
    port: int
    root: Path
    workers_file: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def worker_pids(self) -> list[int]:
        return [int(line) for line in self.workers_file.read_text().split()]

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.url}/healthz", timeout=2) as response:
                return response.status == 200
        except OSError:
            return False


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def server(worker_env, tmp_path, settings):
    """gunicorn with one sync worker (as `make run` starts it) on the test database and a temporary store."""
    root = tmp_path / "artifacts"
    root.mkdir()
    settings.ARTIFACT_ROOT = root
    workers_file = tmp_path / "workers"
    workers_file.touch()
    config = tmp_path / "gunicorn_conf.py"
    config.write_text(  # tells the test which process to kill
        "def post_fork(server, worker):\n"
        f"    with open({str(workers_file)!r}, 'a') as f:\n"
        "        f.write(f'{worker.pid}\\n')\n"
    )
    port = free_port()
    env = {**worker_env, "ARTIFACT_ROOT": str(root), "DATA_UPLOAD_MAX_MEMORY_SIZE": str(JSON_LIMIT)}
    log = open(tmp_path / "gunicorn.log", "ab")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "gunicorn"), "explorer.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", "1", "--timeout", "60", "--config", str(config)],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    running = Server(port, root, workers_file)
    try:
        wait_for(lambda: proc.poll() is not None or running.healthy(), timeout=60, message="gunicorn to start")
        assert proc.poll() is None, (tmp_path / "gunicorn.log").read_text()
        yield running
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


@dataclass
class Target:
    token: str
    base: str  # the run's artifact directory, relative to the store root


@pytest.fixture
def target(make_user) -> Target:
    user = make_user("uploader")
    now = int(time.time() * 1000)
    experiment = Experiment.objects.create(id=77, name="uploads", artifact_location="mlflow-artifacts:/77",
                                           owner_user=user, creation_time=now, last_update_time=now)
    run_id = uuid.uuid4().hex
    Run.objects.create(run_id=run_id, experiment=experiment, owner=user,
                       artifact_uri=f"mlflow-artifacts:/77/{run_id}/artifacts")
    return Target(token=token_create(actor=user, user=user)[1], base=f"77/{run_id}/artifacts")


def artifact_url(server: Server, target: Target, name: str) -> str:
    return f"{server.url}/api/2.0/mlflow-artifacts/artifacts/{target.base}/{name}"


def curl(*args: str, timeout: float = 60) -> tuple[int, bytes]:
    """(HTTP status, body) of one curl call; status 0 when curl got no answer. No `Expect: 100-continue`, so
    the body follows the headers at once (and the interim 100 is never taken for the answer)."""
    result = subprocess.run(["curl", "-sS", "-H", "Expect:", "-o", "-", "-w", "\n%{http_code}", *args],
                            capture_output=True, timeout=timeout)
    body, _, code = result.stdout.rpartition(b"\n")
    return int(code or 0), body


def partials(root: Path) -> list[Path]:
    return sorted(root.rglob(f"{PARTIAL}*"))


@pytest.fixture
def payload(tmp_path) -> Path:
    path = tmp_path / "payload.bin"
    path.write_bytes(os.urandom(5 * 1024 * 1024 + 7))
    return path


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# --- bodies whose length the server cannot know -----------------------------------------------------------

def test_http10_upload_without_length_is_refused_with_411(server, target, payload):
    auth = f"Authorization: Bearer {target.token}"
    # curl -0 with the header removed: an HTTP/1.0 body delimited only by closing the connection.
    status, body = curl("-0", "-X", "PUT", "--data-binary", f"@{payload}", "-H", "Content-Length:", "-H", auth,
                        artifact_url(server, target, "model.bin"))
    assert status == 411, body
    assert json.loads(body)["error_code"] == "LENGTH_REQUIRED"
    assert not (server.root / target.base / "model.bin").exists()
    assert partials(server.root) == []


def test_empty_content_length_header_stores_nothing(server, target, payload):
    status, _ = curl("-X", "PUT", "--data-binary", f"@{payload}", "-H", "Content-Length;",
                     "-H", f"Authorization: Bearer {target.token}", artifact_url(server, target, "model.bin"))
    assert 400 <= status < 500  # gunicorn itself refuses the malformed header
    assert not (server.root / target.base / "model.bin").exists()


# --- chunked bodies are read whole ------------------------------------------------------------------------

def test_chunked_upload_is_stored_whole(server, target, payload):
    # `-T -` reads stdin, whose length curl does not know: it sends the body chunked.
    with open(payload, "rb") as stdin:
        result = subprocess.run(["curl", "-sS", "-w", "%{http_code}", "-T", "-",
                                 "-H", f"Authorization: Bearer {target.token}",
                                 artifact_url(server, target, "model.bin")],
                                stdin=stdin, capture_output=True, timeout=60)
    assert result.stdout.endswith(b"200"), result
    stored = server.root / target.base / "model.bin"
    assert stored.stat().st_size == payload.stat().st_size
    assert sha256(stored) == sha256(payload)


def test_empty_chunked_upload_is_an_empty_file(server, target, tmp_path):
    # What the requests library (and so the MLflow client) sends for an empty file.
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    status, body = curl("-X", "PUT", "-H", "Transfer-Encoding: chunked", "--data-binary", f"@{empty}",
                        "-H", f"Authorization: Bearer {target.token}", artifact_url(server, target, "empty.txt"))
    assert status == 200, body
    assert (server.root / target.base / "empty.txt").read_bytes() == b""


def test_chunked_json_body_is_read(server, target):
    status, body = curl("-X", "POST", "-H", "Transfer-Encoding: chunked", "-H", "Content-Type: application/json",
                        "--data-binary", json.dumps({"name": "ChunkedModel", "description": "x" * 20000}),
                        "-H", f"Authorization: Bearer {target.token}",
                        f"{server.url}/api/2.0/mlflow/registered-models/create")
    assert status == 200, body
    assert json.loads(body)["registered_model"]["name"] == "ChunkedModel"
    assert RegisteredModel.objects.get(name="ChunkedModel").description == "x" * 20000


def test_chunked_json_body_is_bounded_by_data_upload_max_memory_size(server, target):
    status, body = curl("-X", "POST", "-H", "Transfer-Encoding: chunked", "-H", "Content-Type: application/json",
                        "--data-binary", json.dumps({"name": "TooBig", "description": "x" * (JSON_LIMIT + 1)}),
                        "-H", f"Authorization: Bearer {target.token}",
                        f"{server.url}/api/2.0/mlflow/registered-models/create")
    assert status == 400, body
    assert json.loads(body) == {"error_code": "INVALID_PARAMETER_VALUE", "message": "Request body is too large."}
    assert not RegisteredModel.objects.filter(name="TooBig").exists()


@pytest.mark.parametrize("path", ["mlflow-artifacts/artifacts/{base}/model.bin", "mlflow/registered-models/create"])
def test_chunked_body_cut_before_its_last_chunk_is_a_400_and_stores_nothing(server, target, path):
    method = "PUT" if "artifacts" in path else "POST"
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(
        f"{method} /api/2.0/{path.format(base=target.base)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {target.token}\r\nContent-Type: application/json\r\n"
        "Transfer-Encoding: chunked\r\n\r\n".encode() + b"1000\r\n" + b'{"name": "Cut"' + b" " * (4096 - 14) + b"\r\n"
    )
    sock.shutdown(socket.SHUT_WR)  # the client goes away before the terminating 0-length chunk
    assert response_status(sock) == 400
    sock.close()
    assert not (server.root / target.base / "model.bin").exists()
    assert partials(server.root) == []
    assert not RegisteredModel.objects.exists()


# --- lying Content-Length ---------------------------------------------------------------------------------

def test_content_length_longer_than_the_body_stores_nothing(server, target, payload):
    stored = server.root / target.base / "model.bin"
    stored.parent.mkdir(parents=True)
    stored.write_bytes(b"previous")
    # curl sends 5 MB, then waits for an answer the server cannot give before the rest arrives; it gives up.
    status, _ = curl("-X", "PUT", "--data-binary", f"@{payload}",
                     "-H", f"Content-Length: {payload.stat().st_size + 1000}", "-m", "3",
                     "-H", f"Authorization: Bearer {target.token}", artifact_url(server, target, "model.bin"))
    assert status == 0
    # Its connection closed, the server sees the body end early: the upload is refused and its partial removed.
    wait_for(lambda: not partials(server.root) and server.healthy(), timeout=30, message="the refusal")
    assert stored.read_bytes() == b"previous"


def test_content_length_shorter_than_the_body_stores_exactly_the_announced_bytes(server, target, payload):
    # HTTP frames the body by its Content-Length: the request is its first 1000 bytes, and they are stored
    # whole. The rest is no part of it (gunicorn refuses it as a malformed next request).
    status, body = curl("-X", "PUT", "--data-binary", f"@{payload}", "-H", "Content-Length: 1000",
                        "-H", f"Authorization: Bearer {target.token}", artifact_url(server, target, "model.bin"))
    assert status == 200, body
    assert (server.root / target.base / "model.bin").read_bytes() == payload.read_bytes()[:1000]


# --- a worker killed mid-upload ---------------------------------------------------------------------------

def start_upload(server: Server, target: Target, name: str, total: int, first: bytes) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(
        f"PUT /api/2.0/mlflow-artifacts/artifacts/{target.base}/{name} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        f"Authorization: Bearer {target.token}\r\nContent-Type: application/octet-stream\r\n"
        f"Content-Length: {total}\r\n\r\n".encode() + first
    )
    return sock


def response_status(sock: socket.socket) -> int:
    data = b""
    while b"\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            break
        data += chunk
    return int(data.split(b" ", 2)[1])


def test_partial_file_of_a_killed_worker_is_swept_and_a_live_upload_is_not(server, target, settings):
    from registry.tasks import sweep_partial_uploads

    # The scheduler runs the sweep; it finds partial files not written to for an hour by default.
    assert settings.CELERY_BEAT_SCHEDULE["sweep-partial-uploads"]["task"] == "registry.tasks.sweep_partial_uploads"
    assert settings.ARTIFACT_PARTIAL_UPLOAD_MAX_AGE_SECONDS == 3600

    mib = 1024 * 1024
    doomed = start_upload(server, target, "big.bin", 32 * mib, os.urandom(4 * mib))
    orphan = wait_for(lambda: [p for p in partials(server.root) if p.stat().st_size >= mib], timeout=30,
                      message="the upload's partial file")[0]
    worker = server.worker_pids()[-1]
    os.kill(worker, signal.SIGKILL)
    doomed.close()
    wait_for(lambda: server.worker_pids()[-1] != worker and server.healthy(), timeout=60,
             message="gunicorn to replace the worker")
    assert orphan.exists()  # nothing in the dead process could remove it

    first, rest = os.urandom(2 * mib), os.urandom(3 * mib)
    live = start_upload(server, target, "live.bin", len(first) + len(rest), first)
    fresh = wait_for(lambda: [p for p in partials(server.root) if p != orphan], timeout=30,
                     message="the live upload's partial file")[0]
    hour_ago = time.time() - 3601
    os.utime(orphan, (hour_ago, hour_ago))

    assert sweep_partial_uploads() == 1
    assert not orphan.exists()
    assert fresh.exists()

    live.sendall(rest)
    assert response_status(live) == 200
    live.close()
    assert (server.root / target.base / "live.bin").read_bytes() == first + rest
    assert partials(server.root) == []
