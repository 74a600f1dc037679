"""The remote-registry surface (docs/remote-registry.md) in process: the per-user DBFS upload area, versions
registered from it (copied into their own storage, the upload released), a version's files through
list-artifacts and short-lived signed URLs, and `/.well-known/databricks-config`. The real MLflow client against
two live deployments is tests/api/test_remote_registry_client.py."""
from __future__ import annotations

import time

import pytest
import yaml
from django.core import signing
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from registry import jobs, storage
from registry.models import Job, ModelVersion, UploadAreaDirectory
from registry.services.models import registered_model_create
from registry.services.upload_area import upload_area_sweep

AREA = "/databricks/mlflow/tmp-external-source"
MLMODEL = yaml.safe_dump({
    "artifact_path": "model",
    "flavors": {"python_function": {"loader_module": "mlflow.sklearn", "python_version": "3.11"}},
    "signature": {"inputs": '[{"type": "double", "name": "x"}]', "outputs": '[{"type": "long"}]'},
}).encode()

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def artifact_root(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "root"
    settings.ARTIFACT_ROOT.mkdir()
    return settings.ARTIFACT_ROOT


def upload(client, path: str, data: bytes):
    return client.post(f"/dbfs{path}", data=data, content_type="application/octet-stream")


def dbfs_list(client, path: str):
    return client.get("/api/2.0/dbfs/list", {"path": path})


def upload_model(client, directory: str, marker: bytes = b"weights") -> None:
    for rel, data in (("MLmodel", MLMODEL), ("model.pkl", marker), ("data/extra.txt", b"x" * 10)):
        assert upload(client, f"{AREA}/{directory}/{rel}", data).status_code == 200


def register(client, name: str, source: str, run_id: str = "abc123", **extra) -> dict:
    response = client.post("/api/2.0/mlflow/model-versions/create",
                           {"name": name, "source": source, "run_id": run_id, **extra}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["model_version"]


def finish_registration(django_capture_on_commit_callbacks, name: str, version: int) -> ModelVersion:
    job = Job.objects.get(model_version__model__name=name.split(".")[-1], model_version__version=version)
    with django_capture_on_commit_callbacks(execute=True):
        jobs.execute(job.pk)
    return ModelVersion.objects.get(pk=job.model_version_id)


# ---------------------------------------------------------------------------------------------- host metadata

def test_well_known_databricks_config_answers_json_with_a_workspace_id_without_credentials(client):
    response = client.get("/.well-known/databricks-config")
    assert response.status_code == 200
    body = response.json()
    assert body["workspace_id"].isdigit()
    assert client.get("/.well-known/databricks-config").json()["workspace_id"] == body["workspace_id"]


def test_unknown_dbfs_paths_answer_json(api, owner):
    response = api(owner).get(f"/dbfs{AREA}/run1/MLmodel")
    assert response.status_code == 405 and response.json()["error_code"] == "BAD_REQUEST"
    assert api(owner).get("/api/2.0/dbfs/get-status", {"path": AREA}).json()["error_code"] == "ENDPOINT_NOT_FOUND"


# ---------------------------------------------------------------------------------------------- the upload area

def test_upload_then_list_shows_absolute_dbfs_paths(api, owner):
    client = api(owner)
    assert dbfs_list(client, f"{AREA}/run1").status_code == 404
    assert dbfs_list(client, f"{AREA}/run1").json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    upload_model(client, "run1")
    # The client doubles the slash after the area; both spellings name the same directory.
    listed = dbfs_list(client, f"{AREA}//run1").json()["files"]
    assert listed == [
        {"path": f"{AREA}/run1/data", "is_dir": True, "file_size": 0},
        {"path": f"{AREA}/run1/MLmodel", "is_dir": False, "file_size": len(MLMODEL)},
        {"path": f"{AREA}/run1/model.pkl", "is_dir": False, "file_size": 7},
    ]
    assert dbfs_list(client, f"{AREA}/run1/model.pkl").json()["files"] == [
        {"path": f"{AREA}/run1/model.pkl", "is_dir": False, "file_size": 7}]
    assert [f["path"] for f in dbfs_list(client, AREA).json()["files"]] == [f"{AREA}/run1"]


def test_a_second_users_uploads_are_invisible_and_unwritable_to_the_first(api, owner, outsider):
    mine, theirs = api(owner), api(outsider)
    upload_model(mine, "run1", marker=b"owner's weights")
    assert dbfs_list(theirs, f"{AREA}/run1").status_code == 404
    assert dbfs_list(theirs, AREA).status_code == 404
    # Writing the same path writes the outsider's own file: the owner's stays as it was.
    assert upload(theirs, f"{AREA}/run1/model.pkl", b"outsider's bytes").status_code == 200
    assert [f["path"] for f in dbfs_list(theirs, f"{AREA}/run1").json()["files"]] == [f"{AREA}/run1/model.pkl"]
    sizes = {f["path"]: f["file_size"] for f in dbfs_list(mine, f"{AREA}/run1").json()["files"]}
    assert sizes[f"{AREA}/run1/model.pkl"] == len(b"owner's weights")
    # Nor can the outsider register from the owner's upload: there is nothing of theirs there.
    registered_model_create(actor=outsider, name="outsiders-model")
    response = theirs.post("/api/2.0/mlflow/model-versions/create",
                           {"name": "outsiders-model", "source": f"dbfs:{AREA}/run1/data"}, format="json")
    assert response.status_code == 404 and response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


@pytest.mark.parametrize("path", ["/tmp/x", "/databricks/mlflow/other/x", f"{AREA}/../../secrets/x",
                                  f"{AREA}/run1/../../other/x", f"{AREA}/bad%20dir/x", f"{AREA}/run1"])
def test_every_other_dbfs_path_is_refused(api, owner, artifact_root, path):
    client = api(owner)
    response = upload(client, path, b"data")
    assert response.status_code == 400 and response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert not any(p.is_file() for p in artifact_root.rglob("*"))


@pytest.mark.parametrize("source", ["dbfs:/tmp/model", "dbfs:/databricks/mlflow-tracking/1/abc/artifacts/model",
                                    f"dbfs:{AREA}/../../registry/x", f"dbfs:{AREA}"])
def test_other_dbfs_sources_are_refused(api, owner, source):
    registered_model_create(actor=owner, name="plain")
    response = api(owner).post("/api/2.0/mlflow/model-versions/create", {"name": "plain", "source": source},
                               format="json")
    assert response.status_code == 400 and response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_uploads_are_limited_in_size_per_user(api, owner, outsider, settings):
    settings.UPLOAD_AREA_MAX_BYTES = 100
    client = api(owner)
    assert upload(client, f"{AREA}/run1/a.bin", b"a" * 60).status_code == 200
    response = upload(client, f"{AREA}/run1/b.bin", b"b" * 60)
    assert response.status_code == 400 and "UPLOAD_AREA_MAX_BYTES" in response.json()["message"]
    assert upload(api(outsider), f"{AREA}/run1/b.bin", b"b" * 60).status_code == 200  # a quota of their own


def test_the_sweep_removes_uploads_nobody_registered(api, owner):
    upload_model(api(owner), "old-run")
    upload_model(api(owner), "new-run")
    UploadAreaDirectory.objects.filter(name="old-run").update(updated_at=timezone.now() - timezone.timedelta(hours=2))
    assert upload_area_sweep(older_than_seconds=3600) == 1
    assert dbfs_list(api(owner), f"{AREA}/old-run").status_code == 404
    assert dbfs_list(api(owner), f"{AREA}/new-run").status_code == 200


# ---------------------------------------------------------------------------------------------- registration

@pytest.mark.parametrize("name", ["workspace-model", "prod.ml_team.uc_model"])
def test_a_version_from_the_upload_area_is_copied_and_the_upload_released(api, owner, governed, name,
                                                                           django_capture_on_commit_callbacks):
    client = api(owner)
    registered_model_create(actor=owner, name=name)
    upload_model(client, "run-a1")
    # MLflow 3 logged models: the source names `<dir>/m-<id>`, the files are directly in `<dir>/`.
    created = register(client, name, f"dbfs:{AREA}/run-a1/m-0123abcd", run_id="run-a1", model_id="m-0123abcd",
                       run_link="https://dev.example.com/#/experiments/1/runs/run-a1")
    assert created["status"] == "PENDING_REGISTRATION"
    mv = finish_registration(django_capture_on_commit_callbacks, name, 1)
    assert mv.status == "READY" and mv.storage_location == mv.managed_location
    assert (mv.run_id, mv.logged_model_id) == ("run-a1", "m-0123abcd")
    root = mv.storage_location.split(":/", 1)[1]
    assert sorted(path for path, _ in storage.walk_files(root)) == ["MLmodel", "data/extra.txt", "model.pkl"]
    assert dbfs_list(client, f"{AREA}/run-a1").status_code == 404  # released once READY
    assert not UploadAreaDirectory.objects.exists()
    got = client.get("/api/2.0/mlflow/model-versions/get", {"name": name, "version": "1"}).json()["model_version"]
    assert got["run_id"] == "run-a1" and got["run_link"].startswith("https://dev.example.com/")
    page = Client()
    page.force_login(owner)
    html = page.get(reverse("explorer:version", args=[name, 1])).content.decode()
    assert "Registered from" in html and "another deployment" in html
    assert 'href="https://dev.example.com/#/experiments/1/runs/run-a1"' in html
    # In lineage too: the version was registered from a run on another deployment, linked there.
    graph = client.get("/api/2.1/lineage", {"node": f"model_version:{name}/1", "direction": "upstream"})
    assert graph.status_code == 200, graph.content
    nodes = {node["key"]: node for node in graph.json()["nodes"]}
    assert nodes["remote_run:run-a1"]["attrs"] == {"link": "https://dev.example.com/#/experiments/1/runs/run-a1"}
    assert {"source": "remote_run:run-a1", "target": f"model_version:{mv.pk}", "label": "registered"} in \
        graph.json()["edges"]
    lineage_page = page.get(reverse("explorer:version_lineage", args=[name, 1])).content.decode()
    assert "Run on another deployment" in lineage_page


def test_a_run_link_that_is_no_web_link_is_not_rendered_as_one(api, owner, django_capture_on_commit_callbacks):
    client = api(owner)
    registered_model_create(actor=owner, name="m")
    upload_model(client, "run-x")
    register(client, "m", f"dbfs:{AREA}/run-x", run_link="javascript:alert(1)")
    finish_registration(django_capture_on_commit_callbacks, "m", 1)
    page = Client()
    page.force_login(owner)
    html = page.get(reverse("explorer:version", args=["m", 1])).content.decode()
    assert "another deployment" in html and 'href="javascript:' not in html


# ---------------------------------------------------------------------------------------------- signed downloads

@pytest.fixture
def two_versions(api, owner, governed, django_capture_on_commit_callbacks):
    client = api(owner)
    registered_model_create(actor=owner, name="prod.ml_team.iris")
    for number, marker in ((1, b"weights of one"), (2, b"weights of two")):
        upload_model(client, f"run-{number}", marker=marker)
        register(client, "prod.ml_team.iris", f"dbfs:{AREA}/run-{number}")
        finish_registration(django_capture_on_commit_callbacks, "prod.ml_team.iris", number)
    return client


def signed_uri(client, version: str, path: str) -> str:
    response = client.get("/api/2.0/mlflow/model-versions/get-signed-download-uri",
                          {"name": "prod.ml_team.iris", "version": version, "path": path})
    assert response.status_code == 200, response.content
    assert response.json()["headers"] == []
    return response.json()["signed_uri"]


def fetch(uri: str):
    return Client().get(uri.replace("http://testserver", ""))


def test_list_artifacts_names_files_relative_to_the_version(two_versions):
    response = two_versions.get("/api/2.0/mlflow/model-versions/list-artifacts",
                                {"name": "prod.ml_team.iris", "version": "1", "path": ""})
    assert response.json() == {"files": [
        {"path": "data", "is_dir": True},
        {"path": "MLmodel", "is_dir": False, "file_size": len(MLMODEL)},
        {"path": "model.pkl", "is_dir": False, "file_size": len(b"weights of one")},
    ]}
    sub = two_versions.get("/api/2.0/mlflow/model-versions/list-artifacts",
                           {"name": "prod.ml_team.iris", "version": "1", "path": "data"}).json()
    assert sub == {"files": [{"path": "data/extra.txt", "is_dir": False, "file_size": 10}]}


def test_a_signed_url_opens_its_one_file_without_credentials(two_versions):
    response = fetch(signed_uri(two_versions, "1", "model.pkl"))
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"weights of one"
    response = fetch(signed_uri(two_versions, "2", "model.pkl"))
    assert b"".join(response.streaming_content) == b"weights of two"


def test_a_signed_url_for_version_1_opens_neither_version_2_nor_another_path(two_versions):
    uri = signed_uri(two_versions, "1", "model.pkl")
    token = uri.split("token=", 1)[1]
    claim = signing.loads(token, salt="registry.signed-download")
    other_version = ModelVersion.objects.get(model__name="iris", version=2)
    for forged_claim in ({**claim, "v": other_version.pk, "l": other_version.storage_location},
                         {**claim, "p": "MLmodel"}):
        # Re-signed without the key (the payload changed, the signature not): refused.
        payload = signing.dumps(forged_claim, salt="registry.signed-download", key="not-the-secret", compress=True)
        response = fetch(f"/api/2.0/mlflow/model-versions/signed-download?token={payload}")
        assert response.status_code == 403 and response.json()["error_code"] == "PERMISSION_DENIED"
    # Swapping the signed part of a token onto another payload fails too.
    head, _, tail = token.partition(":")
    other = signed_uri(two_versions, "2", "MLmodel").split("token=", 1)[1]
    response = fetch(f"/api/2.0/mlflow/model-versions/signed-download?token={other.partition(':')[0]}:{tail}")
    assert response.status_code == 403
    # A URL is no credential for the API.
    api_call = Client().get("/api/2.0/mlflow/model-versions/get", {"name": "prod.ml_team.iris", "version": "1"},
                            HTTP_AUTHORIZATION=f"Bearer {token}")
    assert api_call.status_code == 401


def test_a_signed_url_expires(two_versions, settings):
    settings.SIGNED_DOWNLOAD_TTL_SECONDS = 1
    uri = signed_uri(two_versions, "1", "model.pkl")
    assert fetch(uri).status_code == 200
    time.sleep(2.1)
    response = fetch(uri)
    assert response.status_code == 403 and "expired" in response.json()["message"]


def test_a_signed_url_of_a_deleted_version_opens_nothing(two_versions):
    uri = signed_uri(two_versions, "1", "model.pkl")
    assert two_versions.delete("/api/2.0/mlflow/model-versions/delete",
                               {"name": "prod.ml_team.iris", "version": "1"}, format="json").status_code == 200
    assert fetch(uri).status_code == 403


def test_a_user_without_read_gets_the_answers_of_a_missing_model(two_versions, api, outsider):
    stranger = api(outsider)
    for endpoint in ("list-artifacts", "get-signed-download-uri"):
        hidden = stranger.get(f"/api/2.0/mlflow/model-versions/{endpoint}",
                              {"name": "prod.ml_team.iris", "version": "1", "path": "model.pkl"})
        missing = stranger.get(f"/api/2.0/mlflow/model-versions/{endpoint}",
                               {"name": "prod.ml_team.nope", "version": "1", "path": "model.pkl"})
        assert hidden.status_code == missing.status_code == 404
        assert hidden.json()["error_code"] == missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        assert hidden.json()["message"].replace("iris", "X") == missing.json()["message"].replace("nope", "X")
