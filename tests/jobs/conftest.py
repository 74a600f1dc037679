"""Fixtures for the job tests: real Celery worker processes (with the beat sweeper) started per test with
short leases, fast retries and an optional copy throttle; a source model version with real artifacts; and
helpers to read the broker queue and to point this process's publisher at another broker."""
from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys

import pytest
import yaml
from django.conf import settings

from registry import storage
from registry.child_process import die_with_parent
from registry.jobs import execute
from registry.models import Job
from registry.services.catalogs import catalog_create, schema_create
from registry.services.grants import grant_add
from registry.services.models import registered_model_create
from registry.services.versions import model_version_create
from tests.conftest import ROOT, WorkerProcess, wait_for
from tests.registry.factories import make_run

# Short lease and sweep interval so a dead worker's job is taken over within seconds; a small attempts cap
# and fast backoff so a poison job reaches the cap quickly. The same values for this process and its workers.
JOB_ENV = {
    "JOB_LEASE_SECONDS": "3",
    "JOB_SWEEP_INTERVAL_SECONDS": "1",
    "JOB_STALE_QUEUED_SECONDS": "2",
    "JOB_RETRY_BACKOFF_MS": "200",
    "JOB_MAX_ATTEMPTS": "3",
    # Redis: an unacknowledged message of a killed worker comes back after this many seconds.
    "CELERY_VISIBILITY_TIMEOUT": "5",
}
SIGNATURE_MLMODEL = yaml.safe_dump({
    "artifact_path": "model",
    "flavors": {"python_function": {"loader_module": "mlflow.sklearn", "python_version": "3.11"}},
    "signature": {"inputs": '[{"type": "double", "name": "x"}]', "outputs": '[{"type": "long"}]'},
})


class BeatWorker(WorkerProcess):
    """A worker that also runs celery beat (the job sweeper), as `make run` does."""

    def __init__(self, env: dict, log_path, schedule_path):
        super().__init__(env, log_path)
        self.schedule_path = schedule_path

    def start(self, concurrency: int = 1) -> None:
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "explorer", "worker", "--beat", "--schedule",
             str(self.schedule_path), "--loglevel", "INFO", "--concurrency", str(concurrency),
             "--without-heartbeat", "--without-gossip", "--without-mingle"],
            cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=die_with_parent(signal.SIGKILL),
        )


@pytest.fixture(autouse=True)
def _job_settings(settings):
    for key, value in JOB_ENV.items():
        if key.startswith("JOB_"):
            setattr(settings, key, int(value))


# The session-wide worker of tests/conftest.py consumes the default queue; these tests start workers with their
# own settings (short leases, throttles), so their jobs go to a queue only those workers consume.
JOBS_QUEUE = f"{os.environ.get('CELERY_QUEUE', 'explorer')}-jobs"


@pytest.fixture(autouse=True)
def _own_queue(settings):
    settings.CELERY_TASK_DEFAULT_QUEUE = JOBS_QUEUE


@pytest.fixture(autouse=True)
def _empty_queue(_own_queue):
    """Messages left by an earlier test (retries, sweeper republishes) must not leak into this one."""
    from explorer.celery import app

    with app.connection_for_write() as conn:
        channel = conn.default_channel
        channel.queue_declare(queue=JOBS_QUEUE)
        channel.queue_purge(JOBS_QUEUE)
    yield


@pytest.fixture
def start_worker(worker_env, tmp_path, settings):
    """start_worker(throttle=0, concurrency=1, **env) -> a started BeatWorker; all are stopped at the end.
    A throttle applies to this (web) process too, as a deployment's settings do: a throttled copy is a byte copy
    on the worker, never a hard-linked copy made at once in the request (registration.copy_now)."""
    started: list[BeatWorker] = []

    def start(*, throttle: int = 0, concurrency: int = 1, **extra) -> BeatWorker:
        if throttle:
            settings.ARTIFACT_COPY_THROTTLE_BYTES_PER_SEC = throttle
        env = {**worker_env, **JOB_ENV, "CELERY_QUEUE": JOBS_QUEUE, "ARTIFACT_COPY_THROTTLE_BYTES_PER_SEC": str(throttle),
               **extra}
        n = len(started)
        worker = BeatWorker(env, tmp_path / f"worker-{n}.log", tmp_path / f"beat-{n}")
        worker.start(concurrency=concurrency)
        started.append(worker)
        return worker

    yield start
    for worker in started:
        worker.stop()


def queued_messages() -> int:
    """Messages waiting in this session's queue on the configured broker."""
    from explorer.celery import app

    with app.connection_for_write() as conn:
        return conn.default_channel.queue_declare(queue=settings.CELERY_TASK_DEFAULT_QUEUE).message_count


@contextlib.contextmanager
def publishing_to(url: str):
    """Point this process's Celery publisher (the web side) at `url` for the duration."""
    from explorer.celery import app

    def reset():
        app._pool = None
        app.amqp._producer_pool = None

    # Publishing uses the write URL (which defaults to broker_url when the app is configured).
    previous = app.conf.broker_write_url
    app.conf.broker_write_url = url
    reset()
    try:
        yield
    finally:
        app.conf.broker_write_url = previous
        reset()


def write_model_artifacts(location: str, *, files: int = 3, size: int = 4096) -> dict[str, str]:
    """An MLmodel with a signature plus `files` data files of `size` random bytes; returns sha256 by path."""
    contents = {"MLmodel": SIGNATURE_MLMODEL.encode()}
    for index in range(files):
        contents[f"data/part-{index}.bin"] = os.urandom(size)
    for rel, data in contents.items():
        import io

        storage.save_stream(f"{location}/{rel}", io.BytesIO(data))
    return {rel: hashlib.sha256(data).hexdigest() for rel, data in contents.items()}


def tree_digests(location: str) -> dict[str, str]:
    return {rel: storage.sha256_of(f"{location}/{rel}") for rel, _ in storage.walk_files(location)}


def logged_run(**kwargs):
    """A run whose `model` directory holds a loggable model; returns (run, sha256 by path)."""
    run = make_run()
    location = f"0/{run.run_id}/artifacts/model"
    return run, write_model_artifacts(location, **kwargs)


@pytest.fixture
def catalogs(admin, owner, reader):
    """prod.ml_team and staging.ml_team: `owner` may create models in both, `reader` may use them."""
    schemas = {}
    for name in ("prod", "staging"):
        catalog = catalog_create(actor=admin, name=name)
        schema = schema_create(actor=admin, catalog_name=name, name="ml_team")
        for user in (owner, reader):
            grant_add(actor=admin, securable=catalog, principal=user, privilege="USE CATALOG")
            grant_add(actor=admin, securable=schema, principal=user, privilege="USE SCHEMA")
        grant_add(actor=admin, securable=schema, principal=owner, privilege="CREATE MODEL")
        schemas[name] = schema
    return schemas


def ready_version(owner, name: str, **artifact_kwargs):
    """A READY three-level version registered from a fresh run (its register job run in this process)."""
    run, digests = logged_run(**artifact_kwargs)
    registered_model_create(actor=owner, name=name)
    mv = model_version_create(actor=owner, name=name, source=f"runs:/{run.run_id}/model",
                              description="first cut", tags={"task": "classification"})
    job = Job.objects.get(model_version=mv)
    assert execute(job.pk) == Job.State.SUCCEEDED
    mv.refresh_from_db()
    return mv, digests


def job_state(job_id: int) -> Job:
    return Job.objects.get(pk=job_id)


def wait_job(job_id: int, state: str = Job.State.SUCCEEDED, timeout: float = 60.0, worker=None) -> Job:
    def done():
        job = job_state(job_id)
        return job if job.is_finished else None

    try:
        job = wait_for(done, timeout=timeout, interval=0.2, message=f"job {job_id} to finish")
    except AssertionError:
        raise AssertionError(f"job {job_id} did not finish: {job_state(job_id).__dict__}\n"
                             + (worker.log_text()[-4000:] if worker else "")) from None
    assert job.state == state, (job.state, job.error, worker.log_text()[-4000:] if worker else "")
    return job
