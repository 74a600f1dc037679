"""Remote registries in process (docs/remote-registry.md): adding one (URL policy, the token encrypted at rest and
never shown again, each user's own), browsing a remote's models and versions, Compare with local and Import.
The "remote" is this test's live server reached over HTTP with a real token, so every call goes through the
remote's REST API as it would to another deployment; two separate deployments are
tests/e2e/test_remote_registry_browser.py, the worker killed mid-import tests/jobs/test_remote_import_crash.py."""
from __future__ import annotations

import socket

import pytest
from django.test import Client
from django.urls import reverse

from registry.jobs import execute
from registry.models import AuditEvent, Job, ModelVersion, RemoteRegistry
from registry.models.models import VersionStatus
from registry.remote_client import decrypt_token
from registry.services.remote_registries import remote_registry_add, remote_registry_get, remote_version_import
from registry.errors import InvalidParameter, NotFound
from tests.jobs.conftest import ready_version, tree_digests

pytestmark = pytest.mark.django_db(transaction=True)
REMOTE_MODEL = "prod.ml_team.fraud"


@pytest.fixture(autouse=True)
def artifact_root(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "root"
    settings.ARTIFACT_ROOT.mkdir()
    return settings.ARTIFACT_ROOT


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    """The "remote" is this test's live server on a loopback address, refused unless allowed."""
    settings.REMOTE_REGISTRY_ALLOWED_HOSTS = ["localhost", "127.0.0.1", "prod.example.com", "other.example.com"]


@pytest.fixture
def remote_version(governed, owner):
    """A READY version with files and a run with a param and a metric: what the remote holds."""
    from registry.models import Metric, Param, Run

    mv, digests = ready_version(owner, REMOTE_MODEL, files=2, size=2048)
    run = Run.objects.get(run_id=mv.run_id)
    Param.objects.create(run=run, key="learning_rate", value="0.1")
    Metric.objects.create(run=run, key="accuracy", value=0.93, timestamp=1, step=0)
    return mv, digests


def page(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def add(user, base_url: str, token: str, name: str = "prod"):
    return page(user).post(reverse("explorer:remote_registries"),
                           {"name": name, "base_url": base_url, "token": token})


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ---- adding, the token at rest ---------------------------------------------------------------------------------

def test_the_token_is_encrypted_at_rest_never_shown_and_usable_by_its_owner_only(owner, outsider, token_for,
                                                                                  live_server):
    token = token_for(owner)
    response = add(owner, live_server.url + "/", token)
    assert response.status_code == 302 and response["Location"] == reverse("explorer:remote_models", args=["prod"])
    row = RemoteRegistry.objects.get()
    assert row.base_url == live_server.url  # the trailing slash is dropped
    assert token not in row.token_encrypted and token[:12] not in row.token_encrypted
    assert decrypt_token(row.token_encrypted) == token
    listing = page(owner).get(reverse("explorer:remote_registries")).content.decode()
    assert live_server.url in listing and token not in listing and token[:12] not in listing
    # Nor in the audit log.
    assert not AuditEvent.objects.filter(parameters__icontains=token[:12]).exists()
    assert AuditEvent.objects.filter(action="remote_registry.add", outcome="success").count() == 1
    # Another user neither lists it nor reaches it, and it reads exactly as a missing one.
    stranger = page(outsider)
    assert "prod" not in stranger.get(reverse("explorer:remote_registries")).content.decode().split("<h2>Your")[1]
    assert stranger.get(reverse("explorer:remote_models", args=["prod"])).status_code == 404
    assert stranger.get(reverse("explorer:remote_models", args=["nope"])).status_code == 404
    assert stranger.post(reverse("explorer:remote_registry_remove", args=["prod"])).status_code == 404
    with pytest.raises(NotFound) as hidden:
        remote_registry_get(actor=outsider, name="prod")
    with pytest.raises(NotFound) as missing:
        remote_registry_get(actor=outsider, name="nope")
    assert hidden.value.message.replace("prod", "X") == missing.value.message.replace("nope", "X")
    # The same name is the outsider's own to use.
    assert add(outsider, live_server.url, "another-token").status_code == 302
    assert RemoteRegistry.objects.count() == 2


def test_the_owner_removes_their_remote(owner, live_server):
    add(owner, live_server.url, "secret-token-1")
    response = page(owner).post(reverse("explorer:remote_registry_remove", args=["prod"]))
    assert response.status_code == 302 and not RemoteRegistry.objects.exists()
    assert page(owner).get(reverse("explorer:remote_registry_remove", args=["prod"])).status_code == 405


@pytest.mark.parametrize("url, message", [
    ("ftp://prod.example.com", "https://"), ("javascript:alert(1)", "https://"), ("prod.example.com", "https://"),
    ("https://user:pw@prod.example.com", "token field"), ("https://prod.example.com/?x=1", "query"),
    ("https://", "host"), ("https://prod.example.com:99999", "port"), ("https://prod example.com", "spaces"),
])
def test_only_plain_http_and_https_deployment_urls_are_accepted(owner, url, message):
    response = add(owner, url, "secret-token-1")
    assert response.status_code == 400 and message in response.content.decode()
    assert not RemoteRegistry.objects.exists()


@pytest.mark.parametrize("url, host", [
    ("http://10.1.2.3", "10.1.2.3"), ("http://169.254.169.254/latest", "169.254.169.254"),
    ("http://[::ffff:127.0.0.1]:8080", "::ffff:127.0.0.1"), ("http://192.168.0.10:5000", "192.168.0.10"),
    ("http://127.0.0.2", "127.0.0.2"),
])
def test_private_loopback_and_link_local_remotes_are_refused_unless_allowed(owner, url, host, settings):
    response = add(owner, url, "secret-token-1")
    assert response.status_code == 400 and "REMOTE_REGISTRY_ALLOWED_HOSTS" in response.content.decode()
    assert not RemoteRegistry.objects.exists()
    settings.REMOTE_REGISTRY_ALLOWED_HOSTS = [host]
    assert add(owner, url, "secret-token-1").status_code == 302


def test_a_remote_whose_host_is_no_longer_allowed_is_refused_on_every_call(owner, token_for, live_server, settings,
                                                                           remote_version):
    add(owner, live_server.url, token_for(owner))
    settings.REMOTE_REGISTRY_ALLOWED_HOSTS = []
    response = page(owner).get(reverse("explorer:remote_models", args=["prod"]))
    assert response.status_code == 200 and "REMOTE_REGISTRY_ALLOWED_HOSTS" in response.content.decode()
    assert REMOTE_MODEL not in response.content.decode()


def test_the_signed_urls_of_an_import_are_checked_like_the_remote(owner, token_for, live_server, settings,
                                                                   remote_version):
    # The remote is allowed by its IP literal; the signed URLs it answers with name the same server as
    # "localhost" (its Host header), which is not allowed: the import fails with the reason, nothing is fetched.
    settings.REMOTE_REGISTRY_ALLOWED_HOSTS = ["127.0.0.1"]
    remote_registry_add(actor=owner, name="prod", base_url=live_server.url.replace("localhost", "127.0.0.1"),
                        secret=token_for(owner))
    mv = remote_version_import(actor=owner, registry_name="prod", model_name=REMOTE_MODEL, version=1,
                               destination_name="prod.ml_team.imported", create_destination=True)
    job = Job.objects.get(model_version=mv)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr("registry.remote_client.RemoteClient._get", _signed_uri_on("localhost"))
        assert execute(job.pk) == Job.State.FAILED
    job.refresh_from_db()
    mv.refresh_from_db()
    assert "The signed URL for" in job.error and "REMOTE_REGISTRY_ALLOWED_HOSTS" in job.error
    assert mv.status == VersionStatus.FAILED_REGISTRATION


def _signed_uri_on(host: str):
    """RemoteClient._get, except that signed URLs name `host` instead of the address the client called."""
    from registry.remote_client import RemoteClient

    original = RemoteClient._get

    def get(self, path, params=None):
        body = original(self, path, params)
        if path == "model-versions/get-signed-download-uri":
            body["signed_uri"] = body["signed_uri"].replace("127.0.0.1", host)
        return body

    return get


@pytest.mark.parametrize("name", ["", "has space", "a/b", "-x", "x" * 65])
def test_bad_names_and_duplicates_are_refused(owner, name):
    with pytest.raises(InvalidParameter):
        remote_registry_add(actor=owner, name=name, base_url="https://prod.example.com", secret="t")
    remote_registry_add(actor=owner, name="prod", base_url="https://prod.example.com", secret="t")
    response = add(owner, "https://other.example.com", "t")
    assert response.status_code == 400 and "already have a remote registry named" in response.content.decode()


# ---- browsing --------------------------------------------------------------------------------------------------

def test_browse_a_remote_model_and_version_read_only(owner, token_for, live_server, remote_version):
    add(owner, live_server.url, token_for(owner))
    client = page(owner)
    models = client.get(reverse("explorer:remote_models", args=["prod"]))
    html = models.content.decode()
    assert models.status_code == 200 and "Remote registry prod" in html and REMOTE_MODEL in html
    assert REMOTE_MODEL not in client.get(reverse("explorer:remote_models", args=["prod"]), {"q": "nothing"}
                                          ).content.decode().split("</form>")[-1]
    model = client.get(reverse("explorer:remote_model", args=["prod", REMOTE_MODEL])).content.decode()
    assert "Version 1" in model and "READY" in model
    version = client.get(reverse("explorer:remote_version", args=["prod", REMOTE_MODEL, 1]))
    html = version.content.decode()
    assert version.status_code == 200
    assert "learning_rate" in html and "accuracy" in html  # the remote run's params and metrics
    assert "<code>x</code>" in html  # the signature, read from the remote version's MLmodel
    assert "task" in html and "classification" in html  # its tags
    assert "Start import" in html and "Compare with local" in html
    missing = client.get(reverse("explorer:remote_version", args=["prod", REMOTE_MODEL, 9]))
    assert missing.status_code == 404 and "RESOURCE_DOES_NOT_EXIST" in missing.content.decode()


def test_a_remote_model_the_token_may_not_read_reads_as_missing(owner, outsider, token_for, live_server,
                                                                remote_version):
    add(outsider, live_server.url, token_for(outsider))  # the outsider's token: nothing of prod.ml_team is theirs
    client = page(outsider)
    assert REMOTE_MODEL not in client.get(reverse("explorer:remote_models", args=["prod"])).content.decode()
    hidden = client.get(reverse("explorer:remote_model", args=["prod", REMOTE_MODEL]))
    missing = client.get(reverse("explorer:remote_model", args=["prod", "prod.ml_team.nope"]))
    assert hidden.status_code == missing.status_code == 404


def test_a_remote_that_is_down_or_refuses_the_token_is_a_message_not_an_error_page(owner, live_server):
    add(owner, f"http://127.0.0.1:{closed_port()}", "secret-token-1", name="down")
    add(owner, live_server.url, "not-a-valid-token", name="refusing")
    client = page(owner)
    down = client.get(reverse("explorer:remote_models", args=["down"]))
    assert down.status_code == 200 and "cannot be reached" in down.content.decode()
    refused = client.get(reverse("explorer:remote_models", args=["refusing"]))
    assert refused.status_code == 200 and "refused the token" in refused.content.decode()
    for name in ("down", "refusing"):
        for url in (reverse("explorer:remote_model", args=[name, REMOTE_MODEL]),
                    reverse("explorer:remote_version", args=[name, REMOTE_MODEL, 1]),
                    reverse("explorer:remote_compare", args=[name, REMOTE_MODEL, 1])
                    + "?local=prod.ml_team.x&local_version=1"):
            assert client.get(url).status_code < 500, url
        response = client.post(reverse("explorer:remote_import", args=[name, REMOTE_MODEL, 1]),
                               {"destination": "prod.ml_team.copy", "create_destination": "on"})
        assert response.status_code == 400 and "notice danger" in response.content.decode()
    assert not Job.objects.filter(kind=Job.Kind.IMPORT).exists()


# ---- compare ---------------------------------------------------------------------------------------------------

def test_compare_a_local_version_with_a_remote_one(owner, token_for, live_server, remote_version):
    from registry.models import Param, Run
    from registry.services.tags import version_tag_set

    local, _ = ready_version(owner, "prod.ml_team.local_fraud", files=1, size=100)
    Param.objects.create(run=Run.objects.get(run_id=local.run_id), key="learning_rate", value="0.2")
    version_tag_set(actor=owner, name="prod.ml_team.local_fraud", version=1, key="task", value="regression")
    add(owner, live_server.url, token_for(owner))
    url = reverse("explorer:remote_compare", args=["prod", REMOTE_MODEL, 1])
    client = page(owner)
    choosing = client.get(url)
    assert choosing.status_code == 200 and "Name the local version" in choosing.content.decode()
    response = client.get(url, {"local": "prod.ml_team.local_fraud", "local_version": "1"})
    html = response.content.decode()
    assert response.status_code == 200
    assert "Local: prod.ml_team.local_fraud v1" in html and f"prod: {REMOTE_MODEL} v1" in html
    assert "learning_rate" in html and "0.2" in html and "0.1" in html
    assert "accuracy" in html and "regression" in html and "classification" in html
    assert 'class="differs"' in html
    diff = client.get(url, {"local": "prod.ml_team.local_fraud", "local_version": "1", "diff": "1"}).content.decode()
    assert "equal row" in diff  # the signatures are the same: hidden under differences only
    # A local version the user may not read is a 404, as a missing one.
    assert client.get(url, {"local": "prod.ml_team.nope", "local_version": "1"}).status_code == 404
    assert client.get(url, {"local": "prod.ml_team.local_fraud", "local_version": "x"}).status_code in (400, 404)


# ---- import ----------------------------------------------------------------------------------------------------

def test_import_a_remote_version_as_a_job_recording_its_source(owner, token_for, live_server, remote_version):
    source, digests = remote_version
    add(owner, live_server.url, token_for(owner))
    client = page(owner)
    hint = client.get(reverse("explorer:remote_import", args=["prod", REMOTE_MODEL, 1]),
                      {"hint": "1", "destination": "prod.ml_team.imported", "create_destination": "on"})
    assert "Creates prod.ml_team.imported" in hint.content.decode() and "the import" in hint.content.decode()
    response = client.post(reverse("explorer:remote_import", args=["prod", REMOTE_MODEL, 1]),
                           {"destination": "prod.ml_team.imported", "create_destination": "on"})
    assert response.status_code == 302
    assert response["Location"] == reverse("explorer:version", args=["prod.ml_team.imported", 1])
    mv = ModelVersion.objects.get(model__name="imported")
    assert mv.status == VersionStatus.PENDING_REGISTRATION
    assert mv.source == f"remote:prod/{REMOTE_MODEL}/1"
    job = Job.objects.get(model_version=mv)
    assert job.kind == Job.Kind.IMPORT and job.params["remote_url"] == live_server.url
    pending = client.get(response["Location"]).content.decode()
    assert f"remote:prod/{REMOTE_MODEL}/1" in pending
    assert execute(job.pk) == Job.State.SUCCEEDED
    mv.refresh_from_db()
    job.refresh_from_db()
    assert mv.status == VersionStatus.READY and mv.signature["inputs"] == [{"type": "double", "name": "x"}]
    assert tree_digests(mv.managed_location.split(":/", 1)[1]) == digests
    assert (job.files_done, job.files_total) == (3, 3) and job.bytes_done == job.bytes_total > 0
    assert "checksums verified" in job.message
    assert dict(mv.tags.values_list("key", "value")) == {"task": "classification"}
    ready = client.get(response["Location"]).content.decode()
    assert "Imported from" in ready and "on remote registry <strong>prod</strong>" in ready
    assert f'href="{reverse("explorer:remote_version", args=["prod", REMOTE_MODEL, 1])}"' in ready
    jobs_page = client.get(reverse("explorer:jobs")).content.decode()
    assert "import" in jobs_page and "prod.ml_team.imported v1" in jobs_page
    # A second delivery of the finished job does nothing.
    assert execute(job.pk) == "noop"
    assert AuditEvent.objects.filter(action="model_version.registration_ready", object_id=str(mv.pk)).count() == 1
    # The MLflow API shows the source as recorded.
    got = client.get("/api/2.0/mlflow/model-versions/get", {"name": "prod.ml_team.imported", "version": "1"})
    assert got.json()["model_version"]["source"] == f"remote:prod/{REMOTE_MODEL}/1"


def test_an_import_is_refused_where_the_user_may_not_add_versions(owner, reader, token_for, live_server,
                                                                   remote_version):
    registry = remote_registry_add(actor=reader, name="prod", base_url=live_server.url, secret=token_for(owner))
    assert registry.owner == reader
    response = page(reader).post(reverse("explorer:remote_import", args=["prod", REMOTE_MODEL, 1]),
                                 {"destination": "prod.ml_team.theirs", "create_destination": "on"})
    assert response.status_code == 400 and "CREATE MODEL" in response.content.decode()
    with pytest.raises(Exception):
        remote_version_import(actor=reader, registry_name="prod", model_name=REMOTE_MODEL, version=1,
                              destination_name=REMOTE_MODEL)
    assert not Job.objects.filter(kind=Job.Kind.IMPORT).exists()
    assert ModelVersion.objects.count() == 1


def test_the_remote_sends_each_files_checksum_with_a_signed_download(owner, api, remote_version):
    client = api(owner)
    uri = client.get("/api/2.0/mlflow/model-versions/get-signed-download-uri",
                     {"name": REMOTE_MODEL, "version": "1", "path": "MLmodel"}).json()["signed_uri"]
    response = Client().get(uri.replace("http://testserver", ""))
    assert response["X-Checksum-Sha256"] == remote_version[1]["MLmodel"]


def test_a_remote_source_cannot_be_registered_through_the_mlflow_api(owner, api, governed):
    from registry.services.models import registered_model_create

    registered_model_create(actor=owner, name="prod.ml_team.sneaky")
    response = api(owner).post("/api/2.0/mlflow/model-versions/create",
                               {"name": "prod.ml_team.sneaky", "source": f"remote:prod/{REMOTE_MODEL}/1"},
                               format="json")
    assert response.status_code == 400 and response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert not ModelVersion.objects.exists()
