"""kill -9 of the worker in the middle of a server-side S3 copy: a fresh worker takes the job over and the copy
ends READY exactly once, with the source's bytes, nothing served before."""
from __future__ import annotations

import os
import signal
import time

import pytest

from registry import storage
from registry.models import AuditEvent, Job, ModelVersion
from registry.services.copy import model_version_copy
from tests.conftest import wait_for
from tests.jobs.conftest import ready_version, tree_digests, wait_job
from tests.s3 import use_s3_store

pytestmark = pytest.mark.django_db(transaction=True)

THROTTLE = 256 * 1024  # ~1 s per 256 KiB file: the kill lands between files


def test_worker_killed_mid_s3_copy_completes_exactly_once(catalogs, owner, api, start_worker, settings, s3_server):
    view = use_s3_store(settings, s3_server)
    env = s3_server.env(view.prefix)
    source, digests = ready_version(owner, "staging.ml_team.fraud", files=8, size=256 * 1024)
    first = start_worker(throttle=THROTTLE, **env)
    copy = model_version_copy(actor=owner, source_name="staging.ml_team.fraud", source_version=1,
                              destination_name="prod.ml_team.fraud", create_destination=True)
    job = Job.objects.get(model_version=copy)
    location = copy.managed_location.split(":/", 1)[1]
    client = api(owner)

    def copying():
        row = Job.objects.get(pk=job.pk)
        return row if row.state == Job.State.RUNNING and 1 <= row.files_done < row.files_total else None

    wait_for(copying, timeout=60, interval=0.05, message="the copy to be under way")
    assert view.keys(location)  # some objects are copied already, none of them served
    assert client.get(f"/api/2.0/mlflow-artifacts/artifacts/{location}/MLmodel").status_code == 404
    os.killpg(first.proc.pid, signal.SIGKILL)
    first.proc.wait()
    killed = Job.objects.get(pk=job.pk)
    assert killed.state == Job.State.RUNNING and killed.attempts == 1 and killed.files_done < killed.files_total

    second = start_worker(throttle=THROTTLE, **env)
    done = wait_job(job.pk, worker=second, timeout=120)
    assert done.attempts == 2 and done.error == ""
    assert (done.files_done, done.files_total) == (len(digests), len(digests))
    copy.refresh_from_db()
    assert copy.status == "READY" and copy.signature
    assert ModelVersion.objects.filter(model=copy.model).count() == 1
    assert tree_digests(location) == digests
    assert sorted(view.keys(location)) == sorted(digests)  # nothing else, no hidden upload left behind
    assert AuditEvent.objects.filter(action="model_version.registration_ready", object_id=str(copy.pk)).count() == 1
    assert client.get(f"/api/2.0/mlflow-artifacts/artifacts/{location}/MLmodel").status_code == 200
    time.sleep(2)  # later redeliveries find the job finished
    assert Job.objects.get(pk=job.pk).attempts == 2
    assert storage.is_file(f"{location}/MLmodel")
