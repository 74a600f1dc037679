"""The unmodified `mlflow` client against a live explorer and a real Celery worker: the seed workflows end to
end (log, register, aliases, tags, search, copy across catalogs, stages, load and predict, download, delete)."""
from __future__ import annotations

import numpy as np
import pytest
from django.contrib.auth import get_user_model
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

from registry.models import Experiment, ModelVersion
from registry.services.catalogs import catalog_create, schema_create
from registry.services.grants import grant_add
from registry.services.tokens import token_create

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def data_scientist(monkeypatch, url: str) -> dict:
    """A data scientist (`alice`) with a token, who may create models in prod.ml_team and staging.ml_team, and
    the mlflow client pointed at `url` as her."""
    import mlflow

    Experiment.ensure_default()  # transactional tests flush the table between tests
    User = get_user_model()
    admin = User.objects.create_superuser("root", "root@example.com", "pw-root")
    alice = User.objects.create_user("alice", "alice@example.com", "pw-alice")
    for catalog_name in ("prod", "staging"):
        catalog = catalog_create(actor=admin, name=catalog_name)
        schema = schema_create(actor=admin, catalog_name=catalog_name, name="ml_team")
        grant_add(actor=admin, securable=catalog, principal=alice, privilege="USE CATALOG")
        grant_add(actor=admin, securable=schema, principal=alice, privilege="USE SCHEMA")
        grant_add(actor=admin, securable=schema, principal=alice, privilege="CREATE MODEL")
    _, secret = token_create(actor=alice, user=alice, name="e2e")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", url)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", secret)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    mlflow.set_tracking_uri(url)
    mlflow.set_registry_uri(url)
    # The fluent API remembers the active experiment across tests in this process; start from the default one.
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    mlflow.set_experiment(experiment_id="0")
    return {"url": url, "alice": alice, "admin": admin, "User": User}


@pytest.fixture
def mlflow_env(live_server, celery_worker, monkeypatch, tmp_path):
    import mlflow

    monkeypatch.chdir(tmp_path)
    yield data_scientist(monkeypatch, live_server.url)
    if mlflow.active_run():
        mlflow.end_run()


def _train():
    data = load_iris(as_frame=True)
    X, y = data.data, data.target
    model = LogisticRegression(max_iter=300).fit(X, y)
    return model, X, y


def test_data_scientist_workflow_end_to_end(mlflow_env, tmp_path, monkeypatch):
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    model, X, y = _train()
    iris_df = X.assign(target=y)

    # Log a run with params, metrics, tags, a training dataset and a model registered on the fly.
    with mlflow.start_run() as run:
        mlflow.log_param("C", 1.0)
        mlflow.log_metric("acc", float(model.score(X, y)))
        mlflow.set_tag("team", "ml")
        mlflow.log_input(mlflow.data.from_pandas(iris_df, name="iris", targets="target"), context="training")
        info = mlflow.sklearn.log_model(model, name="model", input_example=X.iloc[:5],
                                        registered_model_name="prod.ml_team.iris_model")
    run_id = run.info.run_id
    v1 = client.get_model_version("prod.ml_team.iris_model", "1")
    assert v1.status == "READY"
    assert v1.run_id == run_id
    stored = ModelVersion.objects.get(model__name="iris_model", version=1)
    assert stored.signature and stored.signature["inputs"]
    assert stored.storage_location.startswith("mlflow-artifacts:/registry/")

    fetched = client.get_run(run_id)
    assert fetched.data.params == {"C": "1.0"}
    assert fetched.data.tags["team"] == "ml"
    assert fetched.inputs.dataset_inputs[0].dataset.name == "iris"

    # Register again from the run URI: a second version.
    v2 = mlflow.register_model(f"runs:/{run_id}/model", "prod.ml_team.iris_model")
    assert v2.version == "2"
    assert client.get_model_version("prod.ml_team.iris_model", "2").status == "READY"

    # Aliases: set, reassign, get, delete.
    client.set_registered_model_alias("prod.ml_team.iris_model", "Champion", "1")
    assert client.get_model_version_by_alias("prod.ml_team.iris_model", "Champion").version == "1"
    client.set_registered_model_alias("prod.ml_team.iris_model", "Champion", "2")
    assert client.get_model_version_by_alias("prod.ml_team.iris_model", "Champion").version == "2"
    client.set_registered_model_alias("prod.ml_team.iris_model", "Challenger", "1")
    assert client.get_registered_model("prod.ml_team.iris_model").aliases == {"Champion": "2", "Challenger": "1"}

    # Load by alias and by version: predictions equal the trained model's.
    expected = model.predict(X)
    by_alias = mlflow.pyfunc.load_model("models:/prod.ml_team.iris_model@Champion")
    assert np.array_equal(np.asarray(by_alias.predict(X)), expected)
    by_version = mlflow.pyfunc.load_model("models:/prod.ml_team.iris_model/1")
    assert np.array_equal(np.asarray(by_version.predict(X)), expected)
    local = mlflow.artifacts.download_artifacts("models:/prod.ml_team.iris_model/1", dst_path=str(tmp_path / "dl"))
    assert (tmp_path / "dl" / "MLmodel").exists() or "MLmodel" in str(list((tmp_path / "dl").rglob("MLmodel")))
    assert local

    client.delete_registered_model_alias("prod.ml_team.iris_model", "Challenger")
    with pytest.raises(MlflowException):
        client.get_model_version_by_alias("prod.ml_team.iris_model", "Challenger")

    # Tags and descriptions on model and version.
    client.set_registered_model_tag("prod.ml_team.iris_model", "task", "classification")
    client.set_model_version_tag("prod.ml_team.iris_model", "2", "validation_status", "approved")
    client.update_registered_model("prod.ml_team.iris_model", description="Iris classifier")
    client.update_model_version("prod.ml_team.iris_model", "2", description="retrained")
    rm = client.get_registered_model("prod.ml_team.iris_model")
    assert rm.tags == {"task": "classification"}
    assert rm.description == "Iris classifier"
    mv2 = client.get_model_version("prod.ml_team.iris_model", "2")
    assert mv2.tags == {"validation_status": "approved"} and mv2.description == "retrained"
    client.delete_registered_model_tag("prod.ml_team.iris_model", "task")
    assert client.get_registered_model("prod.ml_team.iris_model").tags == {}

    # Stages are refused on a three-level model, with a pointer to aliases.
    with pytest.raises(MlflowException, match="alias"):
        client.transition_model_version_stage("prod.ml_team.iris_model", "1", "Staging")

    # Copy across catalogs: staging -> prod.
    mlflow.register_model(f"models:/{info.model_id}", "staging.ml_team.fraud_detection")
    copied = client.copy_model_version("models:/staging.ml_team.fraud_detection/1", "prod.ml_team.fraud_detection")
    assert copied.version == "1"
    assert client.get_model_version("prod.ml_team.fraud_detection", "1").status == "READY" or _wait_ready(
        client, "prod.ml_team.fraud_detection", "1")
    copy_row = ModelVersion.objects.get(model__schema__catalog__name="prod", model__name="fraud_detection")
    assert copy_row.source == "models:/staging.ml_team.fraud_detection/1"
    assert copy_row.copied_from.model.full_name == "staging.ml_team.fraud_detection"
    promoted = mlflow.pyfunc.load_model("models:/prod.ml_team.fraud_detection/1")
    assert np.array_equal(np.asarray(promoted.predict(X)), expected)

    # Search with filters and pagination.
    names = {m.name for m in client.search_registered_models(filter_string="name LIKE 'prod.%'")}
    assert names == {"prod.ml_team.iris_model", "prod.ml_team.fraud_detection"}
    page1 = client.search_registered_models(max_results=1, order_by=["name ASC"])
    page2 = client.search_registered_models(max_results=1, order_by=["name ASC"], page_token=page1.token)
    assert page1[0].name != page2[0].name
    versions = client.search_model_versions("name='prod.ml_team.iris_model'")
    assert sorted(v.version for v in versions) == ["1", "2"]

    # Rename keeps versions and aliases.
    client.rename_registered_model("prod.ml_team.fraud_detection", "prod.ml_team.fraud_model")
    assert client.get_model_version("prod.ml_team.fraud_model", "1").version == "1"

    # Deletes.
    client.delete_model_version("prod.ml_team.iris_model", "1")
    with pytest.raises(MlflowException):
        client.get_model_version("prod.ml_team.iris_model", "1")
    client.delete_registered_model("prod.ml_team.fraud_model")
    with pytest.raises(MlflowException):
        client.get_registered_model("prod.ml_team.fraud_model")


def _wait_ready(client, name, version) -> bool:
    from tests.conftest import wait_for

    return bool(wait_for(lambda: client.get_model_version(name, version).status == "READY", timeout=60))


def test_workspace_model_stages_and_load_by_stage(mlflow_env):
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    model, X, _ = _train()
    with mlflow.start_run():
        mlflow.sklearn.log_model(model, name="model", input_example=X.iloc[:3], registered_model_name="IrisWorkspace")
        mlflow.sklearn.log_model(model, name="model2", input_example=X.iloc[:3], registered_model_name="IrisWorkspace")
    client.transition_model_version_stage("IrisWorkspace", "1", "Production")
    client.transition_model_version_stage("IrisWorkspace", "2", "Production", archive_existing_versions=True)
    assert client.get_model_version("IrisWorkspace", "1").current_stage == "Archived"
    latest = client.get_latest_versions("IrisWorkspace", stages=["Production"])
    assert [v.version for v in latest] == ["2"]
    loaded = mlflow.pyfunc.load_model("models:/IrisWorkspace/Production")
    assert np.array_equal(np.asarray(loaded.predict(X)), model.predict(X))
    uri = client.get_model_version_download_uri("IrisWorkspace", "1")
    assert uri.startswith("mlflow-artifacts:/")


def test_version_without_signature_fails_with_a_message_that_says_how_to_fix_it(mlflow_env):
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient()
    model, X, _ = _train()
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(model, name="model")  # no input_example, no signature
    client.create_registered_model("prod.ml_team.unsigned")
    # The client waits while the version is PENDING_REGISTRATION, then reports the failure and its message.
    with pytest.raises(MlflowException) as failure:
        client.create_model_version("prod.ml_team.unsigned", f"models:/{info.model_id}")
    assert "FAILED_REGISTRATION" in str(failure.value)
    assert "input_example=" in str(failure.value) and "signature=" in str(failure.value)
    final = client.get_model_version("prod.ml_team.unsigned", "1")
    assert final.status == "FAILED_REGISTRATION"
    assert "input_example=" in final.status_message


def test_second_user_without_privileges_sees_nothing(mlflow_env, monkeypatch):
    import mlflow
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    model, X, _ = _train()
    with mlflow.start_run():
        mlflow.sklearn.log_model(model, name="model", input_example=X.iloc[:3],
                                 registered_model_name="prod.ml_team.secret_model")
    bob = mlflow_env["User"].objects.create_user("bob", "bob@example.com", "pw-bob")
    _, bob_secret = token_create(actor=bob, user=bob, name="bob")
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", bob_secret)
    client = MlflowClient()
    assert list(client.search_registered_models()) == []
    assert list(client.search_model_versions("name='prod.ml_team.secret_model'")) == []
    with pytest.raises(MlflowException) as missing:
        client.get_registered_model("prod.ml_team.secret_model")
    with pytest.raises(MlflowException) as never_existed:
        client.get_registered_model("prod.ml_team.no_such_model")
    assert missing.value.error_code == never_existed.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    assert str(missing.value).replace("secret_model", "X") == str(never_existed.value).replace("no_such_model", "X")
    with pytest.raises(MlflowException):
        mlflow.pyfunc.load_model("models:/prod.ml_team.secret_model/1")
    assert Experiment.objects.filter(pk=0).exists()
