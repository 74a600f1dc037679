"""A remote registry as Databricks documents it, with the unmodified MLflow client: runs tracked on deployment A,
models registered into, transitioned in, loaded from and deleted from deployment B through a
`databricks://<profile>` registry URI (a profile of a temporary DATABRICKS_CONFIG_FILE with B's host and token).
Two `python -m explorer.serve` deployments with their own databases, artifact roots, VAR_DIRs and queues; both of
the client's code paths (the databricks-sdk, and MLFLOW_ENABLE_DB_SDK=false)."""
from __future__ import annotations

import os
import shutil
from urllib.parse import urlparse

import numpy as np
import pytest
import requests
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from tests.jobs.test_launcher_recovery import Launcher, _admin_sql, _postgres_and_redis, _purge_redis_queue, free_port

pytestmark = pytest.mark.slow
PROFILE = "prod"
AREA = "/databricks/mlflow/tmp-external-source"


def _deployment(letter: str, tmp_path_factory) -> tuple[Launcher, callable]:
    database_url, broker_url = _postgres_and_redis()
    name = f"{urlparse(database_url).path.lstrip('/') or 'explorer'}_{letter}"
    queue = f"{os.environ.get('CELERY_QUEUE', 'explorer')}-{letter}"
    _admin_sql(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')
    _purge_redis_queue(broker_url, queue)
    var_dir = tmp_path_factory.mktemp(f"deployment-{letter}")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL",
                                                            "ARTIFACT_ROOT", "SECRET_KEY", "WORKSPACE_ID")}
    env.update(DATABASE_URL=urlparse(database_url)._replace(path=f"/{name}").geturl(), CELERY_BROKER_URL=broker_url,
               REDIS_URL=broker_url, CELERY_QUEUE=queue, VAR_DIR=str(var_dir), PORT=str(free_port()),
               ADMIN_PASSWORD=f"admin-pw-{letter}", JOB_STALE_QUEUED_SECONDS="5")
    launcher = Launcher("postgres-redis", env, var_dir)

    def cleanup():
        launcher.stop()
        _purge_redis_queue(broker_url, queue)
        _admin_sql(database_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        shutil.rmtree(var_dir, ignore_errors=True)

    try:
        launcher.start()
    except BaseException:
        cleanup()
        raise
    return launcher, cleanup


@pytest.fixture(scope="module")
def deployments(tmp_path_factory):
    a, cleanup_a = _deployment("a", tmp_path_factory)
    try:
        b, cleanup_b = _deployment("b", tmp_path_factory)
    except BaseException:
        cleanup_a()
        raise
    try:
        b.call("POST", "/api/2.1/unity-catalog/catalogs", json={"name": "prod"})
        b.call("POST", "/api/2.1/unity-catalog/schemas", json={"catalog_name": "prod", "name": "ml_team"})
        yield a, b
    finally:
        cleanup_b()
        cleanup_a()


@pytest.fixture
def remote_client(deployments, monkeypatch, tmp_path):
    """The mlflow client tracking on A (A's token) with its registry on B through the profile `prod`."""
    import mlflow

    a, b = deployments
    config = tmp_path / "databrickscfg"
    config.write_text(f"[{PROFILE}]\nhost = {b.url}\ntoken = {_token(b)}\n")
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(config))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", a.url)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", _token(a))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    for key in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CONFIG_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    mlflow.set_tracking_uri(a.url)
    mlflow.set_registry_uri(f"databricks://{PROFILE}")
    yield mlflow.MlflowClient(tracking_uri=a.url, registry_uri=f"databricks://{PROFILE}")
    mlflow.set_registry_uri(None)
    mlflow.set_tracking_uri(None)


def _token(launcher: Launcher) -> str:
    return launcher.session.headers["Authorization"].split(" ", 1)[1]


def _trained_run(mlflow):
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=300).fit(X, y)
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(model, name="model", input_example=X.iloc[:5])
    return run.info.run_id, info, model, X


@pytest.mark.parametrize("sdk", ["true", "false"])
def test_register_transition_load_and_delete_in_a_remote_registry(deployments, remote_client, monkeypatch, sdk):
    import mlflow

    monkeypatch.setenv("MLFLOW_ENABLE_DB_SDK", sdk)
    a, b = deployments
    client = remote_client
    run_id, info, model, X = _trained_run(mlflow)
    expected = model.predict(X)
    workspace_name, uc_name = f"iris-remote-{sdk}", f"prod.ml_team.iris_remote_{sdk}"

    # A's token is B's no credential, and B knows nothing of A's run.
    refused = requests.get(f"{b.url}/api/2.0/mlflow/registered-models/search",
                           headers={"Authorization": f"Bearer {_token(a)}"}, timeout=30)
    assert refused.status_code == 401
    assert requests.get(f"{b.url}/.well-known/databricks-config", timeout=30).json()["workspace_id"] != \
        requests.get(f"{a.url}/.well-known/databricks-config", timeout=30).json()["workspace_id"]

    # Register into B: the client uploads the files into B's upload area, then creates the version from there.
    created = mlflow.register_model(f"runs:/{run_id}/model", workspace_name)  # returns once B says READY
    mv = client.get_model_version(workspace_name, created.version)
    assert (mv.version, mv.status) == ("1", "READY")
    assert mv.source.startswith(f"dbfs:{AREA}/{run_id}")
    assert mv.run_id == run_id
    uc = client.get_model_version(uc_name, mlflow.register_model(info.model_uri, uc_name).version)
    assert uc.status == "READY" and uc.source.startswith(f"dbfs:{AREA}/")
    # A second registration of the same run, with the link back to the run on A.
    link = f"{a.url}/#/experiments/0/runs/{run_id}"
    second = client.create_model_version(workspace_name, f"runs:/{run_id}/model", run_id=run_id, run_link=link)
    assert int(second.version) == 2 and client.get_model_version(workspace_name, "2").run_link == link
    # Registered in B only; the uploads are gone once the versions are READY.
    assert requests.get(f"{a.url}/api/2.0/mlflow/registered-models/get", params={"name": workspace_name},
                        headers={"Authorization": f"Bearer {_token(a)}"}, timeout=30).status_code == 404
    listing = b.session.get(f"{b.url}/api/2.0/dbfs/list", params={"path": AREA}, timeout=30)
    assert listing.status_code == 404, listing.text
    page = b.session.get(f"{b.url}/models/{workspace_name}/versions/2/", timeout=30)
    assert page.status_code in (200, 302)

    # Transition, latest versions, load by stage and by version from B.
    client.transition_model_version_stage(workspace_name, "1", "Staging")
    assert [v.version for v in client.get_latest_versions(workspace_name, stages=["Staging"])] == ["1"]
    for uri in (f"models://{PROFILE}@databricks/{workspace_name}/Staging", f"models:/{workspace_name}/1",
                f"models:/{uc_name}/1"):
        loaded = mlflow.pyfunc.load_model(uri)
        assert np.array_equal(np.asarray(loaded.predict(X)), expected), uri

    # Delete in B.
    client.delete_model_version(workspace_name, "2")
    client.delete_registered_model(workspace_name)
    client.delete_registered_model(uc_name)
    gone = b.session.get(f"{b.url}/api/2.0/mlflow/registered-models/get", params={"name": workspace_name}, timeout=30)
    assert gone.status_code == 404 and gone.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
