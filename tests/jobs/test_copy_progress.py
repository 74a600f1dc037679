"""Register and copy jobs end to end on a real worker, with progress readable through the jobs API while the
(throttled) copy runs, and the copy recording its source, run, description and tags."""
from __future__ import annotations

import pytest

from registry import storage
from registry.models import Job, ModelVersion
from registry.services.copy import model_version_copy
from registry.services.models import registered_model_create
from registry.services.versions import model_version_create
from tests.conftest import wait_for
from tests.jobs.conftest import logged_run, ready_version, tree_digests, wait_job

pytestmark = pytest.mark.django_db(transaction=True)


def test_register_job_runs_on_a_worker_and_marks_the_version_ready(catalogs, owner, start_worker):
    worker = start_worker()
    run, digests = logged_run()
    registered_model_create(actor=owner, name="prod.ml_team.iris")
    mv = model_version_create(actor=owner, name="prod.ml_team.iris", source=f"runs:/{run.run_id}/model")
    job = Job.objects.get(model_version=mv)
    assert (job.kind, job.state) == (Job.Kind.REGISTER, Job.State.QUEUED)
    job = wait_job(job.pk, worker=worker)
    mv.refresh_from_db()
    assert mv.status == "READY" and mv.signature["inputs"]
    assert (job.files_done, job.files_total, job.bytes_done) == (len(digests), len(digests), job.bytes_total)
    assert tree_digests(mv.managed_location.split(":/", 1)[1]) == digests


def test_copy_across_catalogs_shows_progress_while_running(catalogs, owner, reader, admin, api, start_worker):
    source, digests = ready_version(owner, "staging.ml_team.fraud", files=4, size=384 * 1024)
    worker = start_worker(throttle=400 * 1024)  # ~4 s for the 1.5 MB copy
    copy = model_version_copy(actor=owner, source_name="staging.ml_team.fraud", source_version=1,
                              destination_name="prod.ml_team.fraud", create_destination=True)
    job = Job.objects.get(model_version=copy)
    assert job.kind == Job.Kind.COPY
    client = api(owner)

    def mid_flight():
        body = client.get(f"/api/2.0/explorer/jobs/{job.pk}").json()
        return body if body["state"] == "RUNNING" and 0 < body["bytes_done"] < body["bytes_total"] else None

    body = wait_for(mid_flight, timeout=30, interval=0.1, message="the copy to be observed mid-flight")
    assert body["kind"] == "copy" and body["message"] == "Copying artifacts"
    assert body["model"] == "prod.ml_team.fraud" and body["version"] == 1
    source_files = list(storage.walk_files(source.managed_location.split(":/", 1)[1]))
    assert body["files_total"] == len(digests) and body["bytes_total"] == sum(size for _, size in source_files)
    assert body["params"]["source_version"] == {"name": "staging.ml_team.fraud", "version": 1}
    assert "source_location" not in body["params"]
    # Not READY yet: the version's artifacts are not served.
    assert ModelVersion.objects.get(pk=copy.pk).status == "PENDING_REGISTRATION"
    location = copy.managed_location.split(":/", 1)[1]
    assert client.get("/api/2.0/mlflow-artifacts/artifacts", {"path": location}).status_code == 404
    assert client.get(f"/api/2.0/mlflow-artifacts/artifacts/{location}/MLmodel").status_code == 404

    wait_job(job.pk, worker=worker)
    copy.refresh_from_db()
    assert copy.status == "READY"
    assert copy.source == "models:/staging.ml_team.fraud/1" and copy.copied_from_id == source.pk
    assert (copy.run_id, copy.description) == (source.run_id, "first cut")
    assert dict(copy.tags.values_list("key", "value")) == {"task": "classification"}
    assert tree_digests(location) == digests
    assert client.get(f"/api/2.0/mlflow-artifacts/artifacts/{location}/MLmodel").status_code == 200

    # Visibility: the reader holds no EXECUTE on the models and started nothing; the admin sees everything.
    assert api(reader).get(f"/api/2.0/explorer/jobs/{job.pk}").status_code == 404
    assert api(reader).get("/api/2.0/explorer/jobs").json()["jobs"] == []
    admin_ids = {j["id"] for j in api(admin).get("/api/2.0/explorer/jobs").json()["jobs"]}
    assert job.pk in admin_ids and len(admin_ids) == 2
