"""Migration of a workspace-registry model into a three-level model: every version copied in order, stages
mapped to aliases, the original untouched, and running it again never duplicates a version."""
from __future__ import annotations

import pytest

from registry.errors import InvalidParameter
from registry.jobs import execute
from registry.models import Job, ModelAlias, ModelVersion
from registry.services.migration import model_migrate
from registry.services.models import registered_model_create
from registry.services.versions import model_version_create, model_version_transition_stage
from tests.jobs.conftest import logged_run, tree_digests, wait_job

pytestmark = pytest.mark.django_db(transaction=True)


def _workspace_model(owner, name="fraud", stages=("Staging", "Production", "None")):
    registered_model_create(actor=owner, name=name, description="legacy fraud model")
    digests = []
    for number, stage in enumerate(stages, start=1):
        run, files = logged_run(files=1)
        model_version_create(actor=owner, name=name, source=f"runs:/{run.run_id}/model", description=f"v{number}",
                             tags={"origin": "workspace"})
        if stage != "None":
            model_version_transition_stage(actor=owner, name=name, version=number, stage=stage)
        digests.append(files)
    return digests


def _state(name: str):
    return sorted(ModelVersion.objects.filter(model__name=name, model__schema__isnull=True)
                  .values_list("version", "current_stage", "status", "storage_location", "description"))


def test_migration_copies_every_version_in_order_and_maps_stages_to_aliases(catalogs, owner, api, start_worker):
    digests = _workspace_model(owner)
    before = _state("fraud")
    worker = start_worker()
    job = model_migrate(actor=owner, source_name="fraud", destination_name="prod.ml_team.fraud")
    assert job.kind == Job.Kind.MIGRATE
    done = wait_job(job.pk, worker=worker, timeout=90)
    assert (done.files_done, done.files_total) == (3, 3)
    copies = list(ModelVersion.objects.filter(model__schema__isnull=False, model__name="fraud").order_by("version"))
    assert [(c.version, c.status, c.description, c.copied_from.version) for c in copies] == [
        (1, "READY", "v1", 1), (2, "READY", "v2", 2), (3, "READY", "v3", 3)]
    assert all(dict(c.tags.values_list("key", "value")) == {"origin": "workspace"} for c in copies)
    for copy, files in zip(copies, digests):
        assert tree_digests(copy.managed_location.split(":/", 1)[1]) == files
    aliases = dict(ModelAlias.objects.filter(model=copies[0].model).values_list("alias", "version__version"))
    assert aliases == {"Challenger": 1, "Champion": 2}
    assert copies[0].model.description == "legacy fraud model"
    assert _state("fraud") == before  # the original is untouched
    assert done.params["versions"] == {"1": 1, "2": 2, "3": 3}
    body = api(owner).get(f"/api/2.0/explorer/jobs/{job.pk}").json()
    assert body["kind"] == "migrate" and body["state"] == "SUCCEEDED" and body["params"]["versions"]["3"] == 3
    kinds = sorted(Job.objects.filter(model=copies[0].model).values_list("kind", flat=True))
    assert kinds == ["copy", "copy", "copy", "migrate"]


def test_migration_run_again_does_not_duplicate_versions(catalogs, owner):
    _workspace_model(owner, stages=("Production", "Production"))
    job = model_migrate(actor=owner, source_name="fraud", destination_name="prod.ml_team.fraud",
                        stage_alias_map={"production": "Live"})
    # Run in this process: the migration runs each version's copy job itself when no worker takes it.
    assert execute(job.pk) == Job.State.SUCCEEDED
    # A redelivery after a crash just before the job row was finished: the job runs again from its params.
    Job.objects.filter(pk=job.pk).update(state=Job.State.QUEUED, finished_at=None)
    assert execute(job.pk) == Job.State.SUCCEEDED
    # A second migration of the same model into the same destination reuses the copies too.
    again = model_migrate(actor=owner, source_name="fraud", destination_name="prod.ml_team.fraud",
                          stage_alias_map={"production": "Live"})
    assert execute(again.pk) == Job.State.SUCCEEDED
    copies = ModelVersion.objects.filter(model__schema__isnull=False, model__name="fraud")
    assert sorted(copies.values_list("version", "status")) == [(1, "READY"), (2, "READY")]
    assert dict(ModelAlias.objects.filter(model=copies[0].model).values_list("alias", "version__version")) == {"Live": 2}


def test_migration_refuses_bad_requests(catalogs, owner):
    _workspace_model(owner, stages=("None",))
    with pytest.raises(InvalidParameter, match="three-level"):
        model_migrate(actor=owner, source_name="fraud", destination_name="fraud2")
    with pytest.raises(InvalidParameter, match="Unknown stage"):
        model_migrate(actor=owner, source_name="fraud", destination_name="prod.ml_team.f", stage_alias_map={"Prod": "x"})
    assert not Job.objects.filter(kind=Job.Kind.MIGRATE).exists()
