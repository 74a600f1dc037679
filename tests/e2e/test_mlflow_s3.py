"""No shared disk: the web process (gunicorn) and a Celery worker run with separate, empty working and var/
directories and no ARTIFACT_ROOT, sharing only PostgreSQL, Redis and an S3 server (moto's, on loopback). The
unmodified `mlflow` client logs a run, registers a three-level version, copies it (a server-side copy: the worker
never reads the source's bytes), loads it by alias and downloads its files."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import uuid
from pathlib import Path

import numpy as np
import pytest
import requests

from registry.models import ModelVersion
from tests.conftest import WorkerProcess, stop_group, wait_for
from tests.e2e.test_mlflow_client import _train, data_scientist
from tests.s3 import BUCKET, free_port

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def separate_hosts(worker_env, s3_server, tmp_path):
    """A web and a worker "host": each its own empty working directory and VAR_DIR, no ARTIFACT_ROOT."""
    prefix = f"deploy-{uuid.uuid4().hex[:8]}"
    queue = f"{os.environ.get('CELERY_QUEUE', 'explorer')}-s3-{uuid.uuid4().hex[:6]}"
    base = {key: value for key, value in worker_env.items() if key not in ("ARTIFACT_ROOT", "VAR_DIR")}
    base.update(s3_server.env(prefix), CELERY_QUEUE=queue)
    hosts = {}
    for name in ("web", "worker"):
        (tmp_path / name / "cwd").mkdir(parents=True)
        hosts[name] = {"cwd": tmp_path / name / "cwd", "var": tmp_path / name / "var",
                       "env": {**base, "VAR_DIR": str(tmp_path / name / "var")}}
    port = free_port()
    bin_dir = Path(sys.executable).parent
    with open(tmp_path / "web.log", "ab") as log:
        web = subprocess.Popen(
            [str(bin_dir / "gunicorn"), "explorer.wsgi:application", "--bind", f"127.0.0.1:{port}", "--workers", "2",
             "--timeout", "120"], cwd=hosts["web"]["cwd"], env=hosts["web"]["env"], stdout=log,
            stderr=subprocess.STDOUT, start_new_session=True)
    worker = WorkerProcess(hosts["worker"]["env"], tmp_path / "worker.log")
    worker.start(concurrency=2, cwd=hosts["worker"]["cwd"])
    url = f"http://127.0.0.1:{port}"

    def healthy():
        try:
            return requests.get(f"{url}/api/3.0/mlflow/server-info", timeout=2).status_code == 200
        except requests.RequestException:
            return False

    try:
        wait_for(lambda: web.poll() is not None or healthy(), timeout=60, message="gunicorn to start")
        assert web.poll() is None, (tmp_path / "web.log").read_text()[-3000:]
        yield {"url": url, "prefix": prefix, "hosts": hosts, "logs": tmp_path}
    finally:
        stop_group(web)
        worker.stop()


def test_log_register_copy_load_by_alias_and_download_without_a_shared_disk(separate_hosts, s3_server,
                                                                           monkeypatch, tmp_path):
    import mlflow
    from mlflow import MlflowClient

    url, prefix = separate_hosts["url"], separate_hosts["prefix"]
    monkeypatch.chdir(tmp_path)
    data_scientist(monkeypatch, url)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "120")
    client = MlflowClient()
    model, X, _ = _train()

    # Log a run and register a three-level version from it (the worker copies the files into managed storage).
    with mlflow.start_run() as run:
        mlflow.log_param("C", 1.0)
        info = mlflow.sklearn.log_model(model, name="model", input_example=X.iloc[:5],
                                        registered_model_name="staging.ml_team.churn")
    staged = client.get_model_version("staging.ml_team.churn", "1")
    assert staged.status == "READY" and staged.run_id == run.info.run_id

    # Copy it to prod: the store copies the objects itself.
    source_row = ModelVersion.objects.get(model__name="churn", model__schema__catalog__name="staging")
    source_keys = f"{prefix}/{source_row.managed_location.split(':/', 1)[1]}/"
    mark = s3_server.mark()
    copied = client.copy_model_version("models:/staging.ml_team.churn/1", "prod.ml_team.churn")
    wait_for(lambda: client.get_model_version("prod.ml_team.churn", copied.version).status == "READY",
             timeout=120, message="the copy to be READY")
    during_copy = s3_server.requests(mark)
    source_reads = [r for r in during_copy if r.startswith(f"GET /{BUCKET}/{source_keys}")]
    # The worker reads the source's MLmodel (for its signature), never the model's other bytes.
    assert [r for r in source_reads if not r.split("?")[0].endswith("/MLmodel")] == [], source_reads

    client.set_registered_model_alias("prod.ml_team.churn", "Champion", copied.version)
    champion = mlflow.pyfunc.load_model("models:/prod.ml_team.churn@Champion")
    assert np.array_equal(np.asarray(champion.predict(X)), model.predict(X))
    local = mlflow.artifacts.download_artifacts("models:/prod.ml_team.churn@Champion", dst_path=str(tmp_path / "dl"))
    s3 = s3_server.client()
    copy_row = ModelVersion.objects.get(model__name="churn", model__schema__catalog__name="prod")
    copy_prefix = f"{prefix}/{copy_row.managed_location.split(':/', 1)[1]}/"
    objects = [o["Key"][len(copy_prefix):] for o in
               s3.list_objects_v2(Bucket=BUCKET, Prefix=copy_prefix).get("Contents", ())]
    assert "MLmodel" in objects and "model.skops" in objects
    for rel in objects:
        stored = s3.get_object(Bucket=BUCKET, Key=copy_prefix + rel)["Body"].read()
        assert hashlib.sha256(Path(local, rel).read_bytes()).digest() == hashlib.sha256(stored).digest(), rel

    # The run's and the logged model's files are in the bucket too; neither host's disk holds any artifact.
    run_keys = s3.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/0/models/{info.model_id}/artifacts/")
    assert run_keys.get("KeyCount", 0) > 0
    for host in separate_hosts["hosts"].values():
        assert not (host["var"] / "artifacts").exists()
        assert list(host["cwd"].iterdir()) == []
