"""kill -9 of any one process of `make run` (`python -m explorer.serve`) in the middle of a large registration:
the launcher restarts what died, a sweep republishes the job once its lease lapses, and the version ends READY
exactly once with every byte intact; Ctrl-C / SIGTERM of the launcher then leaves no process behind. On the
embedded defaults (SQLite + filesystem broker) and on PostgreSQL + Redis, each with a launcher of its own.

Size: every case registers the same ~300 MB source (3,000 files of 100 KiB plus the MLmodel), copied at
ARTIFACT_COPY_THROTTLE_BYTES_PER_SEC (64 MiB/s, ~5 s per full copy) so that the kill lands mid-copy."""
from __future__ import annotations

import hashlib
import logging
import os
import random
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable
from urllib.parse import urlparse

import psycopg2
import pytest
import redis
import requests

from explorer import serve
from registry.models import Job, ModelVersion
from registry.services.models import registered_model_create
from registry.services.versions import model_version_create
from tests.conftest import ROOT, WorkerProcess, wait_for
from tests.jobs.conftest import JOBS_QUEUE, JOB_ENV, SIGNATURE_MLMODEL, logged_run, publishing_to, wait_job

pytestmark = pytest.mark.slow

FILES, FILE_SIZE = 3000, 100 * 1024
THROTTLE = 64 * 1024 * 1024
ADMIN_PASSWORD = "launcher-admin-pw"
KILLS = ("web_master", "web_worker", "worker_main", "worker_pool", "scheduler")
# A kill in the worker makes a second attempt take the job over (proof that the kill landed mid-copy). More
# attempts are allowed: on a loaded machine a lease of a few seconds may lapse once in a while, and the takeover
# by another pool process is itself part of the mechanism under test.
MIN_ATTEMPTS = {"worker_main": 2, "worker_pool": 2, "scheduler": 2}
# Ctrl-C (SIGINT, as a terminal sends it) on one backend, SIGTERM (as a process manager sends it) on the other.
STOP_SIGNAL = {"embedded": signal.SIGINT, "postgres-redis": signal.SIGTERM}


# ---------------------------------------------------------------------------------------------- processes (/proc)

def process_table() -> dict[int, tuple[int, list[str]]]:
    """pid -> (parent pid, argv) of every process of this machine."""
    table = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        state, ppid = stat.rsplit(")", 1)[1].split()[:2]
        if state != "Z":  # a zombie has exited already; it only waits for its parent to reap it
            table[int(entry)] = (int(ppid), [arg.decode(errors="replace") for arg in argv if arg])
    return table


def children_of(pid: int, table=None) -> list[int]:
    table = table if table is not None else process_table()
    return [child for child, (ppid, _) in table.items() if ppid == pid]


def descendants(pid: int) -> set[int]:
    table = process_table()
    found, todo = set(), [pid]
    while todo:
        for child in children_of(todo.pop(), table):
            found.add(child)
            todo.append(child)
    return found


def alive(pids) -> set[int]:
    table = process_table()
    return {pid for pid in pids if pid in table}


# ---------------------------------------------------------------------------------------------- backends

def _postgres_and_redis() -> tuple[str, str]:
    database, broker = os.environ.get("DATABASE_URL", ""), os.environ.get("CELERY_BROKER_URL", "")
    if not database.startswith("postgres") or not broker.startswith("redis"):
        pytest.skip("needs DATABASE_URL=postgres://… and CELERY_BROKER_URL=redis://… (CI sets both)")
    return database, broker


def _admin_sql(database_url: str, *statements: str) -> None:
    """Statements such as CREATE DATABASE, on the maintenance database of the server of `database_url`."""
    url = urlparse(database_url)
    conn = psycopg2.connect(host=url.hostname or "127.0.0.1", port=url.port or 5432, user=url.username or "postgres",
                            password=url.password or None, dbname="postgres")
    conn.autocommit = True  # CREATE/DROP DATABASE cannot run in a transaction
    try:
        with conn.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    finally:
        conn.close()


def _purge_redis_queue(broker_url: str, queue: str) -> None:
    client = redis.Redis.from_url(broker_url)
    for key in client.scan_iter(match=f"{queue}*"):
        client.delete(key)


def backend_env(backend: str) -> tuple[dict, Callable[[], None]]:
    """Environment of a launcher on `backend` (on top of the ambient one), and a cleanup."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL")}
    if backend == "embedded":  # SQLite file and filesystem broker under VAR_DIR: the quick start's defaults
        return env, lambda: None
    database_url, broker_url = _postgres_and_redis()
    name = f"{urlparse(database_url).path.lstrip('/') or 'explorer'}_launcher"
    queue = f"{os.environ.get('CELERY_QUEUE', 'explorer')}-launcher"
    _admin_sql(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    env.update(DATABASE_URL=urlparse(database_url)._replace(path=f"/{name}").geturl(), CELERY_BROKER_URL=broker_url,
               REDIS_URL=broker_url, CELERY_QUEUE=queue)
    _purge_redis_queue(broker_url, queue)

    def cleanup():
        _purge_redis_queue(broker_url, queue)
        _admin_sql(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    return env, cleanup


# ---------------------------------------------------------------------------------------------- the launcher

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Launcher:
    """`python -m explorer.serve` on its own VAR_DIR and PORT, with an admin token to drive its API."""

    def __init__(self, backend: str, env: dict, var_dir: Path):
        self.backend, self.env, self.var_dir = backend, env, var_dir
        self.url = f"http://127.0.0.1:{env['PORT']}"
        self.log_path = var_dir / "serve.log"
        self.proc: subprocess.Popen | None = None
        self.session = requests.Session()
        self.seen: set[int] = set()  # every process of the launcher's tree seen so far

    def manage(self, *args: str) -> str:
        done = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env, capture_output=True,
                              text=True, timeout=180)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def start(self) -> None:
        # What `make run` does before it starts the launcher.
        self.manage("migrate", "--noinput", "-v0")
        self.manage("ensure_admin")
        token = self.manage("create_token", "admin").strip().splitlines()[-1]
        self.session.headers["Authorization"] = f"Bearer {token}"
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "explorer.serve"], cwd=ROOT, env=self.env,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.wait_healthy(timeout=90)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def log_tail(self, lines: int = 150) -> str:
        """The end of the log without gunicorn's access lines (the test's own polling)."""
        kept = [line for line in self.log_text().splitlines() if not line.startswith("127.0.0.1 - ")]
        return "\n".join(kept[-lines:])

    def tree(self) -> set[int]:
        pids = descendants(self.proc.pid)
        self.seen |= pids
        return pids

    def child(self, role: str) -> int:
        """pid of the launcher's child in `role` (web, worker, scheduler), waiting for it to be (re)started."""
        def find():
            for pid, (ppid, argv) in process_table().items():
                if ppid == self.proc.pid and _role(argv) == role:
                    return pid
            return None

        pid = wait_for(find, timeout=60, interval=0.1, message=f"the launcher's {role} process")
        self.tree()
        return pid

    def wait_healthy(self, timeout: float = 60) -> None:
        def healthy():
            assert self.proc.poll() is None, f"the launcher exited:\n{self.log_tail()}"
            try:
                return requests.get(f"{self.url}/healthz", timeout=5).status_code == 200
            except requests.RequestException:
                return False

        wait_for(healthy, timeout=timeout, interval=0.2, message="/healthz")

    def call(self, method: str, path: str, **kwargs) -> dict:
        """One API call; retried while the web server is being restarted (connection refused, or cut in the middle
        of an answer by the kill)."""
        deadline = time.monotonic() + 60
        while True:
            try:
                response = self.session.request(method, f"{self.url}{path}", timeout=30, **kwargs)
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
                continue
            assert response.status_code == 200, (method, path, response.status_code, response.text[:500])
            return response.json() if response.content else {}

    def stop(self, sig=signal.SIGTERM, timeout: float = 40) -> int | None:
        """Signal the launcher and wait for it; returns its exit code (None if it did not stop in time)."""
        try:
            if self.proc is None or self.proc.poll() is not None:
                return self.proc.returncode if self.proc else None
            self.tree()
            os.kill(self.proc.pid, sig)
            try:
                return self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                return None
        finally:
            for pid in self.leftovers(self.seen):  # never leave a test's processes behind, whatever happened
                os.kill(pid, signal.SIGKILL)

    def leftovers(self, pids) -> set[int]:
        """Those of `pids` that still run as processes of this launcher (a pid may have been reused since)."""
        marker = f"VAR_DIR={self.var_dir}\0".encode()
        found = set()
        for pid in alive(pids):
            try:
                if marker in Path(f"/proc/{pid}/environ").read_bytes():
                    found.add(pid)
            except OSError:
                pass
        return found


def _role(argv: list[str]) -> str | None:
    program = " ".join(argv[:2])
    if "gunicorn" in program:
        return "web"
    if "celery" in program:
        return "worker" if "worker" in argv else "scheduler" if "beat" in argv else None
    return None


# ---------------------------------------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def source_tree(tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The data files of a large model (3,000 files, ~300 MB) and their SHA-256 by relative path."""
    root = tmp_path_factory.mktemp("large-model")
    rng = random.Random(11)
    digests = {}
    for index in range(FILES):
        rel = f"data/shard-{index // 100:02d}/part-{index:04d}.bin"
        data = rng.randbytes(FILE_SIZE)
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
        digests[rel] = hashlib.sha256(data).hexdigest()
    return root, digests


@pytest.fixture(scope="module", params=["embedded", "postgres-redis"])
def launcher(request, tmp_path_factory):
    env, cleanup = backend_env(request.param)
    var_dir = tmp_path_factory.mktemp(f"launcher-{request.param}")
    env.update({key: value for key, value in JOB_ENV.items() if key.startswith("JOB_")})
    env["JOB_MAX_ATTEMPTS"] = "5"  # room for a lease that lapses on a loaded machine besides the kill
    env.update(VAR_DIR=str(var_dir), PORT=str(free_port()), ADMIN_PASSWORD=ADMIN_PASSWORD,
               ARTIFACT_COPY_THROTTLE_BYTES_PER_SEC=str(THROTTLE),
               # Redis would hand a killed worker's unacknowledged message back after this; make it long, so the
               # lost delivery is recovered by the sweep alone, as on the filesystem broker.
               CELERY_VISIBILITY_TIMEOUT="3600")
    launcher = Launcher(request.param, env, var_dir)
    try:
        launcher.start()
        yield launcher
    finally:
        launcher.stop()
        cleanup()
        shutil.rmtree(var_dir, ignore_errors=True)  # ~2 GB of copies


@pytest.fixture(scope="module")
def source_run(launcher, source_tree) -> str:
    """A run of the launcher whose `model` directory holds the large model: the MLmodel uploaded through the
    artifacts API, the data files placed in the run's artifact directory (hard links: 3,000 uploads would take
    minutes; the copy then checksums the source itself, as it does for files written before the manifest)."""
    run_id = launcher.call("POST", "/api/2.0/mlflow/runs/create", json={"experiment_id": "0"})["run"]["info"]["run_id"]
    launcher.call("PUT", f"/api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/model/MLmodel",
                  data=SIGNATURE_MLMODEL.encode())
    root, digests = source_tree
    model_dir = launcher.var_dir / "artifacts" / "0" / run_id / "artifacts" / "model"
    for rel in digests:
        (model_dir / rel).parent.mkdir(parents=True, exist_ok=True)
        os.link(root / rel, model_dir / rel)
    launcher.call("POST", "/api/2.1/unity-catalog/catalogs", json={"name": "prod"})
    launcher.call("POST", "/api/2.1/unity-catalog/schemas", json={"name": "ml_team", "catalog_name": "prod"})
    return run_id


def expected_digests(source_tree) -> dict[str, str]:
    return {**source_tree[1], "MLmodel": hashlib.sha256(SIGNATURE_MLMODEL.encode()).hexdigest()}


def managed_digests(launcher: Launcher, name: str) -> dict[str, str]:
    uri = launcher.call("GET", "/api/2.0/mlflow/model-versions/get-download-uri",
                        params={"name": name, "version": "1"})["artifact_uri"]
    root = launcher.var_dir / "artifacts" / uri.split(":/", 1)[1]
    digests = {}
    for path in root.rglob("*"):
        if path.is_file():
            with open(path, "rb") as handle:
                digests[str(path.relative_to(root))] = hashlib.file_digest(handle, "sha256").hexdigest()
    return digests


# ---------------------------------------------------------------------------------------------- the kills

def register(launcher: Launcher, name: str, run_id: str) -> int:
    launcher.call("POST", "/api/2.0/mlflow/registered-models/create", json={"name": name})
    launcher.call("POST", "/api/2.0/mlflow/model-versions/create",
                  json={"name": name, "source": f"runs:/{run_id}/model", "run_id": run_id})
    return launcher.call("GET", "/api/2.0/explorer/jobs", params={"model": name})["jobs"][0]["id"]


def wait_mid_copy(launcher: Launcher, job_id: int) -> None:
    def mid_copy():
        job = launcher.call("GET", f"/api/2.0/explorer/jobs/{job_id}")
        assert job["state"] in ("QUEUED", "RUNNING"), job
        return job["state"] == "RUNNING" and job["bytes_total"] and job["bytes_done"] >= job["bytes_total"] // 5

    wait_for(mid_copy, timeout=60, interval=0.1, message="the copy to be under way")


def lease_owner(launcher: Launcher, job_id: int) -> str:
    """The job's lease owner, `host:pid:task`, read from the launcher's own database."""
    database_url = launcher.env.get("DATABASE_URL", "")
    if database_url.startswith("postgres"):
        url = urlparse(database_url)
        conn = psycopg2.connect(host=url.hostname or "127.0.0.1", port=url.port or 5432,
                                user=url.username or "postgres", password=url.password or None,
                                dbname=url.path.lstrip("/"))
    else:
        conn = sqlite3.connect(launcher.var_dir / "db.sqlite3", timeout=10)
    try:
        cursor = conn.cursor()
        cursor.execute(f"SELECT lease_owner FROM {Job._meta.db_table} WHERE id = {int(job_id)}")
        return cursor.fetchone()[0]
    finally:
        conn.close()


def copying_pool_process(launcher: Launcher, job_id: int) -> int:
    """The Celery pool process that holds the job's lease: the one doing the copy. (Its open files are no guide:
    the throttle sleeps between files, so a poll of /proc/<pid>/fd mostly sees none open.)"""
    pool = set(children_of(launcher.child("worker")))

    def find():
        parts = lease_owner(launcher, job_id).split(":")
        pid = int(parts[1]) if len(parts) >= 2 and parts[1].isdigit() else None
        return pid if pid in pool else None

    return wait_for(find, timeout=20, interval=0.05, message="the pool process holding the job's lease")


def kill(launcher: Launcher, what: str, job_id: int) -> tuple[dict[str, int], set[int]]:
    """kill -9 the process(es) of case `what`. Returns {role: pid} of the launcher's children that were killed,
    and every process that was in the killed processes' trees (all of which must be gone afterwards)."""
    if what == "web_master":
        victims = {"web": launcher.child("web")}
    elif what == "web_worker":
        victims = {"gunicorn worker": children_of(launcher.child("web"))[0]}
    elif what == "worker_main":
        victims = {"worker": launcher.child("worker")}
    elif what == "worker_pool":
        victims = {"pool process": copying_pool_process(launcher, job_id)}
    else:
        # The case: the scheduler dies, then a job's delivery is lost with its worker (the filesystem
        # broker forgets a message once delivered). Only a sweep, after the lease lapses, brings the job back.
        victims = {"scheduler": launcher.child("scheduler"), "worker": launcher.child("worker")}
    launcher.tree()
    trees = set()
    for pid in victims.values():
        trees |= {pid} | descendants(pid)
    for pid in victims.values():
        os.kill(pid, signal.SIGKILL)
    return {role: pid for role, pid in victims.items() if role in ("web", "worker", "scheduler")}, trees


@pytest.mark.parametrize("what", KILLS)
def test_registration_survives_kill_9(launcher, source_run, source_tree, what):
    try:
        registration_survives(launcher, source_run, source_tree, what)
    except AssertionError as failure:
        raise AssertionError(f"{failure}\n--- launcher log ---\n{launcher.log_tail()}") from None


def registration_survives(launcher: Launcher, source_run: str, source_tree, what: str) -> None:
    name = f"prod.ml_team.killed_{what}"
    before = {role: launcher.child(role) for role in ("web", "worker", "scheduler")}
    job_id = register(launcher, name, source_run)
    wait_mid_copy(launcher, job_id)
    killed, killed_trees = kill(launcher, what, job_id)

    def finished():
        job = launcher.call("GET", f"/api/2.0/explorer/jobs/{job_id}")
        return job if job["state"] in ("SUCCEEDED", "FAILED") else None

    try:
        job = wait_for(finished, timeout=120, interval=0.3, message=f"job {job_id} to finish after the kill")
    except AssertionError as timeout:
        raise AssertionError(f"{timeout}: {launcher.call('GET', f'/api/2.0/explorer/jobs/{job_id}')}") from None
    assert job["state"] == "SUCCEEDED", job
    assert job["attempts"] >= MIN_ATTEMPTS.get(what, 1), job

    # Exactly once: one version, READY; one job for it; every byte as in the source.
    versions = launcher.call("GET", "/api/2.0/mlflow/model-versions/search",
                             params={"filter": f"name='{name}'"})["model_versions"]
    assert [(v["version"], v["status"]) for v in versions] == [("1", "READY")]
    jobs = launcher.call("GET", "/api/2.0/explorer/jobs", params={"model": name})["jobs"]
    assert [(j["id"], j["state"]) for j in jobs] == [(job_id, "SUCCEEDED")]
    assert managed_digests(launcher, name) == expected_digests(source_tree)

    # What died was restarted by the launcher (and logged), what did not die was left alone, and the web
    # server answers again.
    launcher.wait_healthy()
    for role, pid in before.items():
        now = launcher.child(role)
        if role in killed:
            assert now != pid
            assert f"{role} (pid {pid}) died (signal SIGKILL)" in launcher.log_text()
        else:
            assert now == pid, f"{role} was restarted although it did not die"
    # Nothing of a killed process lives on: no orphaned gunicorn worker, no pool process copying for nobody.
    assert launcher.leftovers(killed_trees) == set()


def test_stopping_the_launcher_leaves_no_process_behind(launcher):
    """Runs after the kills: the processes of every incarnation (restarted children, their workers and pool
    processes) must all be gone once the launcher has stopped."""
    launcher.child("worker")
    launcher.child("scheduler")
    launcher.wait_healthy()
    running = launcher.tree()
    assert len(running) >= 7, running  # gunicorn + 2 workers, Celery + 2 pool processes, the scheduler
    started = time.monotonic()
    code = launcher.stop(STOP_SIGNAL[launcher.backend])
    assert code == 0, launcher.log_tail()
    assert time.monotonic() - started < 30
    leftovers = launcher.leftovers(launcher.seen)
    assert leftovers == set(), [process_table().get(pid) for pid in leftovers]
    with pytest.raises(requests.ConnectionError):
        requests.get(f"{launcher.url}/healthz", timeout=5)


# ---------------------------------------------------------------------------------------------- without a scheduler

@pytest.mark.django_db(transaction=True)
def test_a_worker_recovers_stale_jobs_when_it_starts_even_without_a_scheduler(catalogs, owner, worker_env, tmp_path):
    run, _ = logged_run()
    registered_model_create(actor=owner, name="prod.ml_team.stranded")
    with publishing_to("redis://127.0.0.1:6390/0"):  # nothing listens there: the delivery is lost
        mv = model_version_create(actor=owner, name="prod.ml_team.stranded", source=f"runs:/{run.run_id}/model")
    job = Job.objects.get(model_version=mv)
    assert job.state == Job.State.QUEUED and job.celery_task_id == ""
    time.sleep(int(JOB_ENV["JOB_STALE_QUEUED_SECONDS"]))  # stale from now on
    # A plain worker, no scheduler anywhere: its own sweep at start publishes the stranded job.
    worker = WorkerProcess({**worker_env, **JOB_ENV, "CELERY_QUEUE": JOBS_QUEUE}, tmp_path / "worker.log")
    worker.start()
    try:
        wait_job(job.pk, worker=worker, timeout=60)
    finally:
        worker.stop()
    assert ModelVersion.objects.get(pk=mv.pk).status == "READY"


# ---------------------------------------------------------------------------------------------- backoff

def test_a_child_that_dies_at_once_is_restarted_with_a_growing_delay(monkeypatch, caplog):
    monkeypatch.setattr(serve, "FIRST_DELAY", 0.1)
    monkeypatch.setattr(serve, "MAX_DELAY", 0.8)
    child = serve.Child("crasher", [sys.executable, "-c", "raise SystemExit(3)"])
    deadline = time.monotonic() + 3
    with caplog.at_level(logging.INFO, logger="explorer.serve"):
        serve.supervise([child], lambda: time.monotonic() > deadline)
    # 0.1 + 0.2 + 0.4 + 0.8 + 0.8 … seconds apart: a handful of restarts in 3 s, not a spin.
    assert 3 <= child.restarts <= 6, child.restarts
    assert child.delay == 0.8
    restarts = [r.getMessage() for r in caplog.records if "died" in r.getMessage()]
    assert len(restarts) == child.restarts
    assert "crasher (pid" in restarts[0] and "died (exit code 3)" in restarts[0] and "restart #1" in restarts[0]


def test_the_delay_starts_over_after_a_stable_run():
    assert serve.next_delay(0, lived=0.5) == serve.FIRST_DELAY
    assert serve.next_delay(4, lived=0.5) == 8
    assert serve.next_delay(serve.MAX_DELAY, lived=0.5) == serve.MAX_DELAY
    assert serve.next_delay(16, lived=serve.STABLE_AFTER + 1) == serve.FIRST_DELAY
