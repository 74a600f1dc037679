"""kill -9 of the worker in the middle of an import from a remote registry: a fresh worker takes the job over and
it completes exactly once (one version, READY only after every file's size and checksum were verified, nothing of
the killed attempt left behind). The remote is this test's live server, reached over HTTP with the user's token,
its files through signed URLs, as another deployment would be."""
from __future__ import annotations

import os
import signal
import time

import pytest

from registry import storage
from registry.models import AuditEvent, Job, ModelVersion
from registry.services.remote_registries import remote_registry_add, remote_version_import
from tests.conftest import wait_for
from tests.jobs.conftest import ready_version, tree_digests, wait_job

pytestmark = pytest.mark.django_db(transaction=True)


def test_worker_killed_mid_import_completes_exactly_once(catalogs, owner, token_for, live_server, start_worker,
                                                         settings):
    allowed = "localhost,127.0.0.1"  # the remote (the live server) is on a loopback address
    settings.REMOTE_REGISTRY_ALLOWED_HOSTS = allowed.split(",")
    source, digests = ready_version(owner, "staging.ml_team.fraud", files=4, size=384 * 1024)
    remote_registry_add(actor=owner, name="prod", base_url=live_server.url, secret=token_for(owner))
    first = start_worker(throttle=300 * 1024, REMOTE_REGISTRY_ALLOWED_HOSTS=allowed)
    imported = remote_version_import(actor=owner, registry_name="prod", model_name="staging.ml_team.fraud",
                                     version=1, destination_name="prod.ml_team.fraud", create_destination=True)
    assert imported.source == "remote:prod/staging.ml_team.fraud/1"
    job = Job.objects.get(model_version=imported)
    assert job.kind == Job.Kind.IMPORT
    location = imported.managed_location.split(":/", 1)[1]

    def downloading():
        row = Job.objects.get(pk=job.pk)
        return row if row.state == Job.State.RUNNING and row.files_done >= 1 and row.bytes_done < row.bytes_total \
            else None

    wait_for(downloading, timeout=40, interval=0.05, message="the import to be half done")
    assert os.listdir(os.path.join(settings.ARTIFACT_ROOT, location))
    os.killpg(first.proc.pid, signal.SIGKILL)
    first.proc.wait()
    killed = Job.objects.get(pk=job.pk)
    assert killed.state == Job.State.RUNNING and killed.attempts == 1 and killed.bytes_done < killed.bytes_total
    assert ModelVersion.objects.get(pk=imported.pk).status == "PENDING_REGISTRATION"

    second = start_worker(throttle=300 * 1024, REMOTE_REGISTRY_ALLOWED_HOSTS=allowed)
    done = wait_job(job.pk, worker=second, timeout=90)
    assert done.attempts == 2 and done.error == ""
    assert "checksums verified" in done.message and done.bytes_done == done.bytes_total
    assert ModelVersion.objects.filter(model=imported.model).count() == 1
    imported.refresh_from_db()
    assert imported.status == "READY" and imported.signature
    assert tree_digests(location) == digests
    leftovers = [name for _, _, names in os.walk(os.path.join(settings.ARTIFACT_ROOT, location)) for name in names
                 if name.startswith(storage.PARTIAL_PREFIX)]
    assert leftovers == []
    assert AuditEvent.objects.filter(action="model_version.registration_ready", object_id=str(imported.pk)).count() == 1
    # Later redeliveries find the job finished: no third attempt.
    time.sleep(2)
    assert Job.objects.get(pk=job.pk).attempts == 2
