"""Celery entry points: thin, idempotent, retry-safe. They take a job id and call the job runner."""
from celery import shared_task

from registry import jobs


@shared_task(bind=True, acks_late=True, reject_on_worker_lost=True, max_retries=jobs.MAX_ATTEMPTS + 2)
def run_job(self, job_id: int) -> str:
    try:
        return jobs.execute(job_id, task_id=self.request.id or "")
    except jobs.LeaseHeld as held:
        raise self.retry(countdown=max(1, int(held.seconds_left) + 1), exc=held)
    except Exception as exc:  # a crash: back off and try again (the attempts cap lives on the row)
        raise self.retry(countdown=min(60, 2 ** (self.request.retries + 1)), exc=exc)


@shared_task
def requeue_stale_jobs() -> int:
    return jobs.requeue_stale()
