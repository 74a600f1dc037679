"""Writing to runs and registered files (issue 11, item 1): an experiment open to all (the Default one) lets
everyone read it and start runs in it, but only a run's owner, or who may modify the experiment, writes to a run
or a logged model; and the files a workspace-registry version was registered from are immutable for everyone."""
from __future__ import annotations

import pytest

from registry import storage
from registry.models import LoggedModel, Metric, Param, Run, RunTag
from registry.services.grants import grant_add
from registry.services.models import registered_model_create
from registry.services.tracking_logged_models import logged_model_create
from registry.services.tracking_runs import run_create
from registry.services.versions import model_version_create, model_version_delete
from tests.registry.factories import default_experiment

MLFLOW = "/api/2.0/mlflow"
ARTIFACTS = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.fixture
def root(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "root"
    settings.ARTIFACT_ROOT.mkdir()
    return settings.ARTIFACT_ROOT


@pytest.fixture
def alice(make_user):
    return make_user("alice")


@pytest.fixture
def alice_run(db, alice):
    default_experiment()
    return run_create(actor=alice, experiment_id="0", run_name="alice-run")


def put(client, path: str, data: bytes):
    return client.generic("PUT", f"{ARTIFACTS}/{path}", data, content_type="application/octet-stream")


def run_state(run: Run) -> tuple:
    run.refresh_from_db()
    return (run.status, run.end_time, run.name, run.lifecycle_stage,
            sorted(RunTag.objects.filter(run=run).values_list("key", "value")),
            sorted(Param.objects.filter(run=run).values_list("key", "value")),
            Metric.objects.filter(run=run).count())


def test_outsider_cannot_write_another_users_run_in_the_default_experiment(api, root, alice_run, outsider):
    client = api(outsider)
    run_id = alice_run.run_id
    before = run_state(alice_run)
    writes = [
        ("runs/log-metric", {"run_id": run_id, "key": "acc", "value": 0.1, "timestamp": 1, "step": 0}),
        ("runs/log-parameter", {"run_id": run_id, "key": "lr", "value": "9"}),
        ("runs/set-tag", {"run_id": run_id, "key": "mlflow.user", "value": "outsider"}),
        ("runs/set-tag", {"run_id": run_id, "key": "note", "value": "mine now"}),
        ("runs/delete-tag", {"run_id": run_id, "key": "mlflow.runName"}),
        ("runs/update", {"run_id": run_id, "status": "KILLED", "end_time": 5}),
        ("runs/log-batch", {"run_id": run_id, "params": [{"key": "x", "value": "1"}]}),
        ("runs/delete", {"run_id": run_id}),
    ]
    for endpoint, body in writes:
        response = client.post(f"{MLFLOW}/{endpoint}", body, format="json")
        assert response.status_code == 403, (endpoint, response.content)
        assert response.json()["error_code"] == "PERMISSION_DENIED", endpoint
    assert run_state(alice_run) == before
    # Reading stays open, and so does starting one's own run there.
    assert client.get(f"{MLFLOW}/runs/get", {"run_id": run_id}).status_code == 200
    own = client.post(f"{MLFLOW}/runs/create", {"experiment_id": "0"}, format="json")
    assert own.status_code == 200
    own_id = own.json()["run"]["info"]["run_id"]
    assert client.post(f"{MLFLOW}/runs/log-parameter", {"run_id": own_id, "key": "lr", "value": "1"},
                       format="json").status_code == 200


def test_outsider_cannot_put_or_delete_artifacts_of_another_users_run(api, root, alice, alice_run, outsider):
    base = f"0/{alice_run.run_id}/artifacts"
    assert put(api(alice), f"{base}/model/model.pkl", b"alice's pickle").status_code == 200
    client = api(outsider)
    response = put(client, f"{base}/model/model.pkl", b"outsider's pickle")
    assert response.status_code == 403 and response.json()["error_code"] == "PERMISSION_DENIED"
    assert put(client, f"{base}/new.txt", b"x").status_code == 403
    assert client.delete(f"{ARTIFACTS}/{base}/model/model.pkl").status_code == 403
    assert client.delete(f"{ARTIFACTS}/{base}").status_code == 403
    assert (root / base / "model" / "model.pkl").read_bytes() == b"alice's pickle"
    assert not (root / base / "new.txt").exists()
    # Reading is still allowed (the experiment is open to all).
    download = client.get(f"{ARTIFACTS}/{base}/model/model.pkl")
    assert download.status_code == 200 and b"".join(download.streaming_content) == b"alice's pickle"


def test_experiment_manager_and_admin_may_write_any_run(api, root, admin, alice_run, member, team):
    grant_add(actor=admin, securable=alice_run.experiment, principal=team, privilege="MANAGE")
    for user in (member, admin):
        response = api(user).post(f"{MLFLOW}/runs/set-tag", {"run_id": alice_run.run_id, "key": f"by-{user}",
                                                              "value": "ok"}, format="json")
        assert response.status_code == 200, response.content
        assert put(api(user), f"0/{alice_run.run_id}/artifacts/{user}.txt", b"ok").status_code == 200


def test_experiment_tags_of_the_default_experiment_are_not_everyones(api, db, outsider):
    default_experiment()
    response = api(outsider).post(f"{MLFLOW}/experiments/set-experiment-tag",
                                  {"experiment_id": "0", "key": "k", "value": "v"}, format="json")
    assert response.status_code == 403


def test_outsider_cannot_write_another_users_logged_model(api, root, alice, alice_run, outsider):
    logged = logged_model_create(actor=alice, experiment_id="0", name="m", source_run_id=alice_run.run_id)
    assert logged.owner == alice
    client = api(outsider)
    base = f"0/models/{logged.model_id}/artifacts"
    assert put(client, f"{base}/MLmodel", b"evil").status_code == 403
    finalize = client.patch(f"{MLFLOW}/logged-models/{logged.model_id}", {"status": "LOGGED_MODEL_READY"},
                            format="json")
    assert finalize.status_code == 403, finalize.content
    tags = client.patch(f"{MLFLOW}/logged-models/{logged.model_id}/tags",
                        {"tags": [{"key": "k", "value": "v"}]}, format="json")
    assert tags.status_code == 403, tags.content
    assert LoggedModel.objects.get(pk=logged.pk).status == "LOGGED_MODEL_PENDING"
    # Its owner may.
    assert put(api(alice), f"{base}/MLmodel", b"flavors: {}").status_code == 200


def register_workspace_version(alice, run: Run, name: str = "AliceWs"):
    registered_model_create(actor=alice, name=name)
    return model_version_create(actor=alice, name=name, source=f"runs:/{run.run_id}/model", run_id=run.run_id)


def test_files_of_a_workspace_version_are_immutable_even_for_the_runs_owner(api, root, alice, alice_run):
    client = api(alice)
    base = f"0/{alice_run.run_id}/artifacts"
    assert put(client, f"{base}/model/model.pkl", b"v1 pickle").status_code == 200
    mv = register_workspace_version(alice, alice_run)
    assert mv.status == "READY"
    for response in (put(client, f"{base}/model/model.pkl", b"changed"),
                     put(client, f"{base}/model/extra.py", b"import os"),
                     client.delete(f"{ARTIFACTS}/{base}/model/model.pkl"),
                     client.delete(f"{ARTIFACTS}/{base}/model"),
                     client.delete(f"{ARTIFACTS}/{base}")):
        assert response.status_code == 400, response.content
        body = response.json()
        assert body["error_code"] == "INVALID_STATE"
        assert "version 1 of registered model 'AliceWs'" in body["message"]
    assert (root / base / "model" / "model.pkl").read_bytes() == b"v1 pickle"
    assert not (root / base / "model" / "extra.py").exists()
    # Elsewhere in the run, logging goes on; the download URI still points at the run's files.
    assert put(client, f"{base}/plots/roc.png", b"png").status_code == 200
    uri = client.get(f"{MLFLOW}/model-versions/get-download-uri", {"name": "AliceWs", "version": "1"}).json()
    assert uri["artifact_uri"] == f"mlflow-artifacts:/{base}/model"
    # Once the version is deleted the files are the run's again.
    model_version_delete(actor=alice, name="AliceWs", version="1")
    assert put(client, f"{base}/model/model.pkl", b"v2 pickle").status_code == 200


def test_the_refusal_does_not_name_a_version_the_writer_cannot_see(api, root, admin, alice, alice_run, member, team):
    grant_add(actor=admin, securable=alice_run.experiment, principal=team, privilege="MANAGE")
    put(api(alice), f"0/{alice_run.run_id}/artifacts/model/model.pkl", b"v1")
    register_workspace_version(alice, alice_run, name="SecretWs")
    response = put(api(member), f"0/{alice_run.run_id}/artifacts/model/model.pkl", b"v2")
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_STATE"
    assert "SecretWs" not in response.content.decode()
    assert "a registered model version" in response.json()["message"]


def test_files_of_a_version_registered_from_a_logged_model_are_immutable(api, root, alice, alice_run):
    logged = logged_model_create(actor=alice, experiment_id="0", name="m", source_run_id=alice_run.run_id)
    base = f"0/models/{logged.model_id}/artifacts"
    client = api(alice)
    assert put(client, f"{base}/model.pkl", b"v1").status_code == 200
    registered_model_create(actor=alice, name="FromLogged")
    model_version_create(actor=alice, name="FromLogged", source=f"models:/{logged.model_id}")
    response = put(client, f"{base}/model.pkl", b"v2")
    assert response.status_code == 400 and response.json()["error_code"] == "INVALID_STATE"
    assert (root / base / "model.pkl").read_bytes() == b"v1"


def test_an_upload_that_finishes_after_registration_is_refused_and_keeps_the_old_file(root, alice, alice_run):
    """The check runs again just before the upload's bytes replace the file: an upload that was already
    streaming when the version was registered does not land."""
    from registry.artifact_access import refuse_if_registered
    from registry.errors import InvalidState

    path = f"0/{alice_run.run_id}/artifacts/model/model.pkl"
    storage.save_stream(path, _Bytes(b"v1"))

    def register_meanwhile():
        register_workspace_version(alice, alice_run, name="RaceWs")
        refuse_if_registered(alice, path)

    with pytest.raises(InvalidState):
        storage.save_stream(path, _Bytes(b"late"), before_commit=register_meanwhile)
    assert (root / path).read_bytes() == b"v1"
    assert [p.name for p in (root / path).parent.iterdir()] == ["model.pkl"]  # no partial file left


class _Bytes:
    def __init__(self, data: bytes):
        self.data = data

    def read(self, n: int = -1) -> bytes:
        data, self.data = self.data, b""
        return data
