"""Moving the deployment's artifact store onto S3 (`manage.py artifacts_migrate`): starting, or resuming, the
MOVE_ARTIFACTS job that registry.storage_move runs."""
from __future__ import annotations

import re

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings

from registry import audit, permissions, storage
from registry.errors import InvalidParameter, InvalidState, PermissionDenied
from registry.jobs import publish_on_commit
from registry.models import Job
from registry.services.core import service

_STORE_URL = re.compile(r"s3://[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9](/[^\s]*)?")


def move_job_unfinished() -> Job | None:
    return Job.objects.filter(kind=Job.Kind.MOVE_ARTIFACTS).exclude(
        state__in=(Job.State.SUCCEEDED, Job.State.FAILED, Job.State.CANCELLED)).order_by("pk").first()


@service("artifact_store.move")
def artifact_store_move_start(*, actor, target: str, publish: bool = False) -> Job:
    """The job that moves every artifact onto `target` (s3://bucket/prefix) and switches the deployment to it:
    a new one, or the unfinished one for the same target (a rerun after a crash resumes it). `actor` None is the
    operator on the command line; otherwise a metastore admin. With `publish`, a worker runs it; otherwise the
    caller does (jobs.execute)."""
    if actor is not None and not permissions.is_admin(actor):
        raise PermissionDenied("Only a metastore admin may move the artifact store.")
    target = target.strip().rstrip("/")
    if not _STORE_URL.fullmatch(target):
        raise InvalidParameter(f"--to must look like s3://<bucket>/<prefix>, got {target[:200]!r}.")
    storage.forget_active_store()
    current = storage.active_store()
    running = move_job_unfinished()
    if running is not None:
        if running.params.get("to") != target:
            raise InvalidState(f"A move to {running.params.get('to')} is under way (job {running.pk}); "
                               "run artifacts_migrate with that target to resume it.")
        return running
    if current.url == target:
        raise InvalidState(f"The artifacts are on {target} already.")
    if current.url:
        raise InvalidState(f"The artifact store is {current.url}: only a filesystem store can be moved.")
    from registry.storage_move import target_store

    s3 = target_store(target)
    try:
        s3.client.head_bucket(Bucket=s3.bucket)
        occupied = next(iter(s3.walk("")), None)
    except (BotoCoreError, ClientError) as exc:
        raise InvalidParameter(f"Cannot reach {target} with this process's AWS settings "
                               f"(AWS_S3_ENDPOINT_URL={settings.AWS_S3_ENDPOINT_URL or 'AWS'}): {exc}") from None
    if occupied is not None:
        raise InvalidState(f"{target} already holds objects ({occupied[0]}, ...): move into an empty prefix.")
    job = Job.objects.create(kind=Job.Kind.MOVE_ARTIFACTS, created_by=actor, params={"to": target},
                             message="Waiting to start")
    audit.record(actor=actor, action="artifact_store.move", obj=job, params={"to": target}, object_name=target)
    if publish:
        publish_on_commit(job)
    return job
