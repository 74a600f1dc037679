"""The Celery application shared by the web process (to publish) and the worker (to run jobs)."""
import os

from celery import Celery
from celery.signals import worker_ready

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "explorer.settings")

app = Celery("explorer")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["registry"])

SWEEP_TASK = "registry.tasks.requeue_stale_jobs"


@worker_ready.connect
def sweep_when_ready(sender, **_):
    """Every worker asks for one sweep of stale jobs as soon as it consumes: recovery after a restart (of the
    worker, or of everything) then does not wait for the scheduler, nor stall while the scheduler is down."""
    sender.app.send_task(SWEEP_TASK, queue=sender.app.conf.task_default_queue)
