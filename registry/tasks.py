"""Celery entry points: thin, idempotent, retry-safe. They take a job id and call the job runner, or run a
periodic sweep."""
import logging

from celery import shared_task
from django.conf import settings

from registry import jobs, storage
from registry.events import delivery as webhook_delivery
from registry.events import emails as notification_emails
from registry.services.upload_area import upload_area_sweep

log = logging.getLogger(__name__)


# acks_late + reject_on_worker_lost: a worker killed mid-job leaves the message to be delivered again (Redis:
# after the visibility timeout); the sweeper also republishes a job whose lease lapsed. Either way the
# database lease makes the second delivery wait or do nothing. The attempts cap lives on the row; max_retries
# only bounds how often one message is re-sent.
@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=12)
def run_job(self, job_id: int) -> str:
    try:
        return jobs.execute(job_id, task_id=self.request.id or "")
    except jobs.LeaseHeld as held:
        raise self.retry(countdown=max(1, int(held.seconds_left) + 1), exc=held)
    except Exception as exc:  # a crash: back off and try again
        raise self.retry(countdown=jobs.retry_countdown(self.request.retries), exc=exc)


@shared_task
def requeue_stale_jobs() -> int:
    # The same sweep publishes webhook deliveries and notification emails whose message was lost
    # (registry/events/delivery.py, registry/events/emails.py).
    return jobs.requeue_stale() + webhook_delivery.requeue_stale() + notification_emails.requeue_stale()


# One attempt per run; the next attempt is a retry of the same message (same task id) after the backoff. A worker
# killed mid-attempt leaves the message (acks_late) and a lease that lapses, and the delivery is taken over. The
# retry window on the row bounds how long a delivery is tried, so the message count is not bounded here.
@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def deliver_webhook(self, delivery_id: int) -> str:
    try:
        wait = webhook_delivery.attempt(delivery_id, task_id=self.request.id or "")
    except jobs.LeaseHeld as held:
        raise self.retry(countdown=max(1, int(held.seconds_left) + 1), exc=held)
    if wait is not None:
        raise self.retry(countdown=max(0.05, wait))
    return "done"


# As deliver_webhook: one attempt per run, the next one a retry of the same message after the backoff.
@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=None)
def deliver_email(self, email_id: int) -> str:
    try:
        wait = notification_emails.attempt(email_id, task_id=self.request.id or "")
    except jobs.LeaseHeld as held:
        raise self.retry(countdown=max(1, int(held.seconds_left) + 1), exc=held)
    if wait is not None:
        raise self.retry(countdown=max(0.05, wait))
    return "done"


@shared_task
def sweep_partial_uploads() -> int:
    removed = storage.sweep_partial_uploads(older_than_seconds=settings.ARTIFACT_PARTIAL_UPLOAD_MAX_AGE_SECONDS)
    if removed:
        log.info("Removed %d partial upload file(s) left by uploads that never finished.", removed)
    return removed


@shared_task
def sweep_upload_area() -> int:
    removed = upload_area_sweep(older_than_seconds=settings.UPLOAD_AREA_MAX_AGE_SECONDS)
    if removed:
        log.info("Removed %d upload-area director(ies) that no registered version released.", removed)
    return removed
