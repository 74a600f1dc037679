"""The seed's example end to end through the unmodified mlflow client, a live server and a real Celery worker:
the iris table logged as training input (a Delta table source, version 3), the model logged and registered as
prod.ml_team.iris_model, copied to staging; the version's lineage shows the table with its version, the run and
the copy, and a consumer of the copy alone sees the source as restricted."""
from __future__ import annotations

import os

import pytest
import requests

from registry.lineage.selectors import lineage_graph
from registry.lineage.svg import render_svg
from registry.models import Grant, ModelVersion, Privilege, RegisteredModel
from registry.services.tokens import token_create
from tests.conftest import wait_for
from tests.e2e.test_mlflow_client import _train, mlflow_env  # noqa: F401  (the fixture, shared with e2e tests)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _lineage(url: str, token: str, **params) -> requests.Response:
    return requests.get(f"{url}/api/2.1/lineage", params=params, headers={"Authorization": f"Bearer {token}"},
                        timeout=60)


def test_iris_table_to_registered_version_to_copy(mlflow_env):
    import mlflow
    from mlflow import MlflowClient
    from mlflow.data.delta_dataset_source import DeltaDatasetSource

    client = MlflowClient()
    model, X, y = _train()
    # A table-backed dataset as on Databricks; the table id is given so the client does not look it up.
    source = DeltaDatasetSource(delta_table_name="prod.ml_team.iris", delta_table_version=3, delta_table_id="t-iris")
    dataset = mlflow.data.from_pandas(X.assign(target=y), source=source, name="iris", targets="target")
    with mlflow.start_run(run_name="train-iris") as run:
        mlflow.log_input(dataset, context="training")
        mlflow.sklearn.log_model(model, name="model", input_example=X.iloc[:3],
                                 registered_model_name="prod.ml_team.iris_model")
    assert client.get_model_version("prod.ml_team.iris_model", "1").status == "READY"
    client.copy_model_version("models:/prod.ml_team.iris_model/1", "staging.ml_team.iris_model")
    wait_for(lambda: client.get_model_version("staging.ml_team.iris_model", "1").status == "READY", timeout=90,
             message="the copy to be READY")

    url, token = mlflow_env["url"], os.environ["MLFLOW_TRACKING_TOKEN"]
    r = _lineage(url, token, node="model_version:prod.ml_team.iris_model/1", direction="both", depth="4")
    assert r.status_code == 200, r.text
    body = r.json()
    nodes = {n["key"]: n for n in body["nodes"]}
    edges = {(e["source"], e["target"], e["label"]): e for e in body["edges"]}
    v1 = ModelVersion.objects.get(model__schema__catalog__name="prod", model__name="iris_model", version=1)
    copy = ModelVersion.objects.get(model__schema__catalog__name="staging", model__name="iris_model", version=1)
    run_key = f"run:{run.info.run_id}"
    assert nodes["table:prod.ml_team.iris"]["attrs"]["versions"] == ["3"]
    assert edges[("table:prod.ml_team.iris", run_key, "training")]["attrs"] == {"table_version": "3"}
    assert nodes[run_key]["name"] == "train-iris"
    assert (f"logged_model:{v1.logged_model_id}", f"model_version:{v1.pk}", "registered") in edges
    copy_edge = edges[(f"model_version:{v1.pk}", f"model_version:{copy.pk}", "copy")]
    assert copy_edge["attrs"]["job_kind"] in ("copy", "register") and copy_edge["attrs"]["job_state"] == "SUCCEEDED"
    assert nodes[f"model_version:{copy.pk}"]["name"] == "staging.ml_team.iris_model v1"

    # The picture of the same graph names the table, its version, the run and the copy.
    svg = render_svg(lineage_graph(actor=mlflow_env["alice"], node=f"model_version:{v1.pk}", depth=4),
                     lambda n: f"/{n.type}/{n.id}")
    for text in ("prod.ml_team.iris @ v3", "train-iris", "staging.ml_team.iris_model v1", "training", "copy"):
        assert text in svg

    # A consumer allowed to load the staging copy only: the source version is restricted, no name leaks.
    bob = mlflow_env["User"].objects.create_user("bob", "bob@example.com", "pw-bob")
    staging_model = RegisteredModel.objects.get(schema__catalog__name="staging", name="iris_model")
    for kw in ({"catalog": staging_model.schema.catalog}, {"schema": staging_model.schema}):
        Grant.objects.create(privilege=Privilege.USE_CATALOG if "catalog" in kw else Privilege.USE_SCHEMA, user=bob,
                             **kw)
    Grant.objects.create(privilege=Privilege.EXECUTE, user=bob, model=staging_model)
    _, bob_token = token_create(actor=bob, user=bob, name="bob")
    r = _lineage(url, bob_token, node="model_version:staging.ml_team.iris_model/1", direction="upstream", depth="5")
    assert r.status_code == 200, r.text
    assert sorted(n["type"] for n in r.json()["nodes"]) == ["model_version", "restricted"]
    for secret in ("prod.ml_team", "train-iris", run.info.run_id, "iris_model v1\"", v1.logged_model_id):
        assert secret not in r.text.replace("staging.ml_team.iris_model v1\"", "")
    hidden = _lineage(url, bob_token, node="model_version:prod.ml_team.iris_model/1")
    missing = _lineage(url, bob_token, node="model_version:prod.ml_team.nope/1")
    assert hidden.status_code == missing.status_code == 404
