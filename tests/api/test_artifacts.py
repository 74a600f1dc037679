"""The artifacts proxy (`/api/2.0/mlflow-artifacts/artifacts/...`) and server-info: streamed upload and
download, listing in MLflow's shape, delete, who may read and write which run's artifacts, and hostile
paths that must never reach outside the artifact root. Every test taking `root` runs on both stores: the
filesystem and S3 (a moto server on loopback, tests/s3.py); `root` is where the test reads what was stored."""
from __future__ import annotations

import hashlib
import os
import time
import tracemalloc
import uuid
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from registry.models import Experiment, Run
from registry.services.grants import grant_add

API = "/api/2.0/mlflow-artifacts/artifacts"
AJAX = "/ajax-api/2.0/mlflow-artifacts/artifacts"


@pytest.fixture
def fs_root(settings, tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "secret.txt").write_bytes(b"top secret")
    settings.ARTIFACT_ROOT = tmp_path / "root"
    return tmp_path / "root"


@pytest.fixture(params=["filesystem", "s3"])
def root(request, fs_root, settings):
    """The filesystem root, or the S3 store (then the filesystem root must stay empty: see snapshot_outside)."""
    if request.param == "filesystem":
        return fs_root
    from tests.s3 import use_s3_store

    return use_s3_store(settings, request.getfixturevalue("s3_server")).root(fs_root.parent)


def names_below(root, directory: str) -> list[str]:
    return sorted(os.listdir(root / directory)) if isinstance(root, Path) else (root / directory).names()


def snapshot_outside(root) -> dict[str, bytes]:
    """Every file under the temporary directory but outside the artifact root, with its bytes."""
    base = root.parent
    return {
        str(p.relative_to(base)): p.read_bytes()
        for p in base.rglob("*")
        if p.is_file() and not p.is_symlink() and root not in p.parents
    }


def make_experiment(owner, *, pk: int = 42, open_to_all: bool = False) -> Experiment:
    now = int(time.time() * 1000)
    return Experiment.objects.create(
        id=pk, name=f"exp-{pk}", artifact_location=f"mlflow-artifacts:/{pk}", owner_user=owner,
        open_to_all=open_to_all, creation_time=now, last_update_time=now,
    )


def make_run(experiment: Experiment, owner) -> Run:
    run_id = uuid.uuid4().hex
    return Run.objects.create(run_id=run_id, experiment=experiment, owner=owner,
                              artifact_uri=f"mlflow-artifacts:/{experiment.pk}/{run_id}/artifacts")


@pytest.fixture
def run(owner):
    return make_run(make_experiment(owner), owner)


@pytest.fixture
def base(run) -> str:
    """The run's artifact directory, relative to the store root."""
    return f"{run.experiment_id}/{run.run_id}/artifacts"


@pytest.fixture
def granted_reader(run, owner, reader):
    grant_add(actor=owner, securable=run.experiment, principal=reader, privilege="EXECUTE")
    return reader


def put(client, path: str, data: bytes, prefix: str = API):
    return client.generic("PUT", f"{prefix}/{path}", data, content_type="application/octet-stream")


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def not_found(path: str) -> dict:
    return {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": f"No artifact at path '{path}'."}


# --- upload, download, list, delete -------------------------------------------------------------------------

def test_owner_uploads_and_downloads_identical_bytes(api, owner, root, base):
    client = api(owner)
    payload = bytes(range(256)) * 1000 + b"\x00tail"
    response = put(client, f"{base}/model/model.pkl", payload)
    assert response.status_code == 200, response.content
    assert response.json() == {}
    assert (root / base / "model/model.pkl").read_bytes() == payload

    response = client.get(f"{API}/{base}/model/model.pkl")
    assert response.status_code == 200
    assert response["Content-Length"] == str(len(payload))
    assert response["Content-Disposition"].startswith("attachment")
    assert body_of(response) == payload


def test_reupload_replaces_content(api, owner, root, base):
    client = api(owner)
    put(client, f"{base}/notes.txt", b"a much longer first version")
    put(client, f"{base}/notes.txt", b"short")
    assert body_of(client.get(f"{API}/{base}/notes.txt")) == b"short"


def test_html_artifact_is_not_served_as_html(api, owner, root, base):
    client = api(owner)
    put(client, f"{base}/report.html", b"<script>alert(1)</script>")
    response = client.get(f"{API}/{base}/report.html")
    assert response["Content-Type"].startswith("text/plain")
    assert response["X-Content-Type-Options"] == "nosniff"


def test_list_returns_mlflow_shape_relative_to_listed_dir(api, owner, root, base):
    client = api(owner)
    put(client, f"{base}/model/MLmodel", b"flavors: {}\n")
    put(client, f"{base}/model/data/weights.bin", b"w" * 1234)
    put(client, f"{base}/metrics.json", b"{}")

    response = client.get(API, {"path": f"{base}/model"})
    assert response.status_code == 200
    assert response.json() == {"files": [
        {"path": "data", "is_dir": True},
        {"path": "MLmodel", "is_dir": False, "file_size": 12},
    ]}
    response = client.get(API, {"path": base})
    assert [f["path"] for f in response.json()["files"]] == ["model", "metrics.json"]


def test_list_of_empty_missing_or_file_path_is_empty_object(api, owner, root, base):
    client = api(owner)
    assert client.get(API, {"path": base}).json() == {}
    assert client.get(API, {"path": f"{base}/no/such/dir"}).json() == {}
    put(client, f"{base}/one.txt", b"1")
    response = client.get(API, {"path": f"{base}/one.txt"})
    assert response.status_code == 200 and response.json() == {}


def test_delete_file_and_directory_tree(api, owner, root, base):
    client = api(owner)
    put(client, f"{base}/keep.txt", b"k")
    put(client, f"{base}/tree/a.txt", b"a")
    put(client, f"{base}/tree/sub/b.txt", b"b")

    assert client.delete(f"{API}/{base}/tree").status_code == 200
    assert not (root / base / "tree").exists()
    assert client.get(f"{API}/{base}/tree/a.txt").status_code == 404
    assert client.delete(f"{API}/{base}/keep.txt").status_code == 200
    assert not (root / base / "keep.txt").exists()
    # Deleting again is harmless, as on MLflow's server.
    assert client.delete(f"{API}/{base}/keep.txt").status_code == 200


def test_missing_file_in_visible_run_is_404_envelope(api, owner, root, base):
    response = api(owner).get(f"{API}/{base}/nope.txt")
    assert response.status_code == 404
    assert response.json() == not_found(f"{base}/nope.txt")


def test_logged_model_artifacts_are_reachable(api, owner, root, run):
    from registry.models import LoggedModel

    now = int(time.time() * 1000)
    logged = LoggedModel.objects.create(
        model_id="m-" + uuid.uuid4().hex, experiment=run.experiment, name="model", source_run=run,
        artifact_uri="", creation_timestamp_ms=now, last_updated_timestamp_ms=now,
    )
    client = api(owner)
    path = f"{run.experiment_id}/models/{logged.model_id}/artifacts/MLmodel"
    assert put(client, path, b"m").status_code == 200
    assert body_of(client.get(f"{API}/{path}")) == b"m"


def test_registry_storage_cannot_be_written(api, admin, root):
    path = f"registry/{uuid.uuid4().hex}/versions/1/MLmodel"
    response = put(api(admin), path, b"forged")
    assert response.status_code == 403
    assert response.json()["error_code"] == "PERMISSION_DENIED"
    assert not (root / "registry").exists()


# --- who may do what -----------------------------------------------------------------------------------------

def test_outsider_cannot_read_list_write_or_delete_private_run(api, owner, outsider, root, base):
    put(api(owner), f"{base}/secret.txt", b"private")
    client = api(outsider)

    response = client.get(f"{API}/{base}/secret.txt")
    assert response.status_code == 404
    # Same answer as for a file that does not exist: the outsider learns nothing.
    assert response.json() == not_found(f"{base}/secret.txt")
    assert api(owner).get(f"{API}/{base}/absent.txt").json() == not_found(f"{base}/absent.txt")

    response = client.get(API, {"path": base})
    assert response.status_code == 404 and response.json() == not_found(base)
    response = put(client, f"{base}/secret.txt", b"overwritten")
    assert response.status_code == 404 and response.json() == not_found(f"{base}/secret.txt")
    response = client.delete(f"{API}/{base}/secret.txt")
    assert response.status_code == 404
    assert (root / base / "secret.txt").read_bytes() == b"private"


def test_unknown_run_or_experiment_is_404(api, owner, root, run):
    client = api(owner)
    for path in (f"{run.experiment_id}/{uuid.uuid4().hex}/artifacts/x", f"999/{run.run_id}/artifacts/x",
                 f"{run.experiment_id}/{run.run_id}/not-artifacts/x", "notanumber/x/artifacts/y"):
        response = put(client, path, b"x")
        assert response.status_code == 404, path
        assert response.json() == not_found(path)
    assert list(root.rglob("*")) == []


def test_reader_with_execute_can_read_but_not_write(api, owner, granted_reader, root, base):
    put(api(owner), f"{base}/model.bin", b"original")
    client = api(granted_reader)
    assert body_of(client.get(f"{API}/{base}/model.bin")) == b"original"
    assert client.get(API, {"path": base}).json() == {"files": [{"path": "model.bin", "is_dir": False,
                                                                "file_size": 8}]}
    response = put(client, f"{base}/model.bin", b"tampered")
    assert response.status_code == 403
    assert response.json()["error_code"] == "PERMISSION_DENIED"
    assert client.delete(f"{API}/{base}/model.bin").status_code == 403
    assert (root / base / "model.bin").read_bytes() == b"original"


@pytest.mark.parametrize("method", ["get", "put", "delete", "list"])
def test_anonymous_gets_401(method, root, base):
    client = APIClient()
    if method == "list":
        response = client.get(API, {"path": base})
    elif method == "put":
        response = put(client, f"{base}/x.txt", b"x")
    else:
        response = getattr(client, method)(f"{API}/{base}/x.txt")
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"
    assert not (root / base).exists()


def test_invalid_token_gets_401(root, base):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer not-a-real-token")
    response = client.get(API, {"path": base})
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"


def test_basic_auth_with_token_as_password(owner, token_for, root, base):
    import base64

    client = APIClient()
    credentials = base64.b64encode(f"owner:{token_for(owner)}".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {credentials}")
    assert put(client, f"{base}/b.txt", b"basic").status_code == 200


def test_session_requests_need_csrf_token(owner, root, base):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = client.generic("PUT", f"{AJAX}/{base}/s.txt", b"session", content_type="text/plain")
    assert response.status_code == 403
    assert not (root / base / "s.txt").exists()

    token = "Csrf0Token1For2The3Session4Test5"  # any 32 alphanumerics is a valid secret
    client.cookies["csrftoken"] = token
    response = client.generic("PUT", f"{AJAX}/{base}/s.txt", b"session", content_type="text/plain",
                              HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 200, response.content
    assert body_of(client.get(f"{AJAX}/{base}/s.txt")) == b"session"


# --- hostile paths -------------------------------------------------------------------------------------------

# As they appear in the request URL (the server decodes the URL once, as any WSGI server does).
HOSTILE_URL_PATHS = [
    "{base}/../../../outside/pwned.txt",
    "{base}/..%2F..%2F..%2Foutside%2Fpwned.txt",
    "{base}/%2e%2e%2f%2e%2e%2f%2e%2e%2foutside%2fpwned.txt",
    "{base}/%252e%252e%252f%252e%252e%252f%252e%252e%252foutside%252fpwned.txt",
    "{base}/%25252e%25252e%25252foutside",
    "/{tmp}/outside/pwned.txt",
    "%2F{tmp}%2Foutside%2Fpwned.txt",
    "/etc/passwd",
    "{base}/..%5C..%5C..%5Coutside%5Cpwned.txt",
    "{base}/a%5Cb.txt",
    "{base}/pwned%00.txt",
    "{base}/pwned%2500.txt",
    "{base}/ctl%01.txt",
    "{base}/new%0Aline.txt",
    "{base}/del%7F.txt",
    "{base}/frag%23ment.txt",
    "{base}/frag%2523ment.txt",
]


@pytest.mark.parametrize("template", HOSTILE_URL_PATHS)
@pytest.mark.parametrize("method", ["put", "get", "delete"])
def test_hostile_artifact_paths_are_refused(api, owner, root, base, method, template):
    tmp = str(root.parent).lstrip("/")
    url = f"{API}/" + template.format(base=base, tmp=tmp)
    before = snapshot_outside(root)
    client = api(owner)
    if method == "put":
        response = client.generic("PUT", url, b"pwned", content_type="text/plain")
    else:
        response = getattr(client, method)(url)
    assert response.status_code == 400, (url, response.status_code, body_of(response)[:200])
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert b"top secret" not in body_of(response)
    assert snapshot_outside(root) == before
    assert [p for p in root.rglob("*") if p.is_file()] == []


@pytest.mark.parametrize("raw", [
    "{base}/../../..", "{base}/%2e%2e/%2e%2e", "{base}/%252e%252e%252f", "/etc", "//etc", "{base}\\..",
    "{base}/a\x00", "{base}/a#b", "{base}/a\nb",
])
def test_hostile_list_paths_are_refused(api, owner, root, base, raw):
    response = api(owner).get(API, {"path": raw.format(base=base)})
    assert response.status_code == 400
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_symlink_inside_run_pointing_outside_is_never_followed(api, owner, fs_root, base):
    root = fs_root  # symlinks exist on the filesystem only
    outside = root.parent / "outside"
    client = api(owner)
    put(client, f"{base}/ok.txt", b"ok")
    os.symlink(outside, root / base / "evil_dir")
    os.symlink(outside / "secret.txt", root / base / "evil_file")
    before = snapshot_outside(root)

    for path in (f"{base}/evil_dir/secret.txt", f"{base}/evil_file"):
        response = client.get(f"{API}/{path}")
        assert response.status_code in (400, 404)
        assert b"top secret" not in body_of(response)
    for path in (f"{base}/evil_dir/planted.txt", f"{base}/evil_file"):
        response = put(client, path, b"planted")
        assert response.status_code in (400, 404)
    response = client.get(API, {"path": f"{base}/evil_dir"})
    assert response.status_code in (400, 404)
    # The listing of the run shows only what really lives inside the store.
    assert client.get(API, {"path": base}).json() == {"files": [{"path": "ok.txt", "is_dir": False,
                                                                 "file_size": 2}]}
    # Deleting the run's artifacts removes the links, not their targets.
    assert client.delete(f"{API}/{base}").status_code == 200
    assert not os.path.lexists(root / base / "evil_dir")
    assert snapshot_outside(root) == before
    assert (outside / "secret.txt").read_bytes() == b"top secret"


def test_writing_through_a_file_or_onto_a_directory_is_400(api, owner, root, base):
    client = api(owner)
    put(client, f"{base}/f.txt", b"x")
    put(client, f"{base}/d/inner.txt", b"x")
    assert put(client, f"{base}/f.txt/child", b"y").status_code == 400
    assert put(client, f"{base}/d", b"y").status_code == 400
    assert client.get(f"{API}/{base}/d").status_code == 404


def test_overlong_path_is_400(api, owner, root, base):
    response = put(api(owner), f"{base}/" + "x" * 5000, b"y")
    assert response.status_code == 400


# --- streaming ----------------------------------------------------------------------------------------------

class GeneratedBody:
    """A request body produced on the fly, so neither side ever holds it whole."""

    def __init__(self, size: int, stop_after: int | None = None):
        self.remaining = size if stop_after is None else stop_after
        self.sha256 = hashlib.sha256()
        self.counter = 0

    def _next(self, n: int) -> bytes:
        # Like a socket file: exactly n bytes (all that is left for n < 0) unless the body ends first.
        n = self.remaining if n is None or n < 0 else min(n, self.remaining)
        if n <= 0:
            return b""
        self.counter += 1
        block = (self.counter.to_bytes(8, "big") * (n // 8 + 1))[:n]
        self.sha256.update(block)
        self.remaining -= n
        return block

    def read(self, n: int = -1) -> bytes:
        return self._next(n)

    def readline(self, n: int = -1) -> bytes:
        return self._next(n)


def test_big_upload_streams_without_holding_the_body(api, owner, root, base, settings):
    on_s3 = not isinstance(root, Path)
    # S3 holds the multipart threshold (read to choose one PUT or parts) and a few parts in memory
    # (registry/storage_s3.py), never the body: the upload is made larger than that bound.
    bound = 12 * 1024 * 1024 + (0 if not on_s3 else 3 * settings.ARTIFACT_S3_MULTIPART_THRESHOLD
                                + 4 * settings.ARTIFACT_S3_MULTIPART_CHUNK_BYTES)
    size = 50 * 1024 * 1024 if not on_s3 else 3 * bound
    # Far below the upload: any code path that read request.body would be refused (and hold it all).
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    client = api(owner)
    body = GeneratedBody(size)
    tracemalloc.start()
    try:
        response = client.generic("PUT", f"{API}/{base}/big.bin", b"", content_type="application/octet-stream",
                                  CONTENT_LENGTH=str(size), **{"wsgi.input": body})
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert response.status_code == 200, response.content
    assert peak < bound, f"peak traced memory {peak} bytes for a {size}-byte upload"
    assert (root / base / "big.bin").stat().st_size == size

    response = client.get(f"{API}/{base}/big.bin")
    assert response["Content-Length"] == str(size)
    digest, received = hashlib.sha256(), 0
    for chunk in response.streaming_content:
        digest.update(chunk)
        received += len(chunk)
    response.close()
    assert received == size
    assert digest.hexdigest() == body.sha256.hexdigest()


def test_truncated_upload_is_refused_and_keeps_previous_content(api, owner, root, base):
    client = api(owner)
    put(client, f"{base}/model.bin", b"complete")
    body = GeneratedBody(1000, stop_after=300)  # the client goes away after 300 of 1000 bytes
    response = client.generic("PUT", f"{API}/{base}/model.bin", b"", content_type="application/octet-stream",
                              CONTENT_LENGTH="1000", **{"wsgi.input": body})
    assert response.status_code == 400
    assert (root / base / "model.bin").read_bytes() == b"complete"
    assert names_below(root, base) == ["model.bin"]


def test_chunked_upload_is_read_to_the_end_when_the_server_terminates_input(api, owner, root, base):
    client = api(owner)
    body = GeneratedBody(3 * 1024 * 1024 + 5)
    environ = {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": body, "wsgi.input_terminated": True}
    response = client.generic("PUT", f"{API}/{base}/chunked.bin", b"", content_type="application/octet-stream",
                              **environ)
    assert response.status_code == 200, response.content
    digest = hashlib.sha256((root / base / "chunked.bin").read_bytes()).hexdigest()
    assert digest == body.sha256.hexdigest()


def test_chunked_upload_without_terminated_input_is_refused(api, owner, root, base):
    response = api(owner).generic("PUT", f"{API}/{base}/c.bin", b"", content_type="application/octet-stream",
                                  HTTP_TRANSFER_ENCODING="chunked", **{"wsgi.input": GeneratedBody(10)})
    assert response.status_code == 411  # its length cannot be known (registry/request_guard.py)
    assert not (root / base / "c.bin").exists()


@pytest.mark.parametrize("length", ["-1", "abc"])
def test_bad_content_length_is_400(api, owner, root, base, length):
    response = api(owner).generic("PUT", f"{API}/{base}/x.bin", b"", content_type="application/octet-stream",
                                  CONTENT_LENGTH=length, **{"wsgi.input": GeneratedBody(10)})
    assert response.status_code == 400


# --- server-info --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/api/3.0/mlflow/server-info", "/ajax-api/3.0/mlflow/server-info"])
def test_server_info_says_uploads_are_proxied_single_puts(url, db):
    response = APIClient().get(url)
    assert response.status_code == 200
    info = response.json()
    assert info["multipart_uploads_enabled"] is False
    assert info["multipart_downloads_enabled"] is False
    assert info["workspaces_enabled"] is False


# --- the real MLflow client over HTTP ------------------------------------------------------------------------

@pytest.fixture
def per_request_db_connections():
    """The client keeps HTTP connections alive, so a live-server thread outlives its request; with
    persistent database connections it would still hold one when the test database is dropped."""
    from django.db import connections

    conf = connections.settings["default"]
    old = conf.get("CONN_MAX_AGE", 0)
    conf["CONN_MAX_AGE"] = 0
    yield
    conf["CONN_MAX_AGE"] = old


@pytest.mark.django_db(transaction=True)
def test_mlflow_client_round_trip_over_http(per_request_db_connections, live_server, make_user, token_for, root,
                                            tmp_path, monkeypatch):
    """The unmodified client's artifact repository: upload a directory, list, download, delete."""
    from mlflow.store.artifact.mlflow_artifacts_repo import MlflowArtifactsRepository
    from mlflow.utils.server_info import _clear_server_info_cache

    user = make_user("scientist")
    experiment = make_experiment(user, pk=7)
    run = make_run(experiment, user)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token_for(user))
    _clear_server_info_cache()

    local = tmp_path / "local"
    (local / "model" / "data").mkdir(parents=True)
    (local / "model" / "MLmodel").write_text("flavors: {}\n")
    (local / "model" / "data" / "weights.bin").write_bytes(os.urandom(300_000))
    repo = MlflowArtifactsRepository(run.artifact_uri, tracking_uri=live_server.url)
    repo.log_artifacts(str(local))

    listed = {(f.path, f.is_dir, f.file_size) for f in repo.list_artifacts("model")}
    assert listed == {("model/MLmodel", False, 12), ("model/data", True, None)}
    target = tmp_path / "download"
    target.mkdir()
    downloaded = repo.download_artifacts("model", dst_path=str(target))
    assert (target / "model" / "data" / "weights.bin").read_bytes() == (local / "model/data/weights.bin").read_bytes()
    assert downloaded.endswith("model")

    repo.delete_artifacts("model/data")
    assert [f.path for f in repo.list_artifacts("model")] == ["model/MLmodel"]
    assert not (root / f"7/{run.run_id}/artifacts/model/data").exists()
