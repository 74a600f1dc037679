"""MLflow 3 logged models over the tracking API: create, get, finalize, tags, params, outputs, search, delete,
visibility, and the real `mlflow` client's logged-model calls against a live server."""
from __future__ import annotations

import pytest

from registry.models import AuditEvent, LoggedModel, RunOutput

API = "/api/2.0/mlflow"


def call(client, method, path, body=None):
    return getattr(client, method)(f"{API}/{path}", body, format="json")


def error(response, status, code):
    assert response.status_code == status, response.content
    assert response.json()["error_code"] == code, response.content
    assert response.json()["message"]


def new_run(client, experiment_id="0") -> str:
    response = call(client, "post", "runs/create", {"experiment_id": experiment_id, "start_time": 1})
    assert response.status_code == 200, response.content
    return response.json()["run"]["info"]["run_id"]


def new_model(client, run_id, experiment_id="0", **extra) -> dict:
    body = {"experiment_id": experiment_id, "name": "model", "source_run_id": run_id,
            "params": [{"key": "C", "value": "1.0"}],
            "tags": [{"key": "mlflow.user", "value": "root"}, {"key": "mlflow.source.name", "value": "c.py"}]}
    body.update(extra)
    response = call(client, "post", "logged-models", body)
    assert response.status_code == 200, response.content
    return response.json()["model"]


def test_create_get_finalize_as_the_client_does(api, owner):
    client = api(owner)
    run_id = new_run(client)
    model = new_model(client, run_id)
    info = model["info"]
    model_id = info["model_id"]
    assert model_id.startswith("m-") and len(model_id) == 34
    assert info["status"] == "LOGGED_MODEL_PENDING" and info["experiment_id"] == "0" and info["name"] == "model"
    assert info["artifact_uri"] == f"mlflow-artifacts:/0/models/{model_id}/artifacts"
    assert info["source_run_id"] == run_id and info["model_type"] == ""
    assert info["creation_timestamp_ms"] == info["last_updated_timestamp_ms"]
    assert info["tags"] == [{"key": "mlflow.source.name", "value": "c.py"}, {"key": "mlflow.user", "value": "root"}]
    assert model["data"] == {"params": [{"key": "C", "value": "1.0"}]}
    # Metrics logged with the model id belong to the model.
    assert call(client, "post", "runs/outputs", {"run_id": run_id, "models": [{"model_id": model_id, "step": 0}]}
                ).status_code == 200
    assert call(client, "post", "runs/log-batch", {"run_id": run_id, "metrics": [
        {"key": "acc", "value": 0.97, "timestamp": 5, "step": 0, "model_id": model_id}]}).status_code == 200
    got = call(client, "get", f"logged-models/{model_id}").json()["model"]
    assert got["data"]["metrics"] == [{"key": "acc", "value": 0.97, "timestamp": 5, "step": 0, "model_id": model_id,
                                       "run_id": run_id}]
    run = call(client, "get", "runs/get", {"run_id": run_id}).json()["run"]
    assert run["outputs"] == {"model_outputs": [{"model_id": model_id, "step": 0}]}
    finalized = call(client, "patch", f"logged-models/{model_id}",
                     {"model_id": model_id, "status": "LOGGED_MODEL_READY"})
    assert finalized.status_code == 200
    assert finalized.json()["model"]["info"]["status"] == "LOGGED_MODEL_READY"
    assert AuditEvent.objects.filter(action="logged_model.finalize", actor=owner).exists()
    # Any alias of the ajax prefix works too.
    assert api(owner).get(f"/ajax-api/2.0/mlflow/logged-models/{model_id}").status_code == 200


def test_tags_params_and_delete(api, owner):
    client = api(owner)
    model_id = new_model(client, new_run(client))["info"]["model_id"]
    assert call(client, "patch", f"logged-models/{model_id}/tags",
                {"tags": [{"key": "mlflow.modelVersions", "value": "[]"}, {"key": "a.b/c", "value": "x"}]}
                ).status_code == 200
    assert call(client, "patch", f"logged-models/{model_id}/tags",
                {"tags": [{"key": "mlflow.modelVersions", "value": '[{"version": 1}]'}]}).status_code == 200
    assert call(client, "delete", f"logged-models/{model_id}/tags/a.b/c").status_code == 200
    error(call(client, "delete", f"logged-models/{model_id}/tags/a.b/c"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert call(client, "post", f"logged-models/{model_id}/params",
                {"model_id": model_id, "params": [{"key": "D", "value": "2"}, {"key": "C", "value": "1.0"}]}
                ).status_code == 200
    error(call(client, "post", f"logged-models/{model_id}/params", {"params": [{"key": "C", "value": "9"}]}), 400,
          "INVALID_PARAMETER_VALUE")
    model = call(client, "get", f"logged-models/{model_id}").json()["model"]
    tags = {t["key"]: t["value"] for t in model["info"]["tags"]}
    assert tags["mlflow.modelVersions"] == '[{"version": 1}]' and "a.b/c" not in tags
    assert model["data"]["params"] == [{"key": "C", "value": "1.0"}, {"key": "D", "value": "2"}]
    assert call(client, "delete", f"logged-models/{model_id}", {"model_id": model_id}).status_code == 200
    error(call(client, "get", f"logged-models/{model_id}"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert call(client, "get", f"logged-models/{model_id}?allow_deleted=true").status_code == 200
    assert LoggedModel.objects.get(model_id=model_id).lifecycle_stage == "deleted"


def test_bad_input(api, owner):
    client = api(owner)
    run_id = new_run(client)
    model_id = new_model(client, run_id)["info"]["model_id"]
    response = call(client, "get", "logged-models/prod.ml_team.iris_model")
    error(response, 404, "RESOURCE_DOES_NOT_EXIST")
    assert response.json()["message"] == "Logged model with ID 'prod.ml_team.iris_model' not found."
    error(call(client, "get", "logged-models/" + "m" * 300), 404, "RESOURCE_DOES_NOT_EXIST")
    for body in ({}, {"experiment_id": "abc"}, {"experiment_id": "0", "params": "C=1"},
                 {"experiment_id": "0", "tags": [{"key": "../x", "value": "1"}]},
                 {"experiment_id": "0", "name": "a/b"}, {"experiment_id": "0", "name": ["a"]},
                 {"experiment_id": "0", "params": [{"key": f"p{i}", "value": "v"} for i in range(101)]}):
        error(call(client, "post", "logged-models", body), 400, "INVALID_PARAMETER_VALUE")
    error(call(client, "post", "logged-models", {"experiment_id": "0", "source_run_id": "f" * 32}), 404,
          "RESOURCE_DOES_NOT_EXIST")
    error(call(client, "post", "logged-models", {"experiment_id": "777"}), 404, "RESOURCE_DOES_NOT_EXIST")
    for status in ("DONE", "LOGGED_MODEL_PENDING", None, 17):
        error(call(client, "patch", f"logged-models/{model_id}", {"status": status}), 400, "INVALID_PARAMETER_VALUE")
    error(call(client, "patch", f"logged-models/{model_id}/tags", {"tags": {"a": "b"}}), 400, "INVALID_PARAMETER_VALUE")
    error(call(client, "post", "runs/outputs", {"run_id": run_id, "models": [{"model_id": "m-missing"}]}), 404,
          "RESOURCE_DOES_NOT_EXIST")
    error(call(client, "post", "runs/outputs", {"run_id": run_id, "models": "m-1"}), 400, "INVALID_PARAMETER_VALUE")
    error(call(client, "post", "logged-models/search", {"experiment_ids": ["0"], "max_results": 10**7}), 400,
          "INVALID_PARAMETER_VALUE")
    error(call(client, "post", "logged-models/search", {"experiment_ids": ["0"], "order_by": ["name"]}), 400,
          "INVALID_PARAMETER_VALUE")
    error(call(client, "post", "logged-models/search", {"experiment_ids": ["0"], "filter": "name = "}), 400,
          "INVALID_PARAMETER_VALUE")
    assert not RunOutput.objects.exists()


def test_search_filters_orders_and_pages(api, owner):
    client = api(owner)
    run_id = new_run(client)
    ids = {}
    for name, model_type, c in (("model", "sklearn", "1"), ("model", "xgb", "2"), ("other", "sklearn", "1")):
        ids[(name, model_type)] = new_model(client, run_id, name=name, model_type=model_type,
                                            params=[{"key": "C", "value": c}])["info"]["model_id"]
    call(client, "patch", f"logged-models/{ids[('model', 'xgb')]}", {"status": "LOGGED_MODEL_READY"})
    call(client, "post", "runs/log-batch", {"run_id": run_id, "metrics": [
        {"key": "acc", "value": 0.9, "timestamp": 1, "model_id": ids[("other", "sklearn")]}]})

    def search(**body):
        response = call(client, "post", "logged-models/search", {"experiment_ids": ["0"], **body})
        assert response.status_code == 200, response.content
        return response.json()

    def found(**body):
        return [m["info"]["model_id"] for m in search(**body).get("models", [])]

    assert set(found(filter="name = 'model'")) == {ids[("model", "sklearn")], ids[("model", "xgb")]}
    assert found(filter="name = 'model' AND status = 'LOGGED_MODEL_READY'") == [ids[("model", "xgb")]]
    assert found(filter="params.C = '1' AND model_type = 'sklearn' AND name != 'model'") == [ids[("other", "sklearn")]]
    assert found(filter="tags.`mlflow.source.name` = 'c.py' AND metrics.acc > 0.5") == [ids[("other", "sklearn")]]
    assert found(filter=f"source_run_id = '{run_id}' AND name LIKE 'mod%'",
                 order_by=[{"field_name": "model_type", "ascending": False}]) == [ids[("model", "xgb")],
                                                                                  ids[("model", "sklearn")]]
    first = search(max_results=2, order_by=[{"field_name": "creation_timestamp", "ascending": True}])
    second = search(max_results=2, order_by=[{"field_name": "creation_timestamp", "ascending": True}],
                    page_token=first["next_page_token"])
    assert len(first["models"]) == 2 and len(second["models"]) == 1 and "next_page_token" not in second
    assert {m["info"]["model_id"] for m in first["models"] + second["models"]} == set(ids.values())


def test_outsider_cannot_see_or_touch_private_logged_models(api, owner, outsider):
    client = api(owner)
    experiment_id = call(client, "post", "experiments/create", {"name": "private-lm"}).json()["experiment_id"]
    model_id = new_model(client, new_run(client, experiment_id), experiment_id=experiment_id)["info"]["model_id"]
    other = api(outsider)
    error(call(other, "get", f"logged-models/{model_id}"), 404, "RESOURCE_DOES_NOT_EXIST")
    error(call(other, "patch", f"logged-models/{model_id}", {"status": "LOGGED_MODEL_READY"}), 404,
          "RESOURCE_DOES_NOT_EXIST")
    error(call(other, "patch", f"logged-models/{model_id}/tags", {"tags": [{"key": "a", "value": "b"}]}), 404,
          "RESOURCE_DOES_NOT_EXIST")
    error(call(other, "delete", f"logged-models/{model_id}"), 404, "RESOURCE_DOES_NOT_EXIST")
    error(call(other, "post", "logged-models", {"experiment_id": experiment_id}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert call(other, "post", "logged-models/search", {"experiment_ids": [experiment_id]}).json() == {"models": []}
    # The outsider's own run cannot claim the private model as an output either.
    error(call(other, "post", "runs/outputs", {"run_id": new_run(other), "models": [{"model_id": model_id}]}), 404,
          "RESOURCE_DOES_NOT_EXIST")
    assert LoggedModel.objects.get(model_id=model_id).status == "LOGGED_MODEL_PENDING"


@pytest.fixture
def default_experiment(transactional_db):
    """Transactional tests start from flushed tables: put back the default experiment the migration creates."""
    import importlib

    from django.apps import apps

    importlib.import_module("registry.migrations.0002_default_experiment").create_default_experiment(apps, None)


@pytest.mark.slow
def test_real_client_logged_model_calls(
    live_server, default_experiment, monkeypatch, make_user, token_for
):
    import mlflow
    from django.db import connections
    from mlflow.entities import LoggedModelStatus
    from mlflow.tracking import MlflowClient

    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    user = make_user("modeler")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", live_server.url)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token_for(user))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    client = MlflowClient(tracking_uri=live_server.url)
    run = client.create_run("0")
    model = client.create_logged_model("0", name="clf", source_run_id=run.info.run_id, params={"C": "1.0"},
                                       tags={"stage": "dev"}, model_type="sklearn")
    assert model.status == LoggedModelStatus.PENDING and model.params == {"C": "1.0"}
    client.set_logged_model_tags(model.model_id, {"reviewed": "yes"})
    client.delete_logged_model_tag(model.model_id, "stage")
    client.log_model_params(model.model_id, {"D": "2"})
    client.finalize_logged_model(model.model_id, LoggedModelStatus.READY)
    got = client.get_logged_model(model.model_id)
    assert got.status == LoggedModelStatus.READY and got.tags == {"reviewed": "yes"}
    assert got.params == {"C": "1.0", "D": "2"} and got.model_type == "sklearn"
    found = client.search_logged_models(experiment_ids=["0"], filter_string="name = 'clf'")
    assert [m.model_id for m in found] == [model.model_id]
    with pytest.raises(mlflow.exceptions.MlflowException) as excinfo:
        client.get_logged_model("m-" + "0" * 32)
    assert excinfo.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    client.delete_logged_model(model.model_id)
    assert LoggedModel.objects.get(model_id=model.model_id).lifecycle_stage == "deleted"
