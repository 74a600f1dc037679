"""Parity with a reference `mlflow server` (3.17.2): the endpoints its UI and client call beyond the everyday ones
(bulk metric histories, dataset summaries, the UI's upload, run and logged-model artifact listings), request
validation with its codes and messages, and the logged-model links (mlflow.modelVersions, model inputs, the
`datasets` clause of a search).

The expected answers below (status, error_code, message) were recorded from `mlflow server --backend-store-uri
sqlite:///...` 3.17.2 sending the same requests; where our message differs on purpose the test checks the code,
the status and the message's opening words, and docs/mlflow-compatibility.md says why."""
from __future__ import annotations

import json

import pytest

from registry.models import LoggedModel, LoggedModelTag

API = "/api/2.0/mlflow"
AJAX = "/ajax-api/2.0/mlflow"
HINT = " See the API docs for more information about request parameters."


def post(client, endpoint, body=None, prefix=API):
    return client.post(f"{prefix}/{endpoint}", body, format="json")


def get(client, endpoint, prefix=API, **params):
    return client.get(f"{prefix}/{endpoint}", params)


def error(response, status, code, message=None):
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error_code"] == code, body
    if message is not None:
        assert body["message"] == message, body
    return body["message"]


def new_experiment(client, name) -> str:
    response = post(client, "experiments/create", {"name": name})
    assert response.status_code == 200, response.content
    return response.json()["experiment_id"]


def new_run(client, experiment_id="0") -> str:
    response = post(client, "runs/create", {"experiment_id": experiment_id, "start_time": 1})
    assert response.status_code == 200, response.content
    return response.json()["run"]["info"]["run_id"]


def log_losses(client, run_id, values, *, first_step=0, first_timestamp=100):
    for i, value in enumerate(values):
        assert post(client, "runs/log-metric", {"run_id": run_id, "key": "loss", "value": value,
                                                "timestamp": first_timestamp + i, "step": first_step + i}
                    ).status_code == 200


def new_logged_model(client, run_id, experiment_id="0", name="m") -> dict:
    response = post(client, "logged-models", {"experiment_id": experiment_id, "name": name, "source_run_id": run_id})
    assert response.status_code == 200, response.content
    return response.json()["model"]["info"]


def put_artifact(client, path, content: bytes):
    response = client.put(f"/api/2.0/mlflow-artifacts/artifacts/{path}", content,
                          content_type="application/octet-stream")
    assert response.status_code == 200, response.content


# ---- request validation: the reference's codes and messages ----------------------------------------------------

WRONG_TYPES = [
    # (path, body, the reference's message)
    ("experiments/create", {"name": 123},
     "Invalid value 123 for parameter 'name' supplied:  Hint: Value was of type 'int'." + HINT),
    ("experiments/create", {"name": True},
     "Invalid value true for parameter 'name' supplied:  Hint: Value was of type 'bool'." + HINT),
    ("experiments/create", {"name": ["a"]},
     "Invalid value [\"a\"] for parameter 'name' supplied:  Hint: Value was of type 'list'." + HINT),
    ("experiments/create", {}, "Missing value for required parameter 'name'." + HINT),
    ("runs/log-metric", {"run_id": 123, "key": "k", "value": 1, "timestamp": 1},
     "Invalid value 123 for parameter 'run_id' supplied:  Hint: Value was of type 'int'." + HINT),
    ("runs/log-parameter", {"run_id": 123, "key": "k", "value": "v"},
     "Invalid value 123 for parameter 'run_id' supplied:  Hint: Value was of type 'int'." + HINT),
    ("runs/set-tag", {"run_id": 123, "key": "k", "value": "v"},
     "Invalid value 123 for parameter 'run_id' supplied:  Hint: Value was of type 'int'." + HINT),
    ("runs/log-batch", {"run_id": 5},
     "Invalid value 5 for parameter 'run_id' supplied:  Hint: Value was of type 'int'." + HINT),
    ("runs/create", {"experiment_id": 0},
     "Invalid value 0 for parameter 'experiment_id' supplied:  Hint: Value was of type 'int'." + HINT),
    ("runs/search", {"experiment_ids": ["0"], "max_results": "abc"},
     "Invalid value \"abc\" for parameter 'max_results' supplied:  Hint: Value was of type 'str'." + HINT),
]


@pytest.mark.parametrize("path,body,message", WRONG_TYPES, ids=[f"{p}:{json.dumps(b)}" for p, b, _ in WRONG_TYPES])
def test_a_value_of_the_wrong_json_type_is_refused_as_the_reference_words_it(api, owner, path, body, message):
    error(post(api(owner), path, body), 400, "INVALID_PARAMETER_VALUE", message)


def test_experiment_named_by_a_number_is_not_created(api, owner):
    client = api(owner)
    post(client, "experiments/create", {"name": 123})
    error(get(client, "experiments/get-by-name", experiment_name="123"), 404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.parametrize("field", ["metrics", "params", "tags"])
def test_log_batch_with_a_string_for_a_list_is_refused(api, owner, field):
    client = api(owner)
    run_id = new_run(client)
    error(post(client, "runs/log-batch", {"run_id": run_id, field: "foo"}), 400, "INVALID_PARAMETER_VALUE",
          f"Invalid value \"foo\" for parameter '{field}' supplied:  Hint: Value was of type 'str'." + HINT)
    error(post(client, "runs/log-inputs", {"run_id": run_id, "datasets": "foo"}), 400, "INVALID_PARAMETER_VALUE",
          "Invalid value \"foo\" for parameter 'datasets' supplied:  Hint: Value was of type 'str'." + HINT)
    data = get(client, "runs/get", run_id=run_id).json()["run"]
    assert "metrics" not in data["data"] and "params" not in data["data"] and data["inputs"] == {}


MAX_RESULTS = [
    # (method, path, body or query, the reference's message)
    ("post", "experiments/search", {"max_results": 0},
     "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer"),
    ("post", "experiments/search", {"max_results": 50001},
     "Invalid value 50001 for parameter 'max_results' supplied. It must be at most 50000"),
    ("post", "runs/search", {"experiment_ids": ["0"], "max_results": -1},
     "Invalid value -1 for parameter 'max_results' supplied. It must be a positive integer"),
    ("get", "metrics/get-history", {"metric_key": "loss", "max_results": 0},
     "Invalid value 0 for parameter 'max_results' supplied. It must be a positive integer"),
]


@pytest.mark.parametrize("method,path,params,message", MAX_RESULTS, ids=[f"{p}:{b}" for _, p, b, _ in MAX_RESULTS])
def test_max_results_out_of_range_is_refused_as_the_reference_words_it(api, owner, method, path, params, message):
    client = api(owner)
    if path == "metrics/get-history":
        params = {**params, "run_id": new_run(client)}
    response = post(client, path, params) if method == "post" else get(client, path, **params)
    # The reference ends some of these with a period and some without; the words are the same.
    assert error(response, 400, "INVALID_PARAMETER_VALUE").rstrip(".") == message


@pytest.mark.parametrize("method,path,params", [
    ("post", "experiments/search", {}),
    ("post", "runs/search", {"experiment_ids": ["0"]}),
    ("post", "logged-models/search", {"experiment_ids": ["0"]}),
    ("get", "registered-models/search", {}),
    ("get", "model-versions/search", {}),
    ("get", "metrics/get-history", {"metric_key": "loss"}),  # without max_results: today's 200 with everything
    ("get", "metrics/get-history", {"metric_key": "loss", "max_results": 2}),
])
def test_a_malformed_page_token_is_an_error(api, owner, method, path, params):
    client = api(owner)
    if path == "metrics/get-history":
        run_id = new_run(client)
        log_losses(client, run_id, [1.0, 0.5, 0.25])
        params = {**params, "run_id": run_id}
    params = {**params, "page_token": "garbage"}
    response = post(client, path, params) if method == "post" else get(client, path, **params)
    # The reference: "Invalid page token, could not base64-decode".
    assert error(response, 400, "INVALID_PARAMETER_VALUE").startswith("Invalid page token")


def test_metric_history_pages_with_a_token_and_no_max_results(api, owner):
    client = api(owner)
    run_id = new_run(client)
    log_losses(client, run_id, [1.0, 0.5, 0.25])
    first = get(client, "metrics/get-history", run_id=run_id, metric_key="loss", max_results=2).json()
    rest = get(client, "metrics/get-history", run_id=run_id, metric_key="loss",
               page_token=first["next_page_token"]).json()
    assert [m["step"] for m in first["metrics"]] == [0, 1] and [m["step"] for m in rest["metrics"]] == [2]


# ---- metrics/get-history-bulk (ajax prefix only) --------------------------------------------------------------

def test_get_history_bulk(api, owner):
    client = api(owner)
    a, b = new_run(client), new_run(client)
    log_losses(client, a, [1.0, 0.5, 0.25])
    log_losses(client, b, [5.0, "NaN"], first_step=3, first_timestamp=5)
    body = get(client, "metrics/get-history-bulk", prefix=AJAX, run_id=[a, b], metric_key="loss").json()
    expected = sorted([(a, 0, 1.0), (a, 1, 0.5), (a, 2, 0.25), (b, 3, 5.0), (b, 4, "NaN")], key=lambda t: t[0])
    assert [(m["run_id"], m["step"], m["value"]) for m in body["metrics"]] == expected
    assert set(body["metrics"][0]) == {"key", "value", "timestamp", "step", "run_id"}
    capped = get(client, "metrics/get-history-bulk", prefix=AJAX, run_id=[a, b], metric_key="loss", max_results=2)
    assert len(capped.json()["metrics"]) == 2
    assert get(client, "metrics/get-history-bulk", prefix=AJAX, run_id=["nope"], metric_key="loss").json() == {
        "metrics": []}
    # The reference serves it to its UI only: /api/ has no such endpoint (a JSON 404 here, HTML there).
    error(get(client, "metrics/get-history-bulk", run_id=a, metric_key="loss"), 404, "ENDPOINT_NOT_FOUND")


@pytest.mark.parametrize("params,message", [
    ({"metric_key": "loss"}, "GetMetricHistoryBulk request must specify at least one run_id."),
    ({"run_id": "r"}, "GetMetricHistoryBulk request must specify a metric_key."),
    ({"run_id": [f"r{i}" for i in range(101)], "metric_key": "loss"},
     "GetMetricHistoryBulk request cannot specify more than 100 run_ids. Received 101 run_ids."),
])
def test_get_history_bulk_errors(api, owner, params, message):
    error(get(api(owner), "metrics/get-history-bulk", prefix=AJAX, **params), 400, "INVALID_PARAMETER_VALUE", message)


def test_get_history_bulk_leaves_out_runs_the_caller_may_not_read(api, owner, outsider):
    client = api(owner)
    private = new_run(client, new_experiment(client, "private"))
    log_losses(client, private, [1.0])
    other = api(outsider)
    assert get(other, "metrics/get-history-bulk", prefix=AJAX, run_id=private, metric_key="loss").json() == {
        "metrics": []}
    assert get(other, "metrics/get-history-bulk-interval", prefix=AJAX, run_ids=private, metric_key="loss"
               ).json() == {}


# ---- metrics/get-history-bulk-interval (both prefixes) --------------------------------------------------------

@pytest.mark.parametrize("prefix", [API, AJAX])
def test_get_history_bulk_interval_samples_as_the_reference(api, owner, prefix):
    client = api(owner)
    a, b = new_run(client), new_run(client)
    log_losses(client, a, [1 / (i + 1) for i in range(7)])  # steps 0..6
    log_losses(client, b, [5.0, "NaN"], first_step=3, first_timestamp=5)

    def steps(**params):
        body = get(client, "metrics/get-history-bulk-interval", prefix=prefix, metric_key="loss", **params).json()
        return [(m["run_id"], m["step"]) for m in body.get("metrics", [])]

    # The reference's answers for the same histories: NTILE buckets, the last point always kept.
    assert steps(run_ids=[a, b], max_results=3) == [(a, 0), (a, 3), (a, 6), (b, 3), (b, 4)]
    assert steps(run_ids=[b, a], max_results=3) == [(b, 3), (b, 4), (a, 0), (a, 3), (a, 6)]  # in the order asked
    assert steps(run_ids=[a]) == [(a, s) for s in range(7)]
    assert steps(run_ids=[a], max_results=1) == [(a, 6)]
    assert steps(run_ids=[a], max_results=2, start_step=2, end_step=5) == [(a, 2), (a, 5)]
    nan = get(client, "metrics/get-history-bulk-interval", prefix=prefix, run_ids=b, metric_key="loss").json()
    assert nan["metrics"][1] == {"key": "loss", "value": "NaN", "timestamp": 6, "step": 4, "run_id": b}
    assert get(client, "metrics/get-history-bulk-interval", prefix=prefix, run_ids="nope", metric_key="loss"
               ).json() == {}


@pytest.mark.parametrize("params,message", [
    ({"start_step": 2}, "If either start step or end step are specified, both must be specified."),
    ({"start_step": 5, "end_step": 2}, "end_step must be greater than start_step. Found start_step=5 and end_step=2."),
    ({"max_results": 0}, "max_results must be between 1 and 2500." + HINT),
    ({"max_results": 2501}, "max_results must be between 1 and 2500." + HINT),
    ({"max_results": "x"}, "Invalid value \"x\" for parameter 'max_results' supplied:  Hint: Value was of type 'str'."
     + HINT),
    ({"start_step": "x", "end_step": 3},
     "Invalid value \"x\" for parameter 'start_step' supplied:  Hint: Value was of type 'str'." + HINT),
    ({"run_ids": None}, "Missing value for required parameter 'run_ids'." + HINT),
    ({"metric_key": None}, "Missing value for required parameter 'metric_key'." + HINT),
    ({"run_ids": [f"r{i}" for i in range(101)]},
     "GetMetricHistoryBulkInterval request must specify at most 100 run_ids. Received 101 run_ids." + HINT),
])
def test_get_history_bulk_interval_errors(api, owner, params, message):
    query = {k: v for k, v in {"run_ids": ["r"], "metric_key": "loss", **params}.items() if v is not None}
    error(get(api(owner), "metrics/get-history-bulk-interval", prefix=AJAX, **query), 400, "INVALID_PARAMETER_VALUE",
          message)


# ---- experiments/search-datasets (ajax prefix only) ----------------------------------------------------------

def _log_dataset(client, run_id, name, digest, context=None):
    tags = [{"key": "mlflow.data.context", "value": context}] if context else []
    response = post(client, "runs/log-inputs", {"run_id": run_id, "datasets": [
        {"tags": tags, "dataset": {"name": name, "digest": digest, "source_type": "local", "source": "{}"}}]})
    assert response.status_code == 200, response.content


def test_search_datasets(api, owner, outsider):
    client = api(owner)
    a, b = new_run(client), new_run(client)
    _log_dataset(client, a, "iris", "abc", "training")
    _log_dataset(client, a, "wine", "d2")
    _log_dataset(client, b, "iris", "abc", "eval")
    body = post(client, "experiments/search-datasets", {"experiment_ids": ["0"]}, prefix=AJAX).json()
    # The reference's answer for the same inputs.
    assert sorted(body["dataset_summaries"], key=json.dumps) == sorted([
        {"experiment_id": "0", "name": "iris", "digest": "abc", "context": "training"},
        {"experiment_id": "0", "name": "iris", "digest": "abc", "context": "eval"},
        {"experiment_id": "0", "name": "wine", "digest": "d2"},
    ], key=json.dumps)
    assert post(client, "experiments/search-datasets", {"experiment_ids": ["999"]}, prefix=AJAX).json() == {}
    private = new_experiment(client, "private")
    _log_dataset(client, new_run(client, private), "secret", "s1")
    assert post(api(outsider), "experiments/search-datasets", {"experiment_ids": [private]}, prefix=AJAX
                ).json() == {}
    error(post(client, "experiments/search-datasets", {"experiment_ids": ["0"]}), 404, "ENDPOINT_NOT_FOUND")


def test_search_datasets_errors(api, owner):
    client = api(owner)
    error(post(client, "experiments/search-datasets", {}, prefix=AJAX), 400, "INVALID_PARAMETER_VALUE",
          "SearchDatasets request must specify at least one experiment_id.")
    error(post(client, "experiments/search-datasets", {"experiment_ids": [str(i) for i in range(21)]}, prefix=AJAX),
          400, "INVALID_PARAMETER_VALUE",
          "SearchDatasets request cannot specify more than 20 experiment_ids. Received 21 experiment_ids.")
    error(post(client, "experiments/search-datasets", {"experiment_ids": ["abc"]}, prefix=AJAX), 400,
          "INVALID_PARAMETER_VALUE")
    error(client.post(f"{AJAX}/experiments/search-datasets", "experiment_ids=0",
                      content_type="application/x-www-form-urlencoded"), 400, "INVALID_PARAMETER_VALUE",
          "Bad Request. Content-Type must be one of ['application/json'].")
    assert get(client, "experiments/search-datasets", prefix=AJAX, experiment_ids="0").status_code == 405


# ---- upload-artifact (ajax prefix only) and artifacts/list ---------------------------------------------------

def upload(client, content: bytes, **params):
    from urllib.parse import urlencode

    return client.post(f"{AJAX}/upload-artifact?{urlencode(params)}", content,
                       content_type="application/octet-stream")


def test_upload_artifact_then_list_and_download(api, owner):
    client = api(owner)
    run_id = new_run(client)
    assert upload(client, b"hello", run_uuid=run_id, path="dir/a.txt").status_code == 200
    got = client.get(f"/ajax-api/2.0/mlflow-artifacts/artifacts/0/{run_id}/artifacts/dir/a.txt")
    assert got.status_code == 200 and b"".join(got.streaming_content) == b"hello"
    root = f"mlflow-artifacts:/0/{run_id}/artifacts"
    # The reference's ListArtifacts answers: paths relative to the run's root, `files` left out when empty.
    assert get(client, "artifacts/list", run_id=run_id, path="dir").json() == {
        "root_uri": root, "files": [{"path": "dir/a.txt", "is_dir": False, "file_size": 5}]}
    assert get(client, "artifacts/list", run_id=run_id).json() == {
        "root_uri": root, "files": [{"path": "dir", "is_dir": True}]}
    assert get(client, "artifacts/list", run_id=run_id, path="missing").json() == {"root_uri": root}
    error(client.post(f"{API}/upload-artifact?run_uuid={run_id}&path=b.txt", b"x",
                      content_type="application/octet-stream"), 404, "ENDPOINT_NOT_FOUND")


@pytest.mark.parametrize("params,content,status,code,message", [
    ({"path": "a.txt"}, b"x", 400, "INVALID_PARAMETER_VALUE", "Request must specify run_uuid."),
    ({"run_uuid": "RUN"}, b"x", 400, "INVALID_PARAMETER_VALUE", "Request must specify path."),
    ({"run_uuid": "RUN", "path": "../x"}, b"x", 400, "INVALID_PARAMETER_VALUE", None),
    ({"run_uuid": "RUN", "path": "/abs"}, b"x", 400, "INVALID_PARAMETER_VALUE", None),
    ({"run_uuid": "RUN", "path": "a#b"}, b"x", 400, "INVALID_PARAMETER_VALUE", None),
    ({"run_uuid": "RUN", "path": "e.txt"}, b"", 400, "INVALID_PARAMETER_VALUE", "Request must specify data."),
    ({"run_uuid": "nope", "path": "e.txt"}, b"x", 404, "RESOURCE_DOES_NOT_EXIST", "Run with id=nope not found"),
    ({"run_uuid": "RUN", "path": "big"}, b"x" * (10 * 1024 * 1024 + 1), 400, "INVALID_PARAMETER_VALUE",
     "Artifact size is too large. Max size is 10MB."),
], ids=["no-run", "no-path", "dotdot", "absolute", "hash", "empty", "missing-run", "too-large"])
def test_upload_artifact_errors(api, owner, params, content, status, code, message):
    client = api(owner)
    run_id = new_run(client)
    params = {k: (run_id if v == "RUN" else v) for k, v in params.items()}
    error(upload(client, content, **params), status, code, message)


def test_upload_artifact_needs_the_right_to_write_the_run(api, owner, outsider):
    client = api(owner)
    private = new_run(client, new_experiment(client, "private"))
    error(upload(api(outsider), b"x", run_uuid=private, path="a.txt"), 404, "RESOURCE_DOES_NOT_EXIST")
    shared = new_run(client)  # the default experiment is open to all; its runs are their owners'
    error(upload(api(outsider), b"x", run_uuid=shared, path="a.txt"), 403, "PERMISSION_DENIED")


@pytest.mark.parametrize("url", [
    "/api/2.0/mlflow-artifacts/artifacts/0/RUN/artifacts/..%2fx",
    "/api/2.0/mlflow-artifacts/artifacts?path=../x",
    "/api/2.0/mlflow/artifacts/list?run_id=RUN&path=../x",
])
def test_an_invalid_artifact_path_is_a_json_400(api, owner, url):
    client = api(owner)
    response = client.get(url.replace("RUN", new_run(client)))
    # The reference: 400 INVALID_PARAMETER_VALUE "Invalid path"; ours names what is wrong with it.
    assert error(response, 400, "INVALID_PARAMETER_VALUE").startswith("Invalid artifact path")


# ---- logged-model artifact listings ---------------------------------------------------------------------------

@pytest.fixture
def model_with_files(api, owner):
    client = api(owner)
    info = new_logged_model(client, new_run(client))
    base = f"0/models/{info['model_id']}/artifacts"
    put_artifact(client, f"{base}/MLmodel", b"flavors: {}\n")
    put_artifact(client, f"{base}/sub/w.bin", b"123456")
    return client, info


@pytest.mark.parametrize("prefix", [API, AJAX])
def test_logged_model_artifact_directories(model_with_files, prefix):
    client, info = model_with_files
    path = f"logged-models/{info['model_id']}/artifacts/directories"
    root = {"root_uri": info["artifact_uri"]}
    # The reference's answers for the same files.
    assert get(client, path, prefix=prefix).json() == {**root, "files": [
        {"path": "MLmodel", "is_dir": False, "file_size": 12}, {"path": "sub", "is_dir": True}]}
    assert get(client, path, prefix=prefix, artifact_directory_path="sub").json() == {**root, "files": [
        {"path": "sub/w.bin", "is_dir": False, "file_size": 6}]}
    assert get(client, path, prefix=prefix, artifact_directory_path="missing").json() == root
    assert get(client, path, prefix=prefix, artifact_directory_path="MLmodel").json() == root
    error(get(client, path, prefix=prefix, artifact_directory_path="../x"), 400, "INVALID_PARAMETER_VALUE")
    error(get(client, f"logged-models/m-{'0' * 32}/artifacts/directories", prefix=prefix), 404,
          "RESOURCE_DOES_NOT_EXIST", f"Logged model with ID 'm-{'0' * 32}' not found.")


def test_logged_model_artifact_file(model_with_files):
    client, info = model_with_files
    path = f"logged-models/{info['model_id']}/artifacts/files"
    got = get(client, path, prefix=AJAX, artifact_file_path="sub/w.bin")
    assert got.status_code == 200 and b"".join(got.streaming_content) == b"123456"
    assert got["Content-Disposition"].startswith("attachment") and got["X-Content-Type-Options"] == "nosniff"
    error(get(client, path, prefix=AJAX), 400, "BAD_REQUEST",
          'Request must include the "artifact_file_path" query parameter.')
    error(get(client, path, prefix=AJAX, artifact_file_path="../x"), 400, "INVALID_PARAMETER_VALUE")
    error(get(client, path, prefix=AJAX, artifact_file_path="missing"), 404, "RESOURCE_DOES_NOT_EXIST")
    error(get(client, path, prefix=AJAX, artifact_file_path="sub"), 400, "INVALID_PARAMETER_VALUE",
          "Artifact path refers to a directory, not a file: 'sub'")
    error(get(client, path, artifact_file_path="MLmodel"), 404, "ENDPOINT_NOT_FOUND")  # ajax prefix only


def test_logged_model_artifacts_of_a_hidden_model_look_missing(api, owner, outsider):
    client = api(owner)
    experiment_id = new_experiment(client, "private")
    info = new_logged_model(client, new_run(client, experiment_id), experiment_id)
    put_artifact(client, f"{experiment_id}/models/{info['model_id']}/artifacts/MLmodel", b"x")
    other = api(outsider)
    missing = f"Logged model with ID '{info['model_id']}' not found."
    error(get(other, f"logged-models/{info['model_id']}/artifacts/directories"), 404, "RESOURCE_DOES_NOT_EXIST",
          missing)
    error(get(other, f"logged-models/{info['model_id']}/artifacts/files", prefix=AJAX, artifact_file_path="MLmodel"),
          404, "RESOURCE_DOES_NOT_EXIST", missing)


# ---- logged models: mlflow.modelVersions and the datasets clause ---------------------------------------------

def test_registering_a_version_from_a_logged_model_lists_it_on_the_model(api, owner):
    client = api(owner)
    info = new_logged_model(client, new_run(client))
    model_id = info["model_id"]
    put_artifact(client, f"0/models/{model_id}/artifacts/MLmodel", b"flavors: {}\n")
    assert post(client, "registered-models/create", {"name": "clf"}).status_code == 200
    for _ in range(2):
        response = post(client, "model-versions/create", {"name": "clf", "source": f"models:/{model_id}",
                                                          "model_id": model_id})
        assert response.status_code == 200, response.content
    tags = get(client, f"logged-models/{model_id}").json()["model"]["info"]["tags"]
    # The reference's value after the same two registrations.
    assert {"key": "mlflow.modelVersions",
            "value": '[{"name": "clf", "version": 1}, {"name": "clf", "version": 2}]'} in tags


def _log_model_metric(client, run_id, model_id, value, dataset, digest):
    assert post(client, "runs/log-batch", {"run_id": run_id, "metrics": [
        {"key": "acc", "value": value, "timestamp": 1, "step": 0, "model_id": model_id, "dataset_name": dataset,
         "dataset_digest": digest}]}).status_code == 200


def test_search_logged_models_honours_datasets(api, owner):
    client = api(owner)
    run_id = new_run(client)
    iris, wine = new_logged_model(client, run_id, name="iris-model"), new_logged_model(client, run_id, name="wine")
    new_logged_model(client, run_id, name="no-metrics")
    _log_model_metric(client, run_id, iris["model_id"], 0.9, "iris", "abc")
    _log_model_metric(client, run_id, wine["model_id"], 0.8, "wine", "d2")

    def names(datasets, **extra):
        response = post(client, "logged-models/search", {"experiment_ids": ["0"], "datasets": datasets, **extra})
        assert response.status_code == 200, response.content
        return sorted(m["info"]["name"] for m in response.json().get("models", []))

    assert names([{"dataset_name": "iris", "dataset_digest": "abc"}]) == ["iris-model"]
    assert names([{"dataset_name": "iris", "dataset_digest": "zzz"}]) == []
    assert names([{"dataset_name": "iris"}, {"dataset_name": "wine"}]) == ["iris-model", "wine"]
    # A metric comparison must hold on one of the datasets named.
    assert names([{"dataset_name": "wine"}], filter="metrics.acc > 0.85") == []
    assert names([{"dataset_name": "iris"}], filter="metrics.acc > 0.85") == ["iris-model"]
    for bad in ([{"dataset_digest": "abc"}], [{}]):
        error(post(client, "logged-models/search", {"experiment_ids": ["0"], "datasets": bad}), 400,
              "INVALID_PARAMETER_VALUE", "`dataset_name` in the `datasets` clause must be specified.")
    error(post(client, "logged-models/search", {"experiment_ids": ["0"], "datasets": "foo"}), 400,
          "INVALID_PARAMETER_VALUE",
          "Invalid value \"foo\" for parameter 'datasets' supplied:  Hint: Value was of type 'str'." + HINT)


def test_log_inputs_records_model_inputs_and_the_run_shows_them(api, owner, outsider):
    client = api(owner)
    run_id = new_run(client)
    base = new_logged_model(client, new_run(client), name="base")
    assert post(client, "runs/log-inputs", {"run_id": run_id, "models": [{"model_id": base["model_id"]}]}
                ).status_code == 200
    assert post(client, "runs/log-inputs", {"run_id": run_id, "models": [{"model_id": base["model_id"]}]}
                ).status_code == 200  # once is enough: logging it again changes nothing
    inputs = get(client, "runs/get", run_id=run_id).json()["run"]["inputs"]
    # The reference's shape.
    assert inputs == {"model_inputs": [{"model_id": base["model_id"]}]}
    found = post(client, "runs/search", {"experiment_ids": ["0"], "filter": f"attributes.run_id = '{run_id}'"}).json()
    assert found["runs"][0]["inputs"] == inputs
    error(post(client, "runs/log-inputs", {"run_id": run_id, "models": "foo"}), 400, "INVALID_PARAMETER_VALUE")
    # A model the caller cannot read is as missing as one that does not exist.
    hidden_experiment = new_experiment(api(outsider), "theirs")
    hidden = new_logged_model(api(outsider), new_run(api(outsider), hidden_experiment), hidden_experiment)
    for model_id in (hidden["model_id"], "m-" + "0" * 32):
        error(post(client, "runs/log-inputs", {"run_id": run_id, "models": [{"model_id": model_id}]}), 404,
              "RESOURCE_DOES_NOT_EXIST", f"Logged model with ID '{model_id}' not found.")


def test_the_run_page_lists_input_models_the_viewer_may_read(api, owner, outsider):
    from django.test import Client

    from registry.models import RunModelInput

    client = api(owner)
    run_id = new_run(client)
    base = new_logged_model(client, new_run(client), name="base-model")
    post(client, "runs/log-inputs", {"run_id": run_id, "models": [{"model_id": base["model_id"]}]})
    browser = Client()
    browser.force_login(owner)
    page = browser.get(f"/runs/{run_id}/").content.decode()
    assert "Input models (1)" in page and base["model_id"] in page and "base-model" in page
    # The model moves out of the viewer's reach (its experiment made private to someone else): the run stays
    # readable, the input model is no longer named, in the page or the API.
    other_experiment = new_experiment(api(outsider), "elsewhere")
    LoggedModel.objects.filter(model_id=base["model_id"]).update(experiment_id=int(other_experiment))
    assert RunModelInput.objects.filter(run__run_id=run_id).count() == 1
    assert base["model_id"] not in browser.get(f"/runs/{run_id}/").content.decode()
    assert get(client, "runs/get", run_id=run_id).json()["run"]["inputs"] == {}


# ---- the real mlflow client --------------------------------------------------------------------------------------

@pytest.mark.slow
def test_real_client_logged_model_links(live_mlflow, tmp_path):
    import mlflow

    client = live_mlflow
    run = client.create_run("0")
    run_id = run.info.run_id
    model = client.create_logged_model("0", name="clf", source_run_id=run_id)
    other = client.create_logged_model("0", name="other", source_run_id=run_id)
    (tmp_path / "MLmodel").write_text("flavors: {}\n")
    client.log_model_artifacts(model.model_id, str(tmp_path))
    assert [f.path for f in client.list_logged_model_artifacts(model.model_id)] == ["MLmodel"]
    client.log_batch(run_id, metrics=[mlflow.entities.Metric("acc", 0.9, 1, 0, model_id=model.model_id,
                                                             dataset_name="iris", dataset_digest="abc")])
    found = client.search_logged_models(["0"], datasets=[{"dataset_name": "iris", "dataset_digest": "abc"}])
    assert [m.model_id for m in found] == [model.model_id]
    client.log_inputs(run_id, models=[mlflow.entities.LoggedModelInput(other.model_id)])
    assert [m.model_id for m in client.get_run(run_id).inputs.model_inputs] == [other.model_id]
    # Registering from the logged model lists the version on it (the server's doing: create_model_version sets
    # no tag itself).
    client.create_registered_model("clf")
    version = client.create_model_version("clf", f"models:/{model.model_id}", model_id=model.model_id)
    assert json.loads(client.get_logged_model(model.model_id).tags["mlflow.modelVersions"]) == [
        {"name": "clf", "version": int(version.version)}]
    # Wrong JSON types through the client's own error type.
    with pytest.raises(mlflow.exceptions.MlflowException) as excinfo:
        client.search_runs(["0"], max_results=50001)
    assert excinfo.value.error_code == "INVALID_PARAMETER_VALUE"
    assert LoggedModelTag.objects.filter(logged_model__model_id=other.model_id).count() == 0
    assert LoggedModel.objects.filter(model_id=model.model_id).exists()
