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

from registry.errors import RegistryError, TemporarilyUnavailable
from registry.models import Job, ModelVersion

log = logging.getLogger(__name__)


def lease_seconds() -> int:
    return settings.JOB_LEASE_SECONDS


def max_attempts() -> int:
    return settings.JOB_MAX_ATTEMPTS


def retry_countdown(retries: int) -> float:
    """Seconds before the next attempt of a crashed job: exponential, capped at a minute."""
    return min(60.0, settings.JOB_RETRY_BACKOFF_MS / 1000.0 * (2 ** retries))


class JobFailed(Exception):
    """An expected failure with a message for the user: the job ends FAILED without retrying."""


class LeaseHeld(Exception):
    """Another live worker holds the row's lease (a job's, or a webhook delivery's): the task retries later."""

    def __init__(self, seconds_left: float, what: str = "job"):
        super().__init__(f"{what} is leased by another worker for {seconds_left:.0f}s")
        self.seconds_left = seconds_left


class LeaseLost(Exception):
    """Another worker took the job over (this one stalled past its lease): stop without touching the row."""


def _publish(job_id: int) -> None:
    from registry.tasks import run_job

    # This runs after the commit of the change that made the job: nothing here may turn that committed change
    # into an error answer (a client would retry it and make a duplicate). Whatever fails is logged; the job row
    # stays QUEUED without a task id and the sweeper (requeue_stale_jobs) publishes it later.
    try:
        result = run_job.apply_async(args=[job_id], retry=False, queue=settings.CELERY_TASK_DEFAULT_QUEUE)
    except Exception:  # broker down
        log.warning("could not publish job %s; it stays queued until the broker is back", job_id, exc_info=True)
        return
    try:
        Job.objects.filter(pk=job_id, celery_task_id="").update(celery_task_id=result.id or "")
    except Exception:  # database gone: the delivery may still run the job; the lease keeps it to one run
        log.warning("published job %s but could not record its task id", job_id, exc_info=True)


def publish_on_commit(job: Job) -> None:
    job_id = job.pk
    # A rolled-back transaction discards the callback: a job that was never committed is never published.
    # robust: an error in the callback is logged by Django instead of reaching the committed request.
    transaction.on_commit(lambda: _publish(job_id), robust=True)


def _who(actor):
    return actor if actor is not None and actor.is_authenticated else None


def start_registration(*, actor, version: ModelVersion, source_location: str) -> Job:
    """The job that fills a three-level version's managed location: COPY when the source is another
    version (`models:/<name>/<version>`), REGISTER otherwise."""
    kind = Job.Kind.COPY if version.copied_from_id else Job.Kind.REGISTER
    params = {"source_location": source_location, "destination": version.managed_location.split(":/", 1)[1]}
    if version.copied_from_id:
        source = version.copied_from
        params["source_version"] = {"name": source.model.full_name, "version": source.version}
    params["target"] = {"name": version.model.full_name, "version": version.version}
    job = Job.objects.create(kind=kind, created_by=_who(actor), model=version.model, model_version=version,
                             params=params, message="Waiting for a worker")
    publish_on_commit(job)
    return job


def start_artifact_cleanup(*, actor, prefixes: list[str], target: dict | None = None) -> Job:
    """`target` ({"name", "version"?}): what was deleted, for the jobs page once the rows are gone."""
    params = {"prefixes": prefixes, **({"target": target} if target else {})}
    job = Job.objects.create(kind=Job.Kind.DELETE_ARTIFACTS, created_by=_who(actor), params=params,
                             message="Waiting for a worker")
    publish_on_commit(job)
    return job


def start_migration(*, actor, source, destination, stage_alias_map: dict[str, str]) -> Job:
    job = Job.objects.create(
        kind=Job.Kind.MIGRATE, created_by=_who(actor), model=destination,
        params={"source_model_id": source.pk, "source_name": source.full_name,
                "destination_name": destination.full_name, "stage_alias_map": stage_alias_map,
                "versions": {}, "aliases": {}, "target": {"name": destination.full_name}},
        message="Waiting for a worker",
    )
    publish_on_commit(job)
    return job


def worker_id(task_id: str) -> str:
    """A lease owner: this worker process and the task it runs."""
    return f"{socket.gethostname()}:{os.getpid()}:{task_id}"[:128]


def claim(job_id: int, task_id: str) -> Job | None:
    """Take the job's lease. None when there is nothing to do (finished, gone, or over the attempts cap);
    LeaseHeld when another live worker holds it."""
    now = timezone.now()
    owner = worker_id(task_id)
    with transaction.atomic():
        job = Job.objects.select_for_update().filter(pk=job_id).first()
        if job is None or job.is_finished:
            return None
        if job.kind != Job.Kind.MOVE_ARTIFACTS and _store_frozen():
            raise LeaseHeld(5, "the artifact store (being moved)")
        if (job.state == Job.State.RUNNING and job.lease_owner and job.lease_owner != owner
                and job.lease_expires_at and job.lease_expires_at > now):
            raise LeaseHeld((job.lease_expires_at - now).total_seconds())
        if job.attempts >= max_attempts():
            _finish_failed(job, f"Gave up after {job.attempts} attempts. Last error: {job.error or 'unknown'}")
            return None
        job.state = Job.State.RUNNING
        job.attempts += 1
        job.lease_owner = owner
        job.lease_expires_at = now + timedelta(seconds=lease_seconds())
        job.started_at = job.started_at or now
        job.celery_task_id = task_id or job.celery_task_id
        job.save()
        return job


def progress(job: Job, *, files_done=None, bytes_done=None, message=None, **totals) -> None:
    """Record progress and renew the lease (the heartbeat that tells other workers this one is alive).
    Raises LeaseLost when another worker has taken the job over."""
    now = timezone.now()
    fields = {"lease_expires_at": now + timedelta(seconds=lease_seconds()), "updated_at": now}
    for key, value in (("files_done", files_done), ("bytes_done", bytes_done), ("message", message)):
        if value is not None:
            fields[key] = value
            setattr(job, key, value)
    for key, value in totals.items():
        fields[key] = value
        setattr(job, key, value)
    if not Job.objects.filter(pk=job.pk, lease_owner=job.lease_owner, state=Job.State.RUNNING).update(**fields):
        raise LeaseLost(f"job {job.pk} was taken over by another worker")
    parent = getattr(job, "parent", None)
    if parent is not None:  # a job run inline by another job keeps its parent's lease alive too
        progress(parent)


def hold(job: Job) -> Job:
    """Lock the job row inside the caller's transaction and make sure this worker still owns it, so a
    write made with it (a version marked READY, a migration step recorded) happens exactly once."""
    locked = Job.objects.select_for_update().filter(pk=job.pk).first()
    if locked is None or locked.lease_owner != job.lease_owner or locked.state != Job.State.RUNNING:
        raise LeaseLost(f"job {job.pk} was taken over by another worker")
    return locked


def _finish_failed(job: Job, error: str) -> None:
    job.state = Job.State.FAILED
    job.error = error[:5000]
    job.message = "Failed"
    job.finished_at = timezone.now()
    job.lease_expires_at = None
    job.save()
    if job.kind == Job.Kind.MOVE_ARTIFACTS:  # a move that gave up must not leave writes paused
        from registry.storage_move import unfreeze

        unfreeze()
    if job.kind in (Job.Kind.REGISTER, Job.Kind.COPY, Job.Kind.IMPORT) and job.model_version_id:
        from registry.services.versions import model_version_mark_failed

        mv = ModelVersion.objects.filter(pk=job.model_version_id).first()
        if mv and mv.status == "PENDING_REGISTRATION":
            model_version_mark_failed(version_id=mv.pk, message=error)


def _store_frozen() -> bool:
    """A move of the artifact store is in its last pass: no job writes artifacts until it has switched."""
    from registry import storage

    return storage.active_store().frozen


def execute(job_id: int, task_id: str = "", *, parent: Job | None = None) -> str:
    """Run one job to an end state, or raise for Celery to retry. Returns the final state."""
    job = claim(job_id, task_id)
    if job is None:
        return "noop"
    job.parent = parent
    try:
        _run(job)
    except LeaseLost:
        log.warning("job %s was taken over by another worker; this attempt stops", job.pk)
        return "lease-lost"
    except (JobFailed, RegistryError) as exc:
        if isinstance(exc, TemporarilyUnavailable):  # e.g. the store froze for a move: retried, not failed
            _requeue_crashed(job, exc)
            raise
        with transaction.atomic():
            hold(job)
            _finish_failed(job, str(getattr(exc, "message", None) or exc))
        return Job.State.FAILED
    except Exception as exc:
        log.exception("job %s attempt %s crashed", job.pk, job.attempts)
        with transaction.atomic():
            if job.attempts >= max_attempts():
                hold(job)
                _finish_failed(job, f"Gave up after {job.attempts} attempts: {exc}")
                return Job.State.FAILED
        _requeue_crashed(job, exc)
        raise
    with transaction.atomic():
        hold(job)
        job.state = Job.State.SUCCEEDED
        job.finished_at = timezone.now()
        job.lease_expires_at = None
        job.message = job.message if job.message and job.message != "Waiting for a worker" else "Done"
        job.save()
    return Job.State.SUCCEEDED


def _requeue_crashed(job: Job, exc: BaseException) -> None:
    Job.objects.filter(pk=job.pk, lease_owner=job.lease_owner).update(
        state=Job.State.QUEUED, lease_owner="", lease_expires_at=None, error=str(exc)[:5000],
        message=f"Attempt {job.attempts} failed; retrying", updated_at=timezone.now(),
    )


def _run(job: Job) -> None:
    if job.kind == Job.Kind.REGISTER or job.kind == Job.Kind.COPY:
        from registry.registration import register_version

        register_version(job)
    elif job.kind == Job.Kind.MIGRATE:
        from registry.services.migration import migration_run

        migration_run(job)
    elif job.kind == Job.Kind.DELETE_ARTIFACTS:
        _delete_artifacts(job)
    elif job.kind == Job.Kind.MOVE_ARTIFACTS:
        from registry.storage_move import move_run

        move_run(job)
    elif job.kind == Job.Kind.IMPORT:
        from registry.remote_import import import_version

        import_version(job)
    else:
        raise JobFailed(f"Unknown job kind {job.kind!r}")


def _delete_artifacts(job: Job) -> None:
    from registry import storage

    prefixes = job.params.get("prefixes", [])
    progress(job, files_total=len(prefixes), message="Deleting artifacts")
    for index, prefix in enumerate(prefixes, start=1):
        storage.delete_tree(prefix)
        # delete_tree may skip what it cannot remove: check, so that a failure is retried and ends up
        # recorded on the row instead of leaving orphaned bytes behind silently.
        if storage.exists(prefix) or any(True for _ in storage.walk_files(prefix)):
            raise RuntimeError(f"artifacts under {prefix!r} could not be deleted completely")
        progress(job, files_done=index)
    progress(job, message=f"Artifacts deleted ({len(prefixes)} location{'s' if len(prefixes) != 1 else ''})")


def requeue_stale() -> int:
    """Publish again jobs that were never picked up (broker down at publish time) or whose worker died."""
    now = timezone.now()
    window = timedelta(seconds=settings.JOB_STALE_QUEUED_SECONDS)
    # Never published (the broker was down): after a short wait. Published but still queued: only after a
    # long one, so a backlog behind busy workers is not flooded with duplicates (they would be no-ops).
    stale = Job.objects.filter(state=Job.State.QUEUED, celery_task_id="", updated_at__lt=now - window)
    stale |= Job.objects.filter(state=Job.State.QUEUED, updated_at__lt=now - 10 * window)
    stale |= Job.objects.filter(state=Job.State.RUNNING, lease_expires_at__lt=now)
    count = 0
    for job_id in stale.values_list("pk", flat=True)[:500]:
        Job.objects.filter(pk=job_id).update(updated_at=now)
        _publish(job_id)
        count += 1
    return count


__all__ = ["JobFailed", "LeaseHeld", "LeaseLost", "worker_id", "execute", "hold", "progress", "publish_on_commit",
           "requeue_stale", "start_artifact_cleanup", "start_migration", "start_registration"]
