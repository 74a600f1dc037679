"""Moving a running filesystem deployment onto S3 with `manage.py artifacts_migrate`: the command is killed (-9) in
the middle of the copy, the rerun resumes the same job and completes it with every file verified against the
manifest, gunicorn and the worker follow the switch without a restart, and the unmodified mlflow client loads the
models registered before the move (a three-level version and a workspace-registry one) and logs and registers a new
one, whose files land on S3 only."""
from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
import uuid

import numpy as np
import pytest

from registry.models import ArtifactChecksum, ArtifactStoreSwitch, Job, ModelVersion
from tests.conftest import ROOT, wait_for
from tests.e2e.deployment import Deployment
from tests.e2e.test_mlflow_client import _train, data_scientist
from tests.jobs.conftest import JOB_ENV
from tests.s3 import BUCKET, S3View

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

EXTRA_FILES, EXTRA_SIZE = 16, 256 * 1024
THROTTLE = 1024 * 1024  # ~4 s for the extra files: the kill lands mid-copy


@pytest.fixture
def on_disk(worker_env, s3_server, tmp_path):
    """gunicorn and a worker on the filesystem store, configured for S3 (credentials, endpoint) but not using it."""
    env = {**worker_env, **JOB_ENV, "ARTIFACT_ROOT": str(tmp_path / "artifacts"), "ARTIFACT_STORE_RECHECK_SECONDS": "1"}
    env.update({key: value for key, value in s3_server.env("unused").items() if key != "ARTIFACT_STORE"})
    deployment = Deployment(env, tmp_path).start()
    try:
        yield deployment
    finally:
        deployment.stop()


def migrate(env: dict, target: str, log, **extra) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "manage.py", "artifacts_migrate", "--to", target], cwd=ROOT,
                            env={**env, **extra}, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)


def test_killed_move_resumes_then_the_deployment_runs_on_s3(on_disk, s3_server, monkeypatch, tmp_path, settings):
    import mlflow
    from mlflow import MlflowClient

    root = tmp_path / "artifacts"
    monkeypatch.chdir(tmp_path)
    data_scientist(monkeypatch, on_disk.url)
    client = MlflowClient()
    model, X, _ = _train()
    extra = tmp_path / "extra"
    extra.mkdir()
    for i in range(EXTRA_FILES):
        (extra / f"shard-{i:02d}.bin").write_bytes(os.urandom(EXTRA_SIZE))
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(model, name="model", input_example=X.iloc[:5],
                                        registered_model_name="staging.ml_team.churn")
        mlflow.log_artifacts(str(extra), artifact_path="shards")
    # The workspace registry: its version serves the logged model's own files.
    legacy = mlflow.register_model(info.model_uri, "legacy_churn")
    assert mlflow.pyfunc.load_model(f"models:/legacy_churn/{legacy.version}") is not None
    assert client.get_model_version("staging.ml_team.churn", "1").status == "READY"
    assert legacy.status == "READY"
    before = {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}
    assert len(before) > EXTRA_FILES + 5

    prefix = f"moved-{uuid.uuid4().hex[:8]}"
    target = f"s3://{BUCKET}/{prefix}"
    view = S3View(s3_server, prefix)
    with open(tmp_path / "migrate-1.log", "ab") as log:
        first = migrate(on_disk.env, target, log, ARTIFACT_COPY_THROTTLE_BYTES_PER_SEC=str(THROTTLE))

    def copying():
        job = Job.objects.filter(kind=Job.Kind.MOVE_ARTIFACTS).first()
        return job if job and job.state == Job.State.RUNNING and 3 <= job.files_done < job.files_total - 3 else None

    try:
        wait_for(copying, timeout=120, interval=0.05, message="the move to be under way")
    finally:
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
    killed = Job.objects.get(kind=Job.Kind.MOVE_ARTIFACTS)
    assert killed.state == Job.State.RUNNING and killed.attempts == 1 and killed.files_done < killed.files_total
    assert ArtifactStoreSwitch.objects.get().store == ""  # not switched: the deployment still reads the disk
    copied_before_kill = set(view.keys(""))
    assert copied_before_kill and len(copied_before_kill) < len(before)

    mark = s3_server.mark()
    with open(tmp_path / "migrate-2.log", "ab") as log:
        second = migrate(on_disk.env, target, log)
        assert second.wait(timeout=300) == 0, (tmp_path / "migrate-2.log").read_text()[-3000:]
    output = (tmp_path / "migrate-2.log").read_text()
    assert f"Job {killed.pk}: moving the artifacts to {target}" in output and "Done:" in output
    done = Job.objects.get(kind=Job.Kind.MOVE_ARTIFACTS)
    assert done.pk == killed.pk and done.state == Job.State.SUCCEEDED and done.attempts == 2
    assert (done.files_done, done.files_total) == (len(before), len(before))
    # The rerun uploaded only what the killed attempt had not (it may redo the one file it was killed in).
    puts = {line.split("?")[0].split(f"/{BUCKET}/{prefix}/", 1)[1]
            for line in s3_server.requests(mark) if line.startswith(f"PUT /{BUCKET}/{prefix}/")}
    assert len(puts & copied_before_kill) <= 4, sorted(puts & copied_before_kill)

    # Every file is on S3 with its bytes, its recorded SHA-256 and that checksum as the object's metadata.
    assert sorted(view.keys("")) == sorted(before)
    s3 = s3_server.client()
    for rel, data in before.items():
        digest = hashlib.sha256(data).hexdigest()
        assert hashlib.sha256(view.read(rel)).hexdigest() == digest, rel
        assert ArtifactChecksum.objects.get(path=rel).sha256 == digest, rel
        assert s3.head_object(Bucket=BUCKET, Key=f"{prefix}/{rel}")["Metadata"]["sha256"] == digest
    assert ArtifactStoreSwitch.objects.get().store == target

    # The running web processes and worker follow the switch (re-read every second): nothing registered before the
    # move stops loading, and what is logged now lands on S3.
    time.sleep(2)
    staged = mlflow.pyfunc.load_model("models:/staging.ml_team.churn/1")
    assert np.array_equal(np.asarray(staged.predict(X)), model.predict(X))
    old = mlflow.pyfunc.load_model(f"models:/legacy_churn/{legacy.version}")
    assert np.array_equal(np.asarray(old.predict(X)), model.predict(X))
    shard = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="shards/shard-03.bin",
                                                dst_path=str(tmp_path / "dl"))
    assert open(shard, "rb").read() == (extra / "shard-03.bin").read_bytes()

    with mlflow.start_run():
        mlflow.sklearn.log_model(model, name="model", input_example=X.iloc[:5],
                                 registered_model_name="staging.ml_team.churn")
    v2 = ModelVersion.objects.get(model__name="churn", version=2)
    assert v2.status == "READY"
    v2_location = v2.managed_location.split(":/", 1)[1]
    assert "MLmodel" in view.keys(v2_location)
    new_keys = [key for key in view.keys("0") if f"0/{key}" not in before]
    assert any(key.startswith("models/") and key.endswith("/MLmodel") for key in new_keys), new_keys
    now_on_disk = {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}
    assert now_on_disk == set(before)  # nothing new on the filesystem; the old copy left as it was
    loaded = mlflow.pyfunc.load_model("models:/staging.ml_team.churn/2")
    assert np.array_equal(np.asarray(loaded.predict(X)), model.predict(X))
