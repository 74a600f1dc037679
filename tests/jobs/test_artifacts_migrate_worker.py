"""kill -9 of the worker running `artifacts_migrate --detach` in the middle of the copy: a fresh worker takes the move
over once the lease lapses, uploads only what is missing and switches; every file verified against the manifest."""
from __future__ import annotations

import hashlib
import io
import os
import signal
import uuid

import pytest
from django.core.management import call_command

from registry import storage
from registry.models import ArtifactChecksum, ArtifactStoreSwitch, Job
from tests.conftest import wait_for
from tests.jobs.conftest import wait_job
from tests.s3 import BUCKET, CREDENTIALS, S3View

pytestmark = pytest.mark.django_db(transaction=True)

FILES, SIZE = 16, 128 * 1024
THROTTLE = 512 * 1024  # ~4 s for the files on four threads: the kill lands mid-copy


def test_worker_killed_mid_move_is_taken_over_and_completes(settings, tmp_path, s3_server, start_worker):
    root = tmp_path / "artifacts"
    root.mkdir()
    settings.ARTIFACT_ROOT = root
    settings.ARTIFACT_STORE = ""
    settings.AWS_S3_ENDPOINT_URL = s3_server.url
    settings.AWS_S3_ADDRESSING_STYLE = "path"
    settings.ARTIFACT_STORE_RECHECK_SECONDS = 0
    storage.forget_active_store()
    files = {f"0/run/artifacts/shard-{i:02d}.bin": os.urandom(SIZE) for i in range(FILES)}
    for path, data in files.items():
        storage.save_stream(path, io.BytesIO(data))
    env = {**CREDENTIALS, "ARTIFACT_ROOT": str(root), "AWS_S3_ENDPOINT_URL": s3_server.url,
           "ARTIFACT_STORE_RECHECK_SECONDS": "1"}
    prefix = f"moved-{uuid.uuid4().hex[:8]}"
    url, view = f"s3://{BUCKET}/{prefix}", S3View(s3_server, prefix)
    try:
        first = start_worker(throttle=THROTTLE, **env)
        settings.ARTIFACT_COPY_THROTTLE_BYTES_PER_SEC = 0
        call_command("artifacts_migrate", "--to", url, "--detach")
        job = Job.objects.get(kind=Job.Kind.MOVE_ARTIFACTS)

        def copying():
            row = Job.objects.get(pk=job.pk)
            return row if row.state == Job.State.RUNNING and 3 <= row.files_done < row.files_total - 3 else None

        wait_for(copying, timeout=60, interval=0.05, message="the move to be under way")
        os.killpg(first.proc.pid, signal.SIGKILL)
        first.proc.wait()
        killed = Job.objects.get(pk=job.pk)
        assert killed.state == Job.State.RUNNING and killed.attempts == 1
        assert ArtifactStoreSwitch.objects.get().store == ""
        before_takeover = set(view.keys(""))
        assert 0 < len(before_takeover) < FILES

        mark = s3_server.mark()
        second = start_worker(**env)
        done = wait_job(job.pk, worker=second, timeout=120)
        assert done.attempts == 2 and (done.files_done, done.files_total) == (FILES, FILES)
        puts = {line.split("?")[0].rsplit("/", 1)[1] for line in s3_server.requests(mark)
                if line.startswith(f"PUT /{BUCKET}/{prefix}/")}
        assert len(puts & {key.rsplit("/", 1)[1] for key in before_takeover}) <= 4  # at most the ones cut short
        assert sorted(view.keys("")) == sorted(files)
        for path, data in files.items():
            assert view.read(path) == data
            assert ArtifactChecksum.objects.get(path=path).sha256 == hashlib.sha256(data).hexdigest()
        assert ArtifactStoreSwitch.objects.get().store == url
    finally:
        ArtifactStoreSwitch.objects.all().delete()
        storage.forget_active_store()
