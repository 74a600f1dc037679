"""ARTIFACT_DOWNLOAD_REDIRECT=on: on S3 (moto's server), artifact downloads of the MLflow artifacts API and of the
explorer's download views answer 302 to a short-lived presigned URL that serves the file as an attachment, only
after the permission check and path confinement; on the filesystem, or with the setting off, they stream. The real
mlflow client following the redirect is tests/e2e/test_mlflow_s3_redirect.py."""
from __future__ import annotations

import io
from urllib.parse import parse_qs, urlparse

import pytest
import requests
from django.test import Client
from django.urls import reverse

from registry import storage
from registry.models import Experiment
from registry.services.grants import grant_add
from tests.registry.factories import make_run
from tests.s3 import use_s3_store

pytestmark = pytest.mark.django_db
API = "/api/2.0/mlflow-artifacts/artifacts"


@pytest.fixture
def s3_redirect(settings, tmp_path, s3_server):
    settings.ARTIFACT_ROOT = tmp_path / "unused"
    view = use_s3_store(settings, s3_server)
    settings.ARTIFACT_DOWNLOAD_REDIRECT = True
    settings.ARTIFACT_DOWNLOAD_REDIRECT_SECONDS = 60
    return view


@pytest.fixture
def run(owner, reader):
    exp = Experiment.objects.create(id=7, name="private", artifact_location="mlflow-artifacts:/7", owner_user=owner,
                                    open_to_all=False, creation_time=0, last_update_time=0)
    grant_add(actor=owner, securable=exp, principal=reader, privilege="EXECUTE")
    run = make_run(7)
    run.owner = owner
    run.save()
    return run


def put(run, rel: str, data: bytes) -> str:
    path = f"7/{run.run_id}/artifacts/{rel}"
    storage.save_stream(path, io.BytesIO(data))
    return path


def test_api_download_redirects_to_a_presigned_url_of_the_file(s3_redirect, s3_server, api, reader, run):
    path = put(run, "model/model.pkl", b"\x80\x04binary\x00" * 1000)
    answer = api(reader).get(f"{API}/{path}")
    assert answer.status_code == 302
    assert answer["Cache-Control"] == "no-store"
    location = urlparse(answer["Location"])
    assert f"{location.scheme}://{location.netloc}" == s3_server.url
    assert location.path == f"/artifacts/{s3_redirect.prefix}/{path}"
    query = parse_qs(location.query)
    assert query["X-Amz-Expires"] == ["60"] and "X-Amz-Signature" in query
    followed = requests.get(answer["Location"], timeout=10)  # no credential but the URL
    assert followed.status_code == 200 and followed.content == b"\x80\x04binary\x00" * 1000
    assert followed.headers["Content-Disposition"].startswith("attachment;")
    assert "model.pkl" in followed.headers["Content-Disposition"]


def test_a_file_a_browser_would_render_is_served_as_text(s3_redirect, api, owner, run):
    path = put(run, "report.html", b"<script>alert(1)</script>")
    answer = api(owner).get(f"{API}/{path}")
    followed = requests.get(answer["Location"], timeout=10)
    assert followed.headers["Content-Type"] == "text/plain"


def test_no_redirect_without_permission_or_outside_the_root(s3_redirect, api, make_user, reader, run):
    path = put(run, "secret.bin", b"secret")
    outsider = make_user("outsider")
    refused = api(outsider).get(f"{API}/{path}")
    assert refused.status_code == 404 and "Location" not in refused
    assert refused.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert api().get(f"{API}/{path}").status_code == 401
    for hostile in (f"7/{run.run_id}/artifacts/../artifacts/secret.bin", f"7/{run.run_id}/artifacts/%2e%2e/x"):
        answer = api(reader).get(f"{API}/{hostile}")
        assert answer.status_code in (400, 404) and "Location" not in answer, hostile
        assert answer.json()["error_code"] in ("INVALID_PARAMETER_VALUE", "RESOURCE_DOES_NOT_EXIST")
    missing = api(reader).get(f"{API}/7/{run.run_id}/artifacts/nope.bin")
    assert missing.status_code == 404 and "Location" not in missing
    directory = api(reader).get(f"{API}/7/{run.run_id}/artifacts")
    assert "Location" not in directory


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_explorer_download_redirects_after_its_checks(s3_redirect, reader, make_user, run):
    put(run, "notes.txt", b"hello")
    url = reverse("explorer:run_artifact_download", args=[run.run_id])
    answer = client_for(reader).get(url, {"path": "notes.txt"})
    assert answer.status_code == 302
    assert requests.get(answer["Location"], timeout=10).content == b"hello"
    assert client_for(make_user("outsider")).get(url, {"path": "notes.txt"}).status_code == 404
    assert client_for(reader).get(url, {"path": "../notes.txt"}).status_code == 404


def test_streamed_when_off_or_on_the_filesystem(settings, tmp_path, s3_server, api, reader, run):
    use_s3_store(settings, s3_server)
    path = put(run, "a.txt", b"streamed")
    settings.ARTIFACT_DOWNLOAD_REDIRECT = False
    answer = api(reader).get(f"{API}/{path}")
    assert answer.status_code == 200 and b"".join(answer.streaming_content) == b"streamed"

    settings.ARTIFACT_STORE = ""
    settings.ARTIFACT_ROOT = tmp_path / "fs"
    settings.ARTIFACT_DOWNLOAD_REDIRECT = True
    path = put(run, "a.txt", b"on disk")
    answer = api(reader).get(f"{API}/{path}")
    assert answer.status_code == 200 and b"".join(answer.streaming_content) == b"on disk"
