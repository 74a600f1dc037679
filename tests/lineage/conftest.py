"""A small lineage world: the iris table (Delta, version 3) and an evaluation CSV logged to a training run in
experiment `iris-exp` (owned by `owner`), its logged model registered as prod.ml_team.iris_model v1 with alias
Champion, and v1 copied to prod.ml_team.iris_copy by a registration job."""
from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from registry.models import (
    Dataset,
    Experiment,
    Job,
    LoggedModel,
    ModelAlias,
    ModelVersion,
    RegisteredModel,
    Run,
    RunInput,
)
from registry.services.models import registered_model_create


def context(value: str) -> list[dict]:
    return [{"key": "mlflow.data.context", "value": value}]


def make_experiment(pk: int, name: str, owner=None) -> Experiment:
    return Experiment.objects.create(id=pk, name=name, artifact_location=f"mlflow-artifacts:/{pk}", owner_user=owner,
                                     creation_time=0, last_update_time=0)


def make_run(experiment: Experiment, run_id: str, name: str = "", start: int = 0) -> Run:
    return Run.objects.create(run_id=run_id, experiment=experiment, name=name, start_time=start,
                              artifact_uri=f"mlflow-artifacts:/{experiment.pk}/{run_id}/artifacts")


def table_dataset(experiment, table="prod.ml_team.iris", version=3, digest="d-iris", name="iris") -> Dataset:
    source = {"delta_table_name": table, "delta_table_version": version}
    return Dataset.objects.create(experiment=experiment, name=name, digest=digest, source_type="delta_table",
                                  source=json.dumps(source))


def make_version(model: RegisteredModel, number: int, *, run: Run | None = None, logged_model_id: str = "",
                 copied_from: ModelVersion | None = None) -> ModelVersion:
    source = (f"models:/{copied_from.model.full_name}/{copied_from.version}" if copied_from
              else f"models:/{logged_model_id}" if logged_model_id else f"runs:/{run.run_id}/model")
    return ModelVersion.objects.create(model=model, version=number, source=source, run_id=run.run_id if run else "",
                                       logged_model_id=logged_model_id, copied_from=copied_from, status="READY")


@dataclass
class World:
    experiment: Experiment
    run: Run
    table: Dataset
    csv: Dataset
    logged: LoggedModel
    model: RegisteredModel
    v1: ModelVersion
    copy_model: RegisteredModel
    copy: ModelVersion
    job: Job
    alias: ModelAlias


@pytest.fixture
def world(governed, owner) -> World:
    experiment = make_experiment(7, "iris-exp", owner)
    run = make_run(experiment, "a" * 32, "train-iris")
    table = table_dataset(experiment)
    csv = Dataset.objects.create(experiment=experiment, name="iris-eval", digest="d-eval", source_type="http",
                                 source=json.dumps({"url": "https://example.com/iris-eval.csv"}))
    RunInput.objects.create(run=run, dataset=table, tags=context("training"))
    RunInput.objects.create(run=run, dataset=csv, tags=context("evaluation"))
    logged = LoggedModel.objects.create(model_id="m-iris1", experiment=experiment, name="iris-logged", source_run=run,
                                        artifact_uri="mlflow-artifacts:/7/models/m-iris1/artifacts",
                                        creation_timestamp_ms=0, last_updated_timestamp_ms=0)
    model = registered_model_create(actor=owner, name="prod.ml_team.iris_model")
    v1 = make_version(model, 1, run=run, logged_model_id=logged.model_id)
    copy_model = registered_model_create(actor=owner, name="prod.ml_team.iris_copy")
    copy = make_version(copy_model, 1, run=run, logged_model_id=logged.model_id, copied_from=v1)
    job = Job.objects.create(kind=Job.Kind.REGISTER, state=Job.State.SUCCEEDED, model=copy_model, model_version=copy,
                             params={"source_location": f"registry/{model.uid.hex}/versions/1",
                                     "destination": f"registry/{copy_model.uid.hex}/versions/1"})
    alias = ModelAlias.objects.create(model=model, alias="Champion", version=v1)
    return World(experiment, run, table, csv, logged, model, v1, copy_model, copy, job, alias)


def keys(graph) -> set[str]:
    return set(graph.nodes)


def edge_set(graph) -> set[tuple[str, str, str]]:
    return {(e.source, e.target, e.label) for e in graph.edges}
