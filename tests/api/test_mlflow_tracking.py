"""The MLflow tracking API (experiments, runs, logging, search, metric history) through DRF's client with real
tokens, plus one test that drives the unmodified `mlflow` client against a live server."""
from __future__ import annotations

import json

import pytest

from registry.models import AuditEvent, Dataset, Experiment, Grant, Metric, Run, RunInput
from registry.services.grants import grant_add

API = "/api/2.0/mlflow"


def post(client, path, body):
    return client.post(f"{API}/{path}", body, format="json")


def get(client, path, **query):
    return client.get(f"{API}/{path}", query)


def error(response, status, code):
    assert response.status_code == status, response.content
    assert response.json()["error_code"] == code, response.content
    assert response.json()["message"]


def create_experiment(client, name="exp-a") -> str:
    response = post(client, "experiments/create", {"name": name})
    assert response.status_code == 200, response.content
    return response.json()["experiment_id"]


def create_run(client, experiment_id="0", **extra) -> dict:
    body = {"experiment_id": experiment_id, "user_id": "someone-else", "start_time": 1700000000000,
            "tags": [{"key": "mlflow.user", "value": "someone-else"}, {"key": "mlflow.source.name", "value": "t.py"}]}
    body.update(extra)
    response = post(client, "runs/create", body)
    assert response.status_code == 200, response.content
    return response.json()["run"]


def tags_of(run: dict) -> dict:
    return {t["key"]: t["value"] for t in run["data"].get("tags", [])}


# ---- experiments ------------------------------------------------------------------------------------------

def test_create_and_get_experiment_owned_by_actor(api, owner):
    client = api(owner)
    experiment_id = create_experiment(client, "exp-a")
    assert experiment_id.isdigit() and int(experiment_id) >= 1
    body = get(client, "experiments/get", experiment_id=experiment_id).json()["experiment"]
    assert body == {"experiment_id": experiment_id, "name": "exp-a",
                    "artifact_location": f"mlflow-artifacts:/{experiment_id}", "lifecycle_stage": "active",
                    "last_update_time": body["creation_time"], "creation_time": body["creation_time"]}
    assert Experiment.objects.get(pk=int(experiment_id)).owner_user == owner
    assert AuditEvent.objects.filter(action="experiment.create", outcome="success").exists()
    by_name = get(client, "experiments/get-by-name", experiment_name="exp-a").json()["experiment"]
    assert by_name["experiment_id"] == experiment_id
    # Ids are allocated max+1.
    assert int(create_experiment(client, "exp-b")) == int(experiment_id) + 1


def test_experiment_create_errors(api, owner):
    client = api(owner)
    create_experiment(client, "dup")
    error(post(client, "experiments/create", {"name": "dup"}), 400, "RESOURCE_ALREADY_EXISTS")
    error(post(client, "experiments/create", {}), 400, "INVALID_PARAMETER_VALUE")
    error(post(client, "experiments/create", {"name": ["x"]}), 400, "INVALID_PARAMETER_VALUE")
    error(post(client, "experiments/create", {"name": "x" * 501}), 400, "INVALID_PARAMETER_VALUE")
    error(post(client, "experiments/create", {"name": "local", "artifact_location": "/etc"}), 400,
          "INVALID_PARAMETER_VALUE")
    error(post(client, "experiments/create", {"name": "t", "tags": "nope"}), 400, "INVALID_PARAMETER_VALUE")
    response = client.post(f"{API}/experiments/create", "{not json", content_type="application/json")
    assert response.status_code == 400 and "error_code" in response.json()
    assert not Experiment.objects.filter(name__in=["local", "t"]).exists()


def test_experiment_get_errors(api, owner):
    client = api(owner)
    error(get(client, "experiments/get", experiment_id="424242"), 404, "RESOURCE_DOES_NOT_EXIST")
    error(get(client, "experiments/get", experiment_id="abc"), 400, "INVALID_PARAMETER_VALUE")
    error(get(client, "experiments/get", experiment_id="9" * 30), 400, "INVALID_PARAMETER_VALUE")
    error(get(client, "experiments/get"), 400, "INVALID_PARAMETER_VALUE")
    response = get(client, "experiments/get-by-name", experiment_name="missing")
    error(response, 404, "RESOURCE_DOES_NOT_EXIST")
    assert response.json()["message"] == "Could not find experiment with name 'missing'"


def test_anonymous_gets_401(api):
    response = get(api(), "experiments/get", experiment_id="0")
    error(response, 401, "UNAUTHENTICATED")
    error(post(api(), "runs/create", {"experiment_id": "0"}), 401, "UNAUTHENTICATED")


def test_experiment_rename_tag_delete_restore(api, owner, reader):
    client = api(owner)
    experiment_id = create_experiment(client, "before")
    assert post(client, "experiments/update", {"experiment_id": experiment_id, "new_name": "after"}).status_code == 200
    assert post(client, "experiments/set-experiment-tag",
                {"experiment_id": experiment_id, "key": "team", "value": "ml"}).status_code == 200
    body = get(client, "experiments/get", experiment_id=experiment_id).json()["experiment"]
    assert body["name"] == "after" and body["tags"] == [{"key": "team", "value": "ml"}]
    assert post(client, "experiments/delete", {"experiment_id": experiment_id}).status_code == 200
    got = get(client, "experiments/get", experiment_id=experiment_id).json()["experiment"]
    assert got["lifecycle_stage"] == "deleted"
    error(post(client, "runs/create", {"experiment_id": experiment_id}), 400, "INVALID_PARAMETER_VALUE")
    assert post(client, "experiments/restore", {"experiment_id": experiment_id}).status_code == 200
    assert Experiment.objects.get(pk=int(experiment_id)).lifecycle_stage == "active"
    # The default experiment cannot be deleted, and other users cannot see a private experiment at all.
    error(post(client, "experiments/delete", {"experiment_id": "0"}), 403, "PERMISSION_DENIED")
    error(post(api(reader), "experiments/update", {"experiment_id": experiment_id, "new_name": "x"}), 404,
          "RESOURCE_DOES_NOT_EXIST")


def test_experiment_search_filter_order_pagination(api, owner, outsider):
    client = api(owner)
    for name in ("alpha-1", "alpha-2", "beta-1"):
        create_experiment(client, name)
    create_experiment(api(outsider), "alpha-outsider")
    body = post(client, "experiments/search", {"filter": "name LIKE 'alpha%'", "order_by": ["name DESC"]}).json()
    assert [e["name"] for e in body["experiments"]] == ["alpha-2", "alpha-1"]
    page1 = post(client, "experiments/search", {"max_results": 2, "order_by": ["name ASC"]}).json()
    assert [e["name"] for e in page1["experiments"]] == ["Default", "alpha-1"]
    page2 = post(client, "experiments/search", {"max_results": 2, "order_by": ["name ASC"],
                                                "page_token": page1["next_page_token"]}).json()
    assert [e["name"] for e in page2["experiments"]] == ["alpha-2", "beta-1"]
    assert "next_page_token" not in page2
    # GET works too (the browser uses it).
    by_get = get(client, "experiments/search", filter="name = 'beta-1'").json()["experiments"]
    assert [e["name"] for e in by_get] == ["beta-1"]
    error(post(client, "experiments/search", {"max_results": 10**9}), 400, "INVALID_PARAMETER_VALUE")
    error(post(client, "experiments/search", {"max_results": "many"}), 400, "INVALID_PARAMETER_VALUE")
    error(post(client, "experiments/search", {"page_token": "garbage!"}), 400, "INVALID_PARAMETER_VALUE")
    error(post(client, "experiments/search", {"filter": "name === 'x'"}), 400, "INVALID_PARAMETER_VALUE")
    error(post(client, "experiments/search", {"order_by": ["metrics.acc"]}), 400, "INVALID_PARAMETER_VALUE")
    error(post(client, "experiments/search", {"view_type": "SOMETIMES"}), 400, "INVALID_PARAMETER_VALUE")


# ---- runs -------------------------------------------------------------------------------------------------

def test_create_run_in_default_experiment(api, owner):
    run = create_run(api(owner))
    info = run["info"]
    assert len(info["run_id"]) == 32 and info["run_uuid"] == info["run_id"]
    assert info["experiment_id"] == "0" and info["status"] == "RUNNING" and info["lifecycle_stage"] == "active"
    assert info["artifact_uri"] == f"mlflow-artifacts:/0/{info['run_id']}/artifacts"
    assert info["start_time"] == 1700000000000 and "end_time" not in info
    # The authenticated user is recorded, not what the client claims.
    assert info["user_id"] == "owner"
    tags = tags_of(run)
    assert tags["mlflow.user"] == "owner" and tags["mlflow.runName"] == info["run_name"]
    adjective, animal, number = info["run_name"].split("-")
    assert adjective.isalpha() and animal.isalpha() and number.isdigit()
    assert run["inputs"] == {} and run["outputs"] == {}
    assert AuditEvent.objects.filter(action="run.create", actor=owner).exists()


def test_run_name_given_or_conflicting(api, owner):
    client = api(owner)
    assert create_run(client, run_name="my-run")["info"]["run_name"] == "my-run"
    conflicting = {"experiment_id": "0", "run_name": "a", "tags": [{"key": "mlflow.runName", "value": "b"}]}
    error(post(client, "runs/create", conflicting), 400, "INVALID_PARAMETER_VALUE")
    error(post(client, "runs/create", {"experiment_id": "0", "start_time": "soon"}), 400, "INVALID_PARAMETER_VALUE")
    error(post(client, "runs/create", {"experiment_id": "0", "start_time": 10**30}), 400, "INVALID_PARAMETER_VALUE")
    error(post(client, "runs/create", {"experiment_id": "987654"}), 404, "RESOURCE_DOES_NOT_EXIST")
    error(post(client, "runs/create", {}), 400, "INVALID_PARAMETER_VALUE")


def test_log_param_metric_tag_and_get_run(api, owner):
    client = api(owner)
    run_id = create_run(client)["info"]["run_id"]
    ids = {"run_id": run_id, "run_uuid": run_id}
    assert post(client, "runs/log-parameter", {**ids, "key": "C", "value": "1.0"}).status_code == 200
    # The same value again is fine; a different value is refused, as by MLflow.
    assert post(client, "runs/log-parameter", {**ids, "key": "C", "value": "1.0"}).status_code == 200
    response = post(client, "runs/log-parameter", {**ids, "key": "C", "value": "2.0"})
    error(response, 400, "INVALID_PARAMETER_VALUE")
    assert "Changing param values is not allowed" in response.json()["message"]
    for step, value in ((0, 0.5), (2, 0.9), (1, 0.7)):
        assert post(client, "runs/log-metric", {**ids, "key": "acc", "value": value, "timestamp": 1000 + step,
                                                "step": step}).status_code == 200
    assert post(client, "runs/log-metric", {**ids, "key": "loss", "value": "NaN", "timestamp": 5}).status_code == 200
    big = {**ids, "key": "big", "value": "Infinity", "timestamp": 5}
    assert post(client, "runs/log-metric", big).status_code == 200
    assert post(client, "runs/set-tag", {**ids, "key": "team", "value": "ml"}).status_code == 200
    run = get(client, "runs/get", **ids).json()["run"]
    metrics = {m["key"]: m for m in run["data"]["metrics"]}
    assert metrics["acc"] == {"key": "acc", "value": 0.9, "timestamp": 1002, "step": 2}
    assert metrics["loss"]["value"] == "NaN" and metrics["big"]["value"] == "Infinity"
    assert run["data"]["params"] == [{"key": "C", "value": "1.0"}]
    assert tags_of(run)["team"] == "ml"
    assert post(client, "runs/delete-tag", {"run_id": run_id, "key": "team"}).status_code == 200
    assert "team" not in tags_of(get(client, "runs/get", run_id=run_id).json()["run"])
    error(post(client, "runs/delete-tag", {"run_id": run_id, "key": "team"}), 404, "RESOURCE_DOES_NOT_EXIST")


def test_logging_bad_input(api, owner):
    client = api(owner)
    run_id = create_run(client)["info"]["run_id"]
    cases = [
        ("runs/log-metric", {"run_id": run_id, "key": "acc", "value": "high", "timestamp": 1}),
        ("runs/log-metric", {"run_id": run_id, "key": "acc", "value": 1.0}),
        ("runs/log-metric", {"run_id": run_id, "key": "acc", "value": 1.0, "timestamp": 1, "step": 2**70}),
        ("runs/log-metric", {"run_id": run_id, "key": "../etc", "value": 1.0, "timestamp": 1}),
        ("runs/log-metric", {"run_id": run_id, "key": {"a": 1}, "value": 1.0, "timestamp": 1}),
        ("runs/log-parameter", {"run_id": run_id, "key": "p"}),
        ("runs/log-parameter", {"run_id": run_id, "key": "p", "value": "x" * 6001}),
        ("runs/log-parameter", {"run_id": run_id, "key": "k" * 251, "value": "x"}),
        ("runs/set-tag", {"run_id": run_id, "key": "t", "value": ["x"]}),
        ("runs/log-batch", {"run_id": run_id, "metrics": "nope"}),
        ("runs/log-batch", {"run_id": run_id, "params": [{"key": f"p{i}", "value": "v"} for i in range(101)]}),
        ("runs/log-batch", {"run_id": run_id, "metrics": [{"key": "m", "value": 1, "timestamp": 1}] * 1001}),
        ("runs/log-batch", {"run_id": run_id, "tags": [{"key": f"t{i}", "value": "v"} for i in range(101)]}),
        ("runs/log-batch", {"run_id": run_id, "params": ["not-an-object"]}),
        ("runs/update", {"run_id": run_id, "status": "DANCING"}),
        ("runs/log-metric", {"key": "acc", "value": 1.0, "timestamp": 1}),
    ]
    for path, body in cases:
        error(post(client, path, body), 400, "INVALID_PARAMETER_VALUE")
    for path, body in [("runs/log-metric", {"run_id": "f" * 32, "key": "a", "value": 1, "timestamp": 1}),
                       ("runs/log-parameter", {"run_id": "x" * 500, "key": "a", "value": "1"})]:
        error(post(client, path, body), 404, "RESOURCE_DOES_NOT_EXIST")
    error(get(client, "runs/get", run_id="0" * 32), 404, "RESOURCE_DOES_NOT_EXIST")
    assert not Metric.objects.filter(run__run_id=run_id).exists()


def test_log_batch_writes_all_and_checks_params(api, owner):
    client = api(owner)
    run_id = create_run(client)["info"]["run_id"]
    body = {"run_id": run_id,
            "metrics": [{"key": "m", "value": i / 10, "timestamp": 100 + i, "step": i} for i in range(5)],
            "params": [{"key": "p", "value": "1"}], "tags": [{"key": "t", "value": "x"}]}
    assert post(client, "runs/log-batch", body).status_code == 200
    run = get(client, "runs/get", run_id=run_id).json()["run"]
    assert run["data"]["metrics"] == [{"key": "m", "value": 0.4, "timestamp": 104, "step": 4}]
    assert Metric.objects.filter(run__run_id=run_id, key="m").count() == 5
    # A batch that changes a param is refused as a whole.
    bad = {"run_id": run_id, "metrics": [{"key": "m2", "value": 1, "timestamp": 1}],
           "params": [{"key": "p", "value": "2"}]}
    error(post(client, "runs/log-batch", bad), 400, "INVALID_PARAMETER_VALUE")
    assert not Metric.objects.filter(run__run_id=run_id, key="m2").exists()


def test_update_delete_restore_run(api, owner):
    client = api(owner)
    run_id = create_run(client)["info"]["run_id"]
    response = post(client, "runs/update", {"run_id": run_id, "run_uuid": run_id, "status": "FINISHED",
                                            "end_time": 1700000005000, "run_name": "renamed"})
    assert response.status_code == 200
    info = response.json()["run_info"]
    assert info["status"] == "FINISHED" and info["end_time"] == 1700000005000 and info["run_name"] == "renamed"
    assert tags_of(get(client, "runs/get", run_id=run_id).json()["run"])["mlflow.runName"] == "renamed"
    assert post(client, "runs/delete", {"run_id": run_id}).status_code == 200
    assert get(client, "runs/get", run_id=run_id).json()["run"]["info"]["lifecycle_stage"] == "deleted"
    error(post(client, "runs/log-parameter", {"run_id": run_id, "key": "a", "value": "b"}), 400,
          "INVALID_PARAMETER_VALUE")
    assert post(client, "runs/restore", {"run_id": run_id}).status_code == 200
    assert Run.objects.get(run_id=run_id).lifecycle_stage == "active"
    assert AuditEvent.objects.filter(action__in=["run.delete", "run.restore"]).count() == 2


def test_log_inputs_dedupes_datasets(api, owner):
    client = api(owner)
    first = create_run(client)["info"]["run_id"]
    second = create_run(client)["info"]["run_id"]
    dataset = {"name": "iris", "digest": "8f9eb48c", "source_type": "s3", "source": '{"uri": "s3://b/iris.csv"}',
               "schema": "{}", "profile": '{"num_rows": 150}'}
    for run_id in (first, second, first):
        body = {"run_id": run_id, "datasets": [{"tags": [{"key": "mlflow.data.context", "value": "training"}],
                                                "dataset": dataset}]}
        assert post(client, "runs/log-inputs", body).status_code == 200
    assert Dataset.objects.filter(name="iris").count() == 1
    assert RunInput.objects.filter(run__run_id=first).count() == 1
    run = get(client, "runs/get", run_id=second).json()["run"]
    assert run["inputs"]["dataset_inputs"] == [{"tags": [{"key": "mlflow.data.context", "value": "training"}],
                                                "dataset": dataset}]
    error(post(client, "runs/log-inputs", {"run_id": first, "datasets": [{"dataset": {"name": "x"}}]}), 400,
          "INVALID_PARAMETER_VALUE")
    error(post(client, "runs/log-inputs", {"run_id": first, "datasets": [{"dataset": "x"}]}), 400,
          "INVALID_PARAMETER_VALUE")


def test_metric_history_paginates(api, owner):
    client = api(owner)
    run_id = create_run(client)["info"]["run_id"]
    metrics = [{"key": "loss", "value": 1 / (i + 1), "timestamp": 10 + i, "step": i} for i in range(7)]
    post(client, "runs/log-batch", {"run_id": run_id, "metrics": metrics})
    whole = get(client, "metrics/get-history", run_id=run_id, metric_key="loss").json()
    assert [m["step"] for m in whole["metrics"]] == list(range(7)) and "next_page_token" not in whole
    page = get(client, "metrics/get-history", run_id=run_id, metric_key="loss", max_results=3).json()
    steps = [m["step"] for m in page["metrics"]]
    while "next_page_token" in page:
        page = get(client, "metrics/get-history", run_id=run_id, metric_key="loss", max_results=3,
                   page_token=page["next_page_token"]).json()
        steps += [m["step"] for m in page["metrics"]]
    assert steps == list(range(7))
    assert get(client, "metrics/get-history", run_id=run_id, metric_key="absent").json() == {"metrics": []}
    error(get(client, "metrics/get-history", run_id=run_id, metric_key="loss", max_results=0), 400,
          "INVALID_PARAMETER_VALUE")
    error(get(client, "metrics/get-history", run_id=run_id), 400, "INVALID_PARAMETER_VALUE")


def test_search_runs_filter_order_and_pages(api, owner):
    client = api(owner)
    experiment_id = create_experiment(client, "search-runs")
    for i, (acc, model) in enumerate([(0.7, "lr"), (0.95, "rf"), (0.85, "rf"), (0.99, "gb")]):
        run_id = create_run(client, experiment_id, run_name=f"r{i}", start_time=1000 + i)["info"]["run_id"]
        post(client, "runs/log-batch", {"run_id": run_id, "metrics": [{"key": "acc", "value": acc, "timestamp": 1}],
                                        "params": [{"key": "model", "value": model}],
                                        "tags": [{"key": "group", "value": "even" if i % 2 == 0 else "odd"}]})
    post(client, "runs/update", {"run_id": run_id, "status": "FINISHED"})

    def names(body):
        response = post(client, "runs/search", {"experiment_ids": [experiment_id], **body})
        assert response.status_code == 200, response.content
        return [r["info"]["run_name"] for r in response.json().get("runs", [])]

    assert names({}) == ["r3", "r2", "r1", "r0"]  # newest first
    assert names({"filter": "metrics.acc > 0.8", "order_by": ["metrics.acc DESC"]}) == ["r3", "r1", "r2"]
    assert names({"filter": "params.model = 'rf' AND metrics.acc >= 0.9"}) == ["r1"]
    assert names({"filter": "params.model != 'rf'", "order_by": ["params.model"]}) == ["r3", "r0"]
    assert names({"filter": "tags.group = 'even'", "order_by": ["attributes.start_time ASC"]}) == ["r0", "r2"]
    assert names({"filter": "attributes.status = 'FINISHED'"}) == ["r3"]
    assert names({"filter": "attributes.run_name LIKE 'r%' AND metrics.acc < 0.8"}) == ["r0"]
    assert names({"filter": "metrics.acc <= 0.85 AND metrics.acc != 0.7"}) == ["r2"]
    assert names({"filter": "tags.`group` = 'odd'", "order_by": ["attributes.run_name"]}) == ["r1", "r3"]
    assert names({"filter": "attributes.run_name IN ('r0', 'r3')"}) == ["r3", "r0"]
    assert names({"filter": "params.missing IS NULL AND params.model ILIKE 'R%'"}) == ["r2", "r1"]
    assert names({"filter": "attributes.start_time < 1e300"}) == ["r3", "r2", "r1", "r0"]  # huge, yet finite
    assert names({"filter": "metrics.acc < 1e400"}) == ["r3", "r2", "r1", "r0"]  # a float column meets infinity
    page = post(client, "runs/search", {"experiment_ids": [experiment_id], "max_results": 3}).json()
    rest = post(client, "runs/search", {"experiment_ids": [experiment_id], "max_results": 3,
                                        "page_token": page["next_page_token"]}).json()
    assert len(page["runs"]) == 3 and [r["info"]["run_name"] for r in rest["runs"]] == ["r0"]
    for bad in ({"filter": "metrics.acc > 'high'"}, {"filter": "foo.bar = 1"}, {"filter": "params.model > 'a'"},
                {"filter": "metrics.acc > 1 OR metrics.acc < 0"}, {"filter": "attributes.nope = 'x'"},
                {"max_results": 50001}, {"order_by": ["metrics.acc SIDEWAYS"]}, {"experiment_ids": ["x"]},
                {"page_token": "eyJvZmZzZXQiOiAtMX0="}, {"run_view_type": "NEVER"},
                {"experiment_ids": [str(i) for i in range(1001)]}, {"filter": "attributes.start_time > 1e400"},
                {"filter": "attributes.end_time < -1e999"}):
        error(post(client, "runs/search", {"experiment_ids": [experiment_id], **bad}), 400, "INVALID_PARAMETER_VALUE")


# ---- visibility -------------------------------------------------------------------------------------------

def test_outsider_cannot_see_private_experiment_or_its_runs(api, owner, outsider):
    client = api(owner)
    experiment_id = create_experiment(client, "private")
    run_id = create_run(client, experiment_id)["info"]["run_id"]
    other = api(outsider)
    error(get(other, "experiments/get", experiment_id=experiment_id), 404, "RESOURCE_DOES_NOT_EXIST")
    error(get(other, "experiments/get-by-name", experiment_name="private"), 404, "RESOURCE_DOES_NOT_EXIST")
    error(get(other, "runs/get", run_id=run_id), 404, "RESOURCE_DOES_NOT_EXIST")
    error(post(other, "runs/log-metric", {"run_id": run_id, "key": "a", "value": 1, "timestamp": 1}), 404,
          "RESOURCE_DOES_NOT_EXIST")
    error(post(other, "runs/create", {"experiment_id": experiment_id}), 404, "RESOURCE_DOES_NOT_EXIST")
    error(get(other, "metrics/get-history", run_id=run_id, metric_key="a"), 404, "RESOURCE_DOES_NOT_EXIST")
    assert post(other, "runs/search", {"experiment_ids": [experiment_id]}).json() == {"runs": []}
    names = [e["name"] for e in post(other, "experiments/search", {}).json()["experiments"]]
    assert "private" not in names and "Default" in names


def test_executor_reads_but_cannot_write(api, admin, owner, reader):
    client = api(owner)
    experiment_id = create_experiment(client, "shared")
    run_id = create_run(client, experiment_id)["info"]["run_id"]
    grant_add(actor=admin, securable=Experiment.objects.get(pk=int(experiment_id)), principal=reader,
              privilege="EXECUTE")
    assert Grant.objects.filter(experiment_id=int(experiment_id)).exists()
    other = api(reader)
    assert get(other, "runs/get", run_id=run_id).status_code == 200
    assert len(post(other, "runs/search", {"experiment_ids": [experiment_id]}).json()["runs"]) == 1
    error(post(other, "runs/set-tag", {"run_id": run_id, "key": "a", "value": "b"}), 403, "PERMISSION_DENIED")
    error(post(other, "runs/create", {"experiment_id": experiment_id}), 403, "PERMISSION_DENIED")


def test_default_experiment_is_open_to_everyone(api, owner, outsider):
    run_id = create_run(api(owner))["info"]["run_id"]
    other = api(outsider)
    assert get(other, "experiments/get", experiment_id="0").status_code == 200
    assert get(other, "runs/get", run_id=run_id).status_code == 200
    own = create_run(other)
    assert own["info"]["user_id"] == "outsider"
    # Shared is not owned: another user's run cannot be deleted by someone who merely may log to it.
    error(post(other, "runs/delete", {"run_id": run_id}), 403, "PERMISSION_DENIED")
    assert post(other, "runs/delete", {"run_id": own["info"]["run_id"]}).status_code == 200
    assert post(other, "runs/restore", {"run_id": own["info"]["run_id"]}).status_code == 200
    found = post(other, "runs/search", {"experiment_ids": ["0"]}).json()["runs"]
    assert {r["info"]["run_id"] for r in found} == {run_id, own["info"]["run_id"]}


def test_ajax_prefix_serves_the_same_endpoints(api, owner):
    response = api(owner).get("/ajax-api/2.0/mlflow/experiments/get", {"experiment_id": "0"})
    assert response.status_code == 200 and response.json()["experiment"]["name"] == "Default"


# ---- the real client --------------------------------------------------------------------------------------

@pytest.fixture
def default_experiment(transactional_db):
    """Transactional tests start from flushed tables: put back the default experiment the migration creates."""
    import importlib

    from django.apps import apps

    importlib.import_module("registry.migrations.0002_default_experiment").create_default_experiment(apps, None)


@pytest.mark.slow
def test_real_mlflow_client_logs_and_reads_a_run(
    live_server, default_experiment, monkeypatch, make_user, token_for
):
    import mlflow
    import pandas as pd
    from django.db import connections
    from mlflow.tracking import MlflowClient

    # The client keeps HTTP connections alive; server threads must not keep database sessions open past the test.
    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    user = make_user("scientist")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", live_server.url)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token_for(user))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    mlflow.set_tracking_uri(live_server.url)
    try:
        experiment = mlflow.set_experiment("client-exp")
        assert experiment.artifact_location == f"mlflow-artifacts:/{experiment.experiment_id}"
        frame = pd.DataFrame({"x": [1.0, 2.0, 3.0], "y": [0, 1, 0]})
        with mlflow.start_run(run_name="client-run") as active:
            run_id = active.info.run_id
            mlflow.log_param("C", "1.0")
            mlflow.log_metric("acc", 0.5, step=0)
            mlflow.log_metric("acc", 0.97, step=1)
            mlflow.set_tag("team", "ml")
            mlflow.log_input(mlflow.data.from_pandas(frame, name="toy"), context="training")
            mlflow.log_params({"a": "1", "b": "2"})
        client = MlflowClient()
        run = client.get_run(run_id)
        assert run.info.status == "FINISHED" and run.info.user_id == "scientist"
        assert run.info.run_name == "client-run"
        assert run.data.params == {"C": "1.0", "a": "1", "b": "2"}
        assert run.data.metrics == {"acc": 0.97}
        assert run.data.tags["team"] == "ml"
        dataset_input = run.inputs.dataset_inputs[0]
        assert dataset_input.dataset.name == "toy"
        assert {t.key: t.value for t in dataset_input.tags}["mlflow.data.context"] == "training"
        history = client.get_metric_history(run_id, "acc")
        assert [(m.step, m.value) for m in history] == [(0, 0.5), (1, 0.97)]
        found = mlflow.search_runs(experiment_ids=[experiment.experiment_id], filter_string="metrics.acc > 0.9",
                                   output_format="list")
        assert [r.info.run_id for r in found] == [run_id]
        assert mlflow.search_runs(experiment_ids=[experiment.experiment_id], filter_string="params.C = '2'",
                                  output_format="list") == []
        assert client.get_experiment_by_name("no-such-experiment") is None
        with pytest.raises(mlflow.exceptions.MlflowException) as excinfo:
            client.log_param(run_id, "C", "2.0")
        assert excinfo.value.error_code == "INVALID_PARAMETER_VALUE"
    finally:
        mlflow.set_tracking_uri(None)
    assert Run.objects.get(run_id=run_id).owner == user
    assert json.loads(json.dumps(list(Metric.objects.filter(run__run_id=run_id).values_list("value", flat=True))))
