"""kill -9 of the worker in the middle of a copy: a fresh worker takes the job over (the sweeper republishes
it once the lease lapses; with Redis the unacknowledged message also comes back) and it completes exactly
once: one version, READY only after verification, nothing half-copied ever served."""
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

pytestmark = pytest.mark.django_db(transaction=True)


def test_worker_killed_mid_copy_completes_exactly_once_after_redelivery(catalogs, owner, api, start_worker, settings):
    source, digests = ready_version(owner, "staging.ml_team.fraud", files=4, size=384 * 1024)
    first = start_worker(throttle=300 * 1024)
    copy = model_version_copy(actor=owner, source_name="staging.ml_team.fraud", source_version=1,
                              destination_name="prod.ml_team.fraud", create_destination=True)
    job = Job.objects.get(model_version=copy)
    location = copy.managed_location.split(":/", 1)[1]
    client = api(owner)

    def copying():
        row = Job.objects.get(pk=job.pk)
        return row if row.state == Job.State.RUNNING and row.files_done >= 1 and row.bytes_done < row.bytes_total else None

    wait_for(copying, timeout=30, interval=0.05, message="the copy to be half done")
    # Some bytes are on disk (finished files, a temp file in progress), none of them reachable.
    assert os.listdir(os.path.join(settings.ARTIFACT_ROOT, location))
    os.killpg(first.proc.pid, signal.SIGKILL)
    first.proc.wait()
    killed = Job.objects.get(pk=job.pk)
    assert killed.state == Job.State.RUNNING and killed.attempts == 1 and killed.bytes_done < killed.bytes_total

    second = start_worker(throttle=300 * 1024)
    seen_pending = 0
    deadline = time.monotonic() + 60
    while not Job.objects.get(pk=job.pk).is_finished and time.monotonic() < deadline:
        before = ModelVersion.objects.get(pk=copy.pk).status
        served = client.get(f"/api/2.0/mlflow-artifacts/artifacts/{location}/data/part-0.bin")
        listed = client.get("/api/2.0/mlflow-artifacts/artifacts", {"path": location})
        after = ModelVersion.objects.get(pk=copy.pk).status
        if served.status_code == 200 or listed.status_code == 200:
            # Served only once READY (status read after the requests: it never goes back from READY).
            assert after == "READY"
        else:
            # Refused while pending: it was pending when the requests began (the copy may finish during them).
            assert before == "PENDING_REGISTRATION"
            seen_pending += 1
        time.sleep(0.2)
    done = wait_job(job.pk, worker=second)
    assert seen_pending > 0
    assert done.attempts == 2 and done.error == ""
    assert ModelVersion.objects.filter(model=copy.model).count() == 1
    copy.refresh_from_db()
    assert copy.status == "READY" and copy.signature
    assert tree_digests(location) == digests
    # Nothing left behind by the killed attempt, not even hidden temp files.
    leftovers = [name for _, _, names in os.walk(os.path.join(settings.ARTIFACT_ROOT, location)) for name in names
                 if name.startswith(storage.PARTIAL_PREFIX)]
    assert leftovers == []
    assert AuditEvent.objects.filter(action="model_version.registration_ready", object_id=str(copy.pk)).count() == 1
    assert client.get(f"/api/2.0/mlflow-artifacts/artifacts/{location}/MLmodel").status_code == 200
    # Later redeliveries (the restored Redis message, sweeper duplicates) find the job finished: no second run.
    time.sleep(2)
    assert Job.objects.get(pk=job.pk).attempts == 2
