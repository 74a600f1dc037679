"""A deployment of our own stack for the end-to-end tests that need one with particular settings: gunicorn and a
Celery worker in processes of their own, on the test database, Redis and (when the environment says so) moto's
S3 server."""
from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path

import requests

from tests.conftest import ROOT, WorkerProcess, stop_group, wait_for
from tests.s3 import free_port


class Deployment:
    def __init__(self, env: dict, tmp_path: Path):
        self.queue = f"{os.environ.get('CELERY_QUEUE', 'explorer')}-dep-{uuid.uuid4().hex[:6]}"
        self.env = {**env, "CELERY_QUEUE": self.queue}
        self.tmp_path = tmp_path
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.web: subprocess.Popen | None = None
        self.worker = WorkerProcess(self.env, tmp_path / "worker.log")

    def start(self) -> "Deployment":
        bin_dir = Path(sys.executable).parent
        with open(self.tmp_path / "web.log", "ab") as log:
            self.web = subprocess.Popen(
                [str(bin_dir / "gunicorn"), "explorer.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
                 "--workers", "2", "--timeout", "120"], cwd=ROOT, env=self.env, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        self.worker.start(concurrency=1)
        wait_for(lambda: self.web.poll() is not None or self._healthy(), timeout=60, message="gunicorn to start")
        assert self.web.poll() is None, (self.tmp_path / "web.log").read_text()[-3000:]
        return self

    def _healthy(self) -> bool:
        try:
            return requests.get(f"{self.url}/api/3.0/mlflow/server-info", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    def stop(self) -> None:
        if self.web is not None:
            stop_group(self.web)
        self.worker.stop()
