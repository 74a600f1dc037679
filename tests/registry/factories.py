"""Factories for registry tests: runs to register from, models and versions created through the services, and a
fingerprint of the registry's state to prove that a refused call changed nothing."""
from __future__ import annotations

import time
import uuid

from registry.models import (
    Catalog,
    Experiment,
    Grant,
    ModelAlias,
    ModelVersion,
    ModelVersionTag,
    RegisteredModel,
    RegisteredModelTag,
    Run,
    Schema,
)
from registry.services.models import registered_model_create
from registry.services.versions import model_version_create


def default_experiment() -> Experiment:
    # Transactional tests flush the data migration's default experiment: make sure it is there.
    now = int(time.time() * 1000)
    experiment, _ = Experiment.objects.get_or_create(
        pk=0, defaults={"name": "Default", "artifact_location": "mlflow-artifacts:/0", "open_to_all": True,
                        "creation_time": now, "last_update_time": now},
    )
    return experiment


def make_run(experiment_id: int = 0) -> Run:
    if experiment_id == 0:
        default_experiment()
    run_id = uuid.uuid4().hex
    return Run.objects.create(run_id=run_id, experiment_id=experiment_id,
                              artifact_uri=f"mlflow-artifacts:/{experiment_id}/{run_id}/artifacts")


def run_source(run: Run | None = None) -> str:
    run = run or make_run()
    return f"runs:/{run.run_id}/model"


def make_model(actor, name: str, **kwargs) -> RegisteredModel:
    return registered_model_create(actor=actor, name=name, **kwargs)


def make_version(actor, name: str, **kwargs) -> ModelVersion:
    return model_version_create(actor=actor, name=name, source=kwargs.pop("source", None) or run_source(), **kwargs)


def state_fingerprint() -> tuple:
    """Everything a service could change, as comparable values (audit rows deliberately left out)."""

    def rows(qs, *fields):
        return sorted(tuple(str(v) for v in row) for row in qs.values_list(*fields))

    return (
        rows(Catalog.objects, "pk", "name", "comment", "owner_user_id", "owner_group_id", "updated_at"),
        rows(Schema.objects, "pk", "name", "comment", "owner_user_id", "owner_group_id", "updated_at"),
        rows(RegisteredModel.objects, "pk", "schema_id", "name", "description", "owner_user_id", "owner_group_id",
             "last_version_number", "updated_at"),
        rows(ModelVersion.objects, "pk", "version", "description", "current_stage", "status", "updated_at"),
        rows(ModelAlias.objects, "model_id", "alias", "version_id"),
        rows(RegisteredModelTag.objects, "model_id", "key", "value"),
        rows(ModelVersionTag.objects, "version_id", "key", "value"),
        rows(Grant.objects, "privilege", "user_id", "group_id", "catalog_id", "schema_id", "model_id"),
    )
