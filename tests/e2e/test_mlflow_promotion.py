"""The promotion snippet of the Databricks docs, verbatim through the unmodified `mlflow` client: a same-store
`copy_model_version` answers READY at once (its files are hard links of the source version's, no bytes moved),
so `set_registered_model_alias(..., "Champion", copied.version)` and `load_model("models:/...@Champion")` follow
without waiting; deleting the source version afterwards leaves the copy's bytes intact."""
from __future__ import annotations

import hashlib
import os
import time

import numpy as np
import pytest
from django.conf import settings

from registry.models import Job, ModelVersion
from tests.conftest import wait_for
from tests.e2e.test_mlflow_client import _train, mlflow_env  # noqa: F401 (the fixture)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BIG = 64 * 1024 * 1024


def _managed_dir(mv: ModelVersion) -> str:
    return os.path.join(settings.ARTIFACT_ROOT, mv.managed_location.split(":/", 1)[1])


def test_promotion_snippet_copy_alias_load_without_waiting(mlflow_env, tmp_path):
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    model, X, _ = _train()
    local = tmp_path / "model"
    mlflow.sklearn.save_model(model, str(local), input_example=X.iloc[:5])
    (local / "big.bin").write_bytes(os.urandom(1024 * 1024) * (BIG // (1024 * 1024)))  # size is not the point
    with mlflow.start_run() as run:
        mlflow.log_artifacts(str(local), artifact_path="model")
    staged = mlflow.register_model(f"runs:/{run.info.run_id}/model", "staging.ml_team.fraud_detection")
    assert client.get_model_version("staging.ml_team.fraud_detection", staged.version).status == "READY"
    source_row = ModelVersion.objects.get(model__name="fraud_detection", model__schema__catalog__name="staging")
    # Registration from the run linked the run's files into managed storage (same inode, no byte copy).
    run_file = os.path.join(settings.ARTIFACT_ROOT, f"0/{run.info.run_id}/artifacts/model/big.bin")
    assert os.stat(os.path.join(_managed_dir(source_row), "big.bin")).st_ino == os.stat(run_file).st_ino

    # The snippet, verbatim.
    began = time.monotonic()
    copied = client.copy_model_version(
        src_model_uri="models:/staging.ml_team.fraud_detection/1", dst_name="prod.ml_team.fraud_detection")
    assert copied.status == "READY"  # answered READY: nothing to wait for
    client.set_registered_model_alias("prod.ml_team.fraud_detection", "Champion", copied.version)
    champion = mlflow.pyfunc.load_model("models:/prod.ml_team.fraud_detection@Champion")
    assert time.monotonic() - began < 30
    assert np.array_equal(np.asarray(champion.predict(X)), model.predict(X))

    copy_row = ModelVersion.objects.get(model__name="fraud_detection", model__schema__catalog__name="prod")
    job = Job.objects.get(model_version=copy_row)
    assert (job.kind, job.state, job.bytes_done) == (Job.Kind.COPY, Job.State.SUCCEEDED, job.bytes_total)
    assert job.bytes_total > BIG and "no bytes copied" in job.message
    copy_big = os.path.join(_managed_dir(copy_row), "big.bin")
    assert os.stat(copy_big).st_ino == os.stat(os.path.join(_managed_dir(source_row), "big.bin")).st_ino
    expected = hashlib.sha256((local / "big.bin").read_bytes()).hexdigest()

    # Deleting the source version (its files go with a clean-up job on the worker) leaves the copy intact.
    client.delete_model_version("staging.ml_team.fraud_detection", "1")
    wait_for(lambda: not os.path.exists(_managed_dir(source_row)), timeout=60, message="source files deleted")
    assert hashlib.sha256(open(copy_big, "rb").read()).hexdigest() == expected
    downloaded = mlflow.artifacts.download_artifacts("models:/prod.ml_team.fraud_detection@Champion",
                                                     dst_path=str(tmp_path / "dl"))
    assert hashlib.sha256(open(os.path.join(downloaded, "big.bin"), "rb").read()).hexdigest() == expected
    again = mlflow.pyfunc.load_model("models:/prod.ml_team.fraud_detection@Champion")
    assert np.array_equal(np.asarray(again.predict(X)), model.predict(X))


def test_copy_goes_through_the_worker_when_links_are_off(mlflow_env, tmp_path, settings):
    """Without links (ARTIFACT_COPY_LINKS=off in the web process) the copy is a byte copy on the worker: the
    version answers PENDING_REGISTRATION, then READY."""
    import mlflow
    from mlflow import MlflowClient

    client = MlflowClient()
    model, X, _ = _train()
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(model, name="model", input_example=X.iloc[:5])
    mlflow.register_model(f"models:/{info.model_id}", "staging.ml_team.fraud_detection")
    assert client.get_model_version("staging.ml_team.fraud_detection", "1").status == "READY"
    settings.ARTIFACT_COPY_LINKS = False
    copied = client.copy_model_version("models:/staging.ml_team.fraud_detection/1", "prod.ml_team.fraud_detection")
    assert copied.status == "PENDING_REGISTRATION"
    wait_for(lambda: client.get_model_version("prod.ml_team.fraud_detection", "1").status == "READY", timeout=60)
    loaded = mlflow.pyfunc.load_model("models:/prod.ml_team.fraud_detection/1")
    assert np.array_equal(np.asarray(loaded.predict(X)), model.predict(X))
