"""A workspace-registry model whose versions have real artifacts and stages, to upgrade to Unity Catalog from the
dialog and the API tests; and the in-process run of an upgrade's job."""
from __future__ import annotations

from registry.jobs import execute
from registry.models import Job, RegisteredModel
from registry.services.models import registered_model_create
from registry.services.versions import model_version_create, model_version_transition_stage
from tests.jobs.conftest import logged_run


def workspace_model(owner, name: str = "LegacyFraud", stages=("Staging", "Production", "None")) -> RegisteredModel:
    """`name` owned by `owner`, one version per entry of `stages` (version n in stages[n-1])."""
    model = registered_model_create(actor=owner, name=name, description="legacy fraud model")
    for number, stage in enumerate(stages, start=1):
        run, _ = logged_run(files=1)
        model_version_create(actor=owner, name=name, source=f"runs:/{run.run_id}/model", description=f"v{number}")
        if stage != "None":
            model_version_transition_stage(actor=owner, name=name, version=number, stage=stage)
    return model


def run_upgrade(job: Job) -> Job:
    """Run the MIGRATE job here, as tests/jobs/test_migration.py does (it runs each version's copy itself)."""
    assert execute(job.pk) == Job.State.SUCCEEDED, Job.objects.get(pk=job.pk).error
    job.refresh_from_db()
    return job
