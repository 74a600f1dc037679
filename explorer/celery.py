"""The Celery application shared by the web process (to publish) and the worker (to run jobs)."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "explorer.settings")

app = Celery("explorer")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["registry"])
