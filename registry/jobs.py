"""Jobs are rows; Celery only carries their ids. This module creates jobs, publishes them after commit,
claims them with a database lease (so a duplicate delivery is a no-op) and moves them through their states."""
from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from registry.errors import RegistryError
from registry.models import Job, ModelVersion

log = logging.getLogger(__name__)

LEASE_SECONDS = 60
MAX_ATTEMPTS = 5
_STALE_QUEUED_SECONDS = 30


class JobFailed(Exception):
    """An expected failure with a message for the user: the job ends FAILED without retrying."""


class LeaseHeld(Exception):
    def __init__(self, seconds_left: float):
        super().__init__(f"job is leased by another worker for {seconds_left:.0f}s")
        self.seconds_left = seconds_left


def _publish(job_id: int) -> None:
    from registry.tasks import run_job

    try:
        result = run_job.apply_async(args=[job_id], retry=False)
    except Exception:  # broker down: the job row stays QUEUED and the sweeper publishes it later
        log.warning("could not publish job %s; it stays queued until the broker is back", job_id, exc_info=True)
        return
    Job.objects.filter(pk=job_id, celery_task_id="").update(celery_task_id=result.id or "")


def publish_on_commit(job: Job) -> None:
    job_id = job.pk
    transaction.on_commit(lambda: _publish(job_id))


def start_registration(*, actor, version: ModelVersion, source_location: str) -> Job:
    job = Job.objects.create(
        kind=Job.Kind.REGISTER, created_by=actor if actor and actor.is_authenticated else None,
        model=version.model, model_version=version,
        params={"source_location": source_location, "destination": version.managed_location.split(":/", 1)[1]},
        message="Waiting for a worker",
    )
    publish_on_commit(job)
    return job


def start_artifact_cleanup(*, actor, prefixes: list[str]) -> Job:
    job = Job.objects.create(
        kind=Job.Kind.DELETE_ARTIFACTS, created_by=actor if actor and actor.is_authenticated else None,
        params={"prefixes": prefixes}, message="Waiting for a worker",
    )
    publish_on_commit(job)
    return job


def _worker_id(task_id: str) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{task_id}"[:128]


def claim(job_id: int, task_id: str) -> Job | None:
    """Take the job's lease. None when there is nothing to do (finished, gone, or over the attempts cap);
    LeaseHeld when another live worker holds it."""
    now = timezone.now()
    owner = _worker_id(task_id)
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.is_finished:
            return None
        if (job.state == Job.State.RUNNING and job.lease_owner and job.lease_owner != owner
                and job.lease_expires_at and job.lease_expires_at > now):
            raise LeaseHeld((job.lease_expires_at - now).total_seconds())
        if job.attempts >= MAX_ATTEMPTS:
            _finish_failed(job, f"Gave up after {job.attempts} attempts. Last error: {job.error or 'unknown'}")
            return None
        job.state = Job.State.RUNNING
        job.attempts += 1
        job.lease_owner = owner
        job.lease_expires_at = now + timedelta(seconds=LEASE_SECONDS)
        job.started_at = job.started_at or now
        job.celery_task_id = task_id or job.celery_task_id
        job.save()
        return job


def progress(job: Job, *, files_done=None, bytes_done=None, message=None, **totals) -> None:
    """Record progress and renew the lease (the heartbeat that tells other workers this one is alive)."""
    fields = {"lease_expires_at": timezone.now() + timedelta(seconds=LEASE_SECONDS), "updated_at": timezone.now()}
    for key, value in (("files_done", files_done), ("bytes_done", bytes_done), ("message", message)):
        if value is not None:
            fields[key] = value
            setattr(job, key, value)
    for key, value in totals.items():
        fields[key] = value
        setattr(job, key, value)
    Job.objects.filter(pk=job.pk, lease_owner=job.lease_owner).update(**fields)


def _finish_failed(job: Job, error: str) -> None:
    job.state = Job.State.FAILED
    job.error = error[:5000]
    job.message = "Failed"
    job.finished_at = timezone.now()
    job.lease_expires_at = None
    job.save()
    if job.kind in (Job.Kind.REGISTER, Job.Kind.COPY) and job.model_version_id:
        from registry.services.versions import model_version_mark_failed

        mv = ModelVersion.objects.filter(pk=job.model_version_id).first()
        if mv and mv.status == "PENDING_REGISTRATION":
            model_version_mark_failed(version_id=mv.pk, message=error)


def execute(job_id: int, task_id: str = "") -> str:
    """Run one job to an end state, or raise for Celery to retry. Returns the final state."""
    job = claim(job_id, task_id)
    if job is None:
        return "noop"
    try:
        _run(job)
    except (JobFailed, RegistryError) as exc:
        with transaction.atomic():
            _finish_failed(job, str(getattr(exc, "message", None) or exc))
        return Job.State.FAILED
    except Exception as exc:
        log.exception("job %s attempt %s crashed", job.pk, job.attempts)
        with transaction.atomic():
            if job.attempts >= MAX_ATTEMPTS:
                _finish_failed(job, f"Gave up after {job.attempts} attempts: {exc}")
                return Job.State.FAILED
            Job.objects.filter(pk=job.pk).update(
                state=Job.State.QUEUED, lease_owner="", lease_expires_at=None, error=str(exc)[:5000],
                message=f"Attempt {job.attempts} failed; retrying",
            )
        raise
    job.state = Job.State.SUCCEEDED
    job.finished_at = timezone.now()
    job.lease_expires_at = None
    job.message = job.message if job.message and job.message != "Waiting for a worker" else "Done"
    job.save()
    return Job.State.SUCCEEDED


def _run(job: Job) -> None:
    if job.kind == Job.Kind.REGISTER or job.kind == Job.Kind.COPY:
        from registry.registration import register_version

        register_version(job)
    elif job.kind == Job.Kind.DELETE_ARTIFACTS:
        from registry import storage

        for prefix in job.params.get("prefixes", []):
            storage.delete_tree(prefix)
        progress(job, message="Artifacts deleted")
    else:
        raise JobFailed(f"Unknown job kind {job.kind!r}")


def requeue_stale() -> int:
    """Publish again jobs that were never picked up (broker down at publish time) or whose worker died."""
    now = timezone.now()
    stale = Job.objects.filter(state=Job.State.QUEUED, updated_at__lt=now - timedelta(seconds=_STALE_QUEUED_SECONDS))
    stale |= Job.objects.filter(state=Job.State.RUNNING, lease_expires_at__lt=now)
    count = 0
    for job_id in stale.values_list("pk", flat=True)[:500]:
        Job.objects.filter(pk=job_id).update(updated_at=now)
        _publish(job_id)
        count += 1
    return count


__all__ = ["JobFailed", "LeaseHeld", "execute", "progress", "publish_on_commit", "requeue_stale",
           "start_artifact_cleanup", "start_registration", "settings"]
