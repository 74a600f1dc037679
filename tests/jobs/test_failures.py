"""Failures that must neither be lost nor block the queue: a poison job ends FAILED after the attempts cap with
its error kept while other jobs keep running; a clean-up job really deletes; a job started while the broker
is down is stored and runs once the broker is back; a job of a rolled-back transaction never runs."""
from __future__ import annotations

import os
import time

import pytest
from django.db import transaction

from registry.jobs import publish_on_commit
from registry.models import Job, ModelVersion
from registry.services.models import registered_model_create
from registry.services.versions import model_version_create, model_version_delete
from tests.jobs.conftest import JOB_ENV, logged_run, publishing_to, queued_messages, ready_version, wait_job

pytestmark = pytest.mark.django_db(transaction=True)

CLOSED_BROKER = "redis://127.0.0.1:6390/0"  # nothing listens there


def test_poison_job_fails_after_the_attempts_cap_while_other_jobs_run(catalogs, owner, start_worker, settings):
    # Malformed data (as an older release might have written) makes the real clean-up code crash every time.
    poison = Job.objects.create(kind=Job.Kind.DELETE_ARTIFACTS, params={"prefixes": 7}, created_by=owner)
    publish_on_commit(poison)  # outside an atomic block: published at once
    worker = start_worker(concurrency=1)
    # While the poison job is retried with backoff, a real registration and a real clean-up get through.
    source, _ = ready_version(owner, "prod.ml_team.iris")
    location = source.managed_location.split(":/", 1)[1]
    run, _ = logged_run()
    fresh = model_version_create(actor=owner, name="prod.ml_team.iris", source=f"runs:/{run.run_id}/model")
    register = wait_job(Job.objects.get(model_version=fresh).pk, worker=worker)
    model_version_delete(actor=owner, name="prod.ml_team.iris", version=1)
    cleanup = Job.objects.filter(kind=Job.Kind.DELETE_ARTIFACTS).exclude(pk=poison.pk).get()
    cleanup = wait_job(cleanup.pk, worker=worker)
    assert not os.path.exists(os.path.join(settings.ARTIFACT_ROOT, location))

    failed = wait_job(poison.pk, Job.State.FAILED, worker=worker)
    assert failed.attempts == int(JOB_ENV["JOB_MAX_ATTEMPTS"])
    assert "Gave up after 3 attempts" in failed.error and "has no len()" in failed.error and failed.finished_at
    assert register.finished_at < failed.finished_at and cleanup.finished_at < failed.finished_at
    # It stays failed: later sweeps do not pick it up again.
    time.sleep(2)
    assert Job.objects.get(pk=poison.pk).attempts == failed.attempts


def test_broker_down_when_a_job_starts_answers_promptly_and_runs_when_the_broker_is_back(catalogs, owner, start_worker):
    run, _ = logged_run()
    registered_model_create(actor=owner, name="prod.ml_team.iris")
    with publishing_to(CLOSED_BROKER):
        began = time.monotonic()
        mv = model_version_create(actor=owner, name="prod.ml_team.iris", source=f"runs:/{run.run_id}/model")
        elapsed = time.monotonic() - began
    assert elapsed < 5, f"starting a job took {elapsed:.1f}s with the broker down"
    job = Job.objects.get(model_version=mv)
    assert job.state == Job.State.QUEUED and job.celery_task_id == ""
    assert queued_messages() == 0
    time.sleep(1)
    assert Job.objects.get(pk=job.pk).state == Job.State.QUEUED
    # A worker on a working broker: its sweeper publishes the stored job and it runs.
    worker = start_worker()
    wait_job(job.pk, worker=worker)
    assert ModelVersion.objects.get(pk=mv.pk).status == "READY"


def test_job_enqueued_in_a_rolled_back_transaction_never_runs(catalogs, owner, start_worker, settings):
    run, _ = logged_run()
    registered_model_create(actor=owner, name="prod.ml_team.doomed")
    registered_model_create(actor=owner, name="prod.ml_team.kept")
    doomed_model_location = None
    with pytest.raises(RuntimeError):
        with transaction.atomic():
            doomed = model_version_create(actor=owner, name="prod.ml_team.doomed", source=f"runs:/{run.run_id}/model")
            doomed_model_location = doomed.managed_location.split(":/", 1)[1]
            assert Job.objects.filter(model_version=doomed).exists()
            raise RuntimeError("the request failed after starting the job")
    assert not Job.objects.exists()
    assert queued_messages() == 0  # nothing was published
    kept = model_version_create(actor=owner, name="prod.ml_team.kept", source=f"runs:/{run.run_id}/model")
    assert queued_messages() == 1  # the committed one was
    worker = start_worker()
    wait_job(Job.objects.get(model_version=kept).pk, worker=worker)
    time.sleep(2)  # two sweeps more
    assert Job.objects.count() == 1
    assert not os.path.exists(os.path.join(settings.ARTIFACT_ROOT, doomed_model_location))
    # The worker received exactly one job message: the committed one.
    received = [line for line in worker.log_text().splitlines() if "registry.tasks.run_job[" in line and "received" in line]
    assert len(received) == 1, received


def test_registering_from_a_silently_corrupted_source_fails_at_once_with_the_reason(catalogs, owner, settings):
    """The manifest says what the uploaded bytes were; a stored file that changed without a write (same size,
    mtime and inode) is reported, not copied, and retrying would not help: FAILED on the first attempt."""
    from registry.jobs import execute

    # A byte copy reads every byte and so finds the rot; a hard-linked copy reads none (it shares the bytes).
    settings.ARTIFACT_COPY_LINKS = False
    run, _ = logged_run(files=1, size=8 * 1024 * 1024)
    path = os.path.join(settings.ARTIFACT_ROOT, f"0/{run.run_id}/artifacts/model/data/part-0.bin")
    before = os.stat(path)
    with open(path, "r+b") as handle:
        handle.seek(12345)
        handle.write(b"\x00\x01\x02")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    registered_model_create(actor=owner, name="prod.ml_team.iris")
    mv = model_version_create(actor=owner, name="prod.ml_team.iris", source=f"runs:/{run.run_id}/model")
    job = Job.objects.get(model_version=mv)
    assert execute(job.pk) == Job.State.FAILED
    job.refresh_from_db()
    assert job.attempts == 1
    assert "data/part-0.bin no longer matches the checksum recorded when it was uploaded" in job.error
    mv.refresh_from_db()
    assert mv.status == "FAILED_REGISTRATION" and "corrupted" in mv.status_message
