"""ARTIFACT_DOWNLOAD_REDIRECT=on with the unmodified mlflow client: gunicorn and a worker on S3 (moto's server); the
client's `mlflow.pyfunc.load_model` and `mlflow.artifacts.download_artifacts` follow the 302s to presigned URLs and
fetch the bytes from the store itself (the server's request log shows the presigned GETs), with the same result as
a streamed download."""
from __future__ import annotations

import hashlib
import uuid
from pathlib import Path

import numpy as np
import pytest

from registry.models import ModelVersion
from tests.e2e.deployment import Deployment
from tests.e2e.test_mlflow_client import _train, data_scientist
from tests.s3 import BUCKET

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def redirecting(worker_env, s3_server, tmp_path):
    prefix = f"redirect-{uuid.uuid4().hex[:8]}"
    env = {key: value for key, value in worker_env.items() if key != "ARTIFACT_ROOT"}
    env.update(s3_server.env(prefix), ARTIFACT_DOWNLOAD_REDIRECT="on", ARTIFACT_DOWNLOAD_REDIRECT_SECONDS="30")
    deployment = Deployment(env, tmp_path).start()
    try:
        yield deployment, prefix
    finally:
        deployment.stop()


def presigned_gets(lines: list[str], key_prefix: str) -> list[str]:
    return [line for line in lines if line.startswith(f"GET /{BUCKET}/{key_prefix}") and "X-Amz-Signature=" in line]


def test_load_model_and_download_artifacts_follow_the_presigned_redirect(redirecting, s3_server, monkeypatch,
                                                                        tmp_path):
    import mlflow

    deployment, prefix = redirecting
    monkeypatch.chdir(tmp_path)
    data_scientist(monkeypatch, deployment.url)
    model, X, _ = _train()
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(model, name="model", input_example=X.iloc[:5],
                                 registered_model_name="prod.ml_team.churn")
        (tmp_path / "notes.txt").write_text("run notes")
        mlflow.log_artifact(str(tmp_path / "notes.txt"))
    row = ModelVersion.objects.get(model__name="churn")
    assert row.status == "READY"
    version_keys = f"{prefix}/{row.managed_location.split(':/', 1)[1]}/"

    mark = s3_server.mark()
    loaded = mlflow.pyfunc.load_model("models:/prod.ml_team.churn/1")
    assert np.array_equal(np.asarray(loaded.predict(X)), model.predict(X))
    followed = presigned_gets(s3_server.requests(mark), version_keys)
    assert any(line.split("?")[0].endswith("/MLmodel") for line in followed), followed
    assert any("/model.skops?" in line or "/model.pkl?" in line for line in followed), followed

    mark = s3_server.mark()
    local = Path(mlflow.artifacts.download_artifacts("models:/prod.ml_team.churn/1", dst_path=str(tmp_path / "dl")))
    lines = s3_server.requests(mark)
    s3 = s3_server.client()
    objects = [o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix=version_keys)["Contents"]]
    assert len(presigned_gets(lines, version_keys)) >= len(objects)
    for key in objects:
        stored = s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()
        assert hashlib.sha256((local / key[len(version_keys):]).read_bytes()).digest() == hashlib.sha256(stored).digest()

    mark = s3_server.mark()
    notes = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="notes.txt",
                                                dst_path=str(tmp_path / "notes"))
    assert Path(notes).read_text() == "run notes"
    assert any(line.split("?")[0].endswith("/notes.txt") for line in presigned_gets(s3_server.requests(mark), prefix))
