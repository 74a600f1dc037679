"""`manage.py artifacts_migrate --to s3://bucket/prefix`: move every artifact of a filesystem deployment onto S3 as
a job (registry/storage_move.py), then switch the deployment over. Progress is printed (and shown on the Jobs
page); a rerun after a crash resumes the same job; `--detach` leaves the job to the workers."""
from __future__ import annotations

import threading
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection

from registry import jobs
from registry.errors import RegistryError
from registry.models import Job
from registry.services.artifact_store import artifact_store_move_start


class Command(BaseCommand):
    help = "Move the filesystem artifact store onto S3 (s3://bucket/prefix) and switch the deployment to it."

    def add_arguments(self, parser):
        parser.add_argument("--to", required=True, help="s3://<bucket>/<prefix>, an empty prefix")
        parser.add_argument("--detach", action="store_true",
                            help="let a Celery worker run the move instead of this command; follow it on the Jobs page")

    def handle(self, *args, to: str, detach: bool, **options):
        try:
            job = artifact_store_move_start(actor=None, target=to, publish=detach)
        except RegistryError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(f"Job {job.pk}: moving the artifacts to {job.params['to']}")
        if detach:
            return
        runner = threading.Thread(target=self._run, args=(job.pk,), daemon=True)
        runner.start()
        shown = None
        while True:
            job.refresh_from_db()
            line = (f"{job.state}: {job.files_done}/{job.files_total} files, "
                    f"{job.bytes_done}/{job.bytes_total} bytes. {job.message}")
            if line != shown:
                self.stdout.write(line)
                self.stdout.flush()
                shown = line
            if job.is_finished:
                break
            time.sleep(1)
        runner.join(timeout=5)
        if job.state != Job.State.SUCCEEDED:
            raise CommandError(f"The move failed: {job.error or job.message}")
        self.stdout.write(self.style.SUCCESS(f"Done: the deployment reads and writes artifacts on {job.params['to']}."))

    def _run(self, job_id: int) -> None:
        """Run the job here, or wait while another process holds its lease (a worker that took it over after this
        command was killed; when its lease lapses this command takes it back)."""
        try:
            while True:
                try:
                    state = jobs.execute(job_id, task_id=f"artifacts_migrate-{time.time_ns()}")
                except jobs.LeaseHeld as held:
                    time.sleep(min(5.0, max(0.5, held.seconds_left)))
                    continue
                except Exception:  # a crash of this attempt: the row says QUEUED with its error; try again
                    time.sleep(1)
                    continue
                if state != "lease-lost":
                    if Job.objects.get(pk=job_id).is_finished:
                        return
                time.sleep(1)
        finally:
            connection.close()
