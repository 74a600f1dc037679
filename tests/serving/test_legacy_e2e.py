"""Legacy model serving end to end, nothing mocked: the unmodified `mlflow` client against gunicorn serving the
explorer, a real Celery worker (registration of three-level versions), and a real serving supervisor
(`python -m explorer.serve_models`) running MLflow's scoring server in model processes.

A data scientist registers sklearn models (three-level and workspace), enables serving over REST, and scores by
version, alias and stage in each MLflow 2 input format (also chunked and gzip-compressed through gunicorn), the
answers equal to the models' own predictions; a new version is deployed without anyone asking; moving the alias
or the stage changes which version answers the next request; an archived version's URI goes."""
from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import requests
from django.contrib.auth import get_user_model
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from registry.models import Experiment
from registry.services.catalogs import catalog_create, schema_create
from registry.services.grants import grant_add
from registry.services.tokens import token_create
from tests.conftest import ROOT, wait_for
from tests.serving.legacy_fixtures import free_port

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

UC, WS = "prod.ml_team.iris", "iris_ws"
MB = 1024 * 1024


class Process:
    def __init__(self, argv: list[str], env: dict, log_path: Path):
        self.log_path = log_path
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(argv, cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT,
                                     start_new_session=True)

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")


@pytest.fixture
def stack(worker_env, celery_worker, tmp_path):
    """gunicorn (2 workers, like `make run`) and one serving supervisor, on the test database."""
    port = free_port()
    env = {**worker_env, "SERVING_LEASE_SECONDS": "5"}
    web = Process([str(Path(sys.executable).parent / "gunicorn"), "explorer.wsgi:application", "--bind",
                   f"127.0.0.1:{port}", "--workers", "2", "--timeout", "120"], env, tmp_path / "web.log")
    supervisor = Process([sys.executable, "-m", "explorer.serve_models"], env, tmp_path / "supervisor.log")
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _up(url), timeout=60, message="gunicorn")
        yield {"url": url, "web": web, "supervisor": supervisor}
    finally:
        supervisor.stop()
        web.stop()


def _up(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=2).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture
def alice(stack, monkeypatch, tmp_path):
    """A data scientist with a token who may create models in prod.ml_team, the mlflow client pointed at gunicorn."""
    import mlflow

    Experiment.ensure_default()
    User = get_user_model()
    admin = User.objects.create_superuser("root", "root@example.com", "pw-root")
    alice = User.objects.create_user("alice", "alice@example.com", "pw-alice")
    catalog = catalog_create(actor=admin, name="prod")
    schema = schema_create(actor=admin, catalog_name="prod", name="ml_team")
    for securable, privilege in ((catalog, "USE CATALOG"), (schema, "USE SCHEMA"), (schema, "CREATE MODEL")):
        grant_add(actor=admin, securable=securable, principal=alice, privilege=privilege)
    _, secret = token_create(actor=alice, user=alice, name="e2e")
    for key, value in {"MLFLOW_TRACKING_URI": stack["url"], "MLFLOW_TRACKING_TOKEN": secret,
                       "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "60"}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(stack["url"])
    mlflow.set_registry_uri(stack["url"])
    mlflow.set_experiment(experiment_id="0")
    session = requests.Session()
    session.auth = ("token", secret)  # curl -u token:$TOKEN
    yield {"url": stack["url"], "secret": secret, "http": session}
    if mlflow.active_run():
        mlflow.end_run()


def _log(model, X, **kwargs):
    import mlflow

    with mlflow.start_run():
        return mlflow.sklearn.log_model(model, name="model", input_example=X.iloc[:3], **kwargs)


def _status(alice, name: str) -> dict:
    response = alice["http"].get(f"{alice['url']}/api/2.0/explorer/serving/models/status",
                                 params={"registered_model_name": name}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()


def _ready(alice, name: str, versions: set[str]):
    def check():
        status = _status(alice, name)
        got = {v["version"] for v in status["versions"] if v["state"] == "READY"}
        failed = [v for v in status["versions"] if v["state"] == "FAILED"]
        assert not failed, failed
        return status if status["state"] == "READY" and got == versions else None

    return wait_for(check, timeout=150, interval=0.5, message=f"{name} versions {sorted(versions)} READY")


def _score(alice, name: str, reference, payload=None, **kwargs) -> requests.Response:
    url = f"{alice['url']}/model/{name}/{reference}/invocations"
    if payload is not None:
        kwargs["data"] = json.dumps(payload)
    headers = {"Content-Type": "application/json", **kwargs.pop("headers", {})}
    return alice["http"].post(url, headers=headers, timeout=60, **kwargs)


def _formats(X) -> list[dict]:
    return [{"dataframe_split": {"columns": list(X.columns), "data": X.values.tolist()}},
            {"dataframe_records": X.to_dict(orient="records")},
            {"instances": X.to_dict(orient="records")},
            {"inputs": {c: X[c].tolist() for c in X.columns}}]


def _predictions(response: requests.Response) -> list:
    assert response.status_code == 200, response.text
    return response.json()["predictions"]


def test_legacy_serving_end_to_end(alice, stack):
    from mlflow import MlflowClient

    client = MlflowClient()
    X, y = load_iris(as_frame=True, return_X_y=True)
    first = LogisticRegression(max_iter=300).fit(X, y)
    second = LogisticRegression(max_iter=300).fit(X, (y + 1) % 3)  # answers differently: we see which one did
    assert not np.array_equal(first.predict(X), second.predict(X))

    # Register: a three-level model (copied and verified by the Celery worker) and a workspace model.
    info = _log(first, X, registered_model_name=UC)
    client.set_registered_model_alias(UC, "Champion", "1")
    import mlflow

    mlflow.register_model(info.model_uri, WS)
    client.transition_model_version_stage(WS, "1", "Production")

    # Enable serving over REST; the status moves at once (reconciled on commit), then READY.
    for name in (UC, WS):
        response = alice["http"].post(f"{alice['url']}/api/2.0/explorer/serving/models/enable",
                                      json={"registered_model_name": name}, timeout=30)
        assert response.status_code == 200, response.text
        assert response.json()["state"] == "PENDING"
    status = _ready(alice, UC, {"1"})
    assert status["versions"][0]["uris"] == ["/model/prod.ml_team.iris/1/invocations",
                                             "/model/prod.ml_team.iris/Champion/invocations"]
    status = _ready(alice, WS, {"1"})
    assert status["versions"][0]["uris"] == ["/model/iris_ws/1/invocations", "/model/iris_ws/Production/invocations"]

    # Score by version, alias and stage in every input format: the model's own predictions.
    sample = X.sample(25, random_state=0)
    expected = first.predict(sample).tolist()
    for name, reference in ((UC, 1), (UC, "Champion"), (WS, 1), (WS, "Production")):
        for payload in _formats(sample):
            assert _predictions(_score(alice, name, reference, payload)) == expected, (name, reference, payload.keys())

    # The README's curl line, as a user types it.
    curl = subprocess.run(
        ["curl", "-sS", "-u", f"token:{alice['secret']}", "-X", "POST", f"{alice['url']}/model/{UC}/Champion/invocations",
         "-H", "Content-Type: application/json", "-d", json.dumps(_formats(sample.iloc[:3])[0])],
        capture_output=True, timeout=60, check=True)
    assert json.loads(curl.stdout) == {"predictions": expected[:3]}

    # Bearer works as well as Basic; a chunked body and a gzip body pass through gunicorn; too large is 413.
    body = json.dumps(_formats(sample)[0]).encode()
    bearer = requests.post(f"{alice['url']}/model/{UC}/1/invocations", data=body, timeout=60,
                           headers={"Authorization": f"Bearer {alice['secret']}", "Content-Type": "application/json"})
    assert _predictions(bearer) == expected
    chunked = _score(alice, UC, 1, data=(body[i:i + 1000] for i in range(0, len(body), 1000)))
    assert _predictions(chunked) == expected
    assert _predictions(_score(alice, UC, 1, data=gzip.compress(body), headers={"Content-Encoding": "gzip"})) == expected
    huge = (b"x" * MB for _ in range(17))
    response = _score(alice, UC, 1, data=huge)
    assert response.status_code == 413 and response.json()["error_code"] == "PAYLOAD_TOO_LARGE"
    # A signature mismatch is MLflow's 400 naming the column; the model still answers afterwards.
    response = _score(alice, UC, 1, {"dataframe_split": {"columns": list(X.columns[:3]), "data": [[1, 2, 3]]}})
    assert response.status_code == 400 and "petal width (cm)" in response.json()["message"]
    response = _score(alice, UC, 1, [{"sepal length (cm)": 1.0}])
    assert response.status_code == 400 and "dataframe_split" in response.json()["message"]

    # New versions are deployed without anyone asking (both models at once: pools start in parallel). In the
    # workspace model, version 2 goes to Production and archives version 1.
    _log(second, X, registered_model_name=UC)
    mlflow.register_model(_log(second, X).model_uri, WS)
    client.transition_model_version_stage(WS, "2", "Production", archive_existing_versions=True)
    moved = _score(alice, WS, "Production", _formats(sample)[0])
    assert moved.status_code in (200, 503), moved.text  # 503 while version 2's pool starts
    _ready(alice, UC, {"1", "2"})
    status = _ready(alice, WS, {"2"})

    # Moving the alias moves the next request.
    assert _score(alice, UC, "Champion", _formats(sample)[0]).headers["X-Model-Version"] == "1"
    client.set_registered_model_alias(UC, "Champion", "2")
    moved = _score(alice, UC, "Champion", _formats(sample)[0])
    assert moved.headers["X-Model-Version"] == "2"
    assert _predictions(moved) == second.predict(sample).tolist()
    assert _predictions(_score(alice, UC, 1, _formats(sample)[0])) == expected  # version 1 still answers

    # The archived version's URI is gone; Production answers with version 2.
    assert status["versions"][0]["uris"] == ["/model/iris_ws/2/invocations", "/model/iris_ws/Production/invocations"]
    assert _predictions(_score(alice, WS, "Production", _formats(sample)[0])) == second.predict(sample).tolist()
    gone = _score(alice, WS, 1, _formats(sample)[0])
    assert gone.status_code == 404 and "archived" in gone.json()["message"]

    # Disable: everything goes.
    alice["http"].post(f"{alice['url']}/api/2.0/explorer/serving/models/disable",
                       json={"registered_model_name": UC}, timeout=30)
    assert _status(alice, UC) == {"state": "DISABLED", "message": "", "versions": []}
    assert _score(alice, UC, 1, _formats(sample)[0]).status_code == 404
