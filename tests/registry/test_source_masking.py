"""A version copied from a model the reader cannot see, or registered from a run it cannot read, never names
that model or run: not in the MLflow API, the Unity Catalog API, the jobs API, or any page (About panel, the
model's version list, compare, history). Those who may read the source see it whole. One query decides a list."""
from __future__ import annotations

import json
import uuid

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from registry.models import Grant, Job, ModelVersion, Privilege, Run
from registry.services.catalogs import catalog_create, schema_create
from registry.services.copy import model_version_copy
from registry.services.grants import grant_add
from registry.services.tracking import experiment_create
from registry.source_visibility import RESTRICTED, attach_provenance, masked_source, version_provenance
from tests.registry.factories import make_model, make_version

pytestmark = pytest.mark.django_db

SOURCE = "staging.ml_team.iris"
COPY = "prod.ml_team.iris"


def _ready(mv: ModelVersion) -> ModelVersion:
    ModelVersion.objects.filter(pk=mv.pk).update(status="READY")
    mv.refresh_from_db()
    return mv


@pytest.fixture
def promoted(admin, owner, reader, governed):
    """`owner` trains in a private experiment, registers staging.ml_team.iris v1 and copies it to
    prod.ml_team.iris v1; `reader` may load prod.ml_team.iris and nothing in staging or the experiment."""
    catalog = catalog_create(actor=admin, name="staging")
    schema = schema_create(actor=admin, catalog_name="staging", name="ml_team")
    for securable, privilege in ((catalog, "USE CATALOG"), (schema, "USE SCHEMA"), (schema, "CREATE MODEL")):
        grant_add(actor=admin, securable=securable, principal=owner, privilege=privilege)
    experiment = experiment_create(actor=owner, name="iris-private")
    run_id = uuid.uuid4().hex
    Run.objects.create(run_id=run_id, experiment=experiment, name="train-secret",
                       artifact_uri=f"mlflow-artifacts:/{experiment.pk}/{run_id}/artifacts")
    make_model(owner, SOURCE)
    source = _ready(make_version(owner, SOURCE, source=f"runs:/{run_id}/model",
                                 run_link=f"https://example.com/#/runs/{run_id}"))
    make_model(owner, COPY)
    copy = _ready(model_version_copy(actor=owner, source_name=SOURCE, source_version=1, destination_name=COPY))
    Grant.objects.create(privilege=Privilege.EXECUTE, user=reader, model=copy.model)
    return {"source": source, "copy": copy, "run_id": run_id, "experiment": experiment}


def _secrets(world) -> tuple[str, ...]:
    return ("staging", world["run_id"], "train-secret", "iris-private")


def _assert_hidden(text: str, world) -> None:
    for secret in _secrets(world):
        assert secret not in text, f"{secret!r} leaked"


def _browser(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


# ---- the selector -------------------------------------------------------------------------------------------

def test_reader_gets_masked_source_run_and_no_copied_from(promoted, reader):
    shown = version_provenance(actor=reader, versions=[promoted["copy"]])[promoted["copy"].pk]
    assert shown.source == "models:/<restricted>" and not shown.source_visible
    assert shown.run_id == "" and shown.run_link == "" and shown.copied_from_id is None


def test_who_may_read_the_source_sees_it_whole(promoted, owner, admin):
    for actor in (owner, admin):
        shown = version_provenance(actor=actor, versions=[promoted["copy"]])[promoted["copy"].pk]
        assert shown.source == f"models:/{SOURCE}/1" and shown.source_visible
        assert shown.run_id == promoted["run_id"] and shown.copied_from_id == promoted["source"].pk
        assert shown.run_link.endswith(promoted["run_id"])


def test_reading_the_experiment_shows_the_run_but_not_the_hidden_model(promoted, reader):
    Grant.objects.create(privilege=Privilege.EXECUTE, user=reader, experiment=promoted["experiment"])
    shown = version_provenance(actor=reader, versions=[promoted["copy"]])[promoted["copy"].pk]
    assert shown.run_id == promoted["run_id"] and shown.source == "models:/<restricted>"


def test_masked_values_keep_only_the_scheme():
    assert masked_source("models:/staging.ml_team.iris/4") == f"models:/{RESTRICTED}"
    assert masked_source("runs:/abc/model") == f"runs:/{RESTRICTED}"
    assert masked_source("mlflow-artifacts:/7/abc/artifacts") == f"mlflow-artifacts:/{RESTRICTED}"
    assert masked_source("s3://bucket/x") == RESTRICTED


def test_a_deleted_source_stays_masked_for_the_reader_and_named_for_its_owner(promoted, owner, reader):
    ModelVersion.objects.filter(pk=promoted["source"].pk).delete()
    copy = ModelVersion.objects.get(pk=promoted["copy"].pk)
    assert copy.copied_from_id is None and Job.objects.filter(model_version=copy).exists()
    assert version_provenance(actor=reader, versions=[copy])[copy.pk].source == "models:/<restricted>"
    assert version_provenance(actor=owner, versions=[copy])[copy.pk].source == f"models:/{SOURCE}/1"


def test_one_query_for_a_whole_list(promoted, owner, reader):
    for n in range(2, 8):
        copy = model_version_copy(actor=owner, source_name=SOURCE, source_version=1, destination_name=COPY)
        assert copy.version == n
    versions = list(ModelVersion.objects.select_related("model__schema__catalog"))
    assert len(versions) == 8
    with CaptureQueriesContext(connection) as one:
        attach_provenance(actor=reader, versions=versions[:1])
    with CaptureQueriesContext(connection) as many:
        attach_provenance(actor=reader, versions=versions)
    assert len(one) == len(many) == 1
    assert {v.provenance.source for v in versions if v.model.full_name == COPY} == {"models:/<restricted>"}


def test_serializing_without_provenance_fails_loudly(promoted):
    from registry.api.registry_serializers import model_version_json

    with pytest.raises(RuntimeError, match="attach_provenance"):
        model_version_json(ModelVersion.objects.get(pk=promoted["copy"].pk))


# ---- every adapter ------------------------------------------------------------------------------------------

def test_mlflow_api_masks_the_source_for_the_reader(promoted, reader, owner, api):
    hidden = api(reader).get("/api/2.0/mlflow/model-versions/get", {"name": COPY, "version": "1"})
    assert hidden.status_code == 200, hidden.content
    body = hidden.json()["model_version"]
    assert body["source"] == "models:/<restricted>" and body["run_id"] == "" and body["run_link"] == ""
    _assert_hidden(hidden.content.decode(), promoted)
    for response in (
        api(reader).get("/api/2.0/mlflow/model-versions/search", {"filter": f"name='{COPY}'"}),
        api(reader).get("/api/2.0/mlflow/registered-models/get", {"name": COPY}),
        api(reader).get("/api/2.0/mlflow/registered-models/search"),
        api(reader).post("/api/2.0/mlflow/registered-models/get-latest-versions", {"name": COPY}, format="json"),
    ):
        assert response.status_code == 200, response.content
        assert "<restricted>" in response.content.decode()
        _assert_hidden(response.content.decode(), promoted)
    shown = api(owner).get("/api/2.0/mlflow/model-versions/get", {"name": COPY, "version": "1"}).json()
    assert shown["model_version"]["source"] == f"models:/{SOURCE}/1"
    assert shown["model_version"]["run_id"] == promoted["run_id"]


def test_unity_catalog_api_masks_the_source_for_the_reader(promoted, reader, owner, api):
    base = f"/api/2.1/unity-catalog/models/{COPY}/versions"
    for response in (api(reader).get(f"{base}/1"), api(reader).get(base)):
        assert response.status_code == 200, response.content
        assert "models:/<restricted>" in response.content.decode()
        _assert_hidden(response.content.decode(), promoted)
    assert api(owner).get(f"{base}/1").json()["source"] == f"models:/{SOURCE}/1"


def test_jobs_api_does_not_name_the_hidden_source(promoted, reader, owner, api):
    listed = api(reader).get("/api/2.0/explorer/jobs", {"model": COPY})
    assert listed.status_code == 200 and listed.json()["jobs"], listed.content
    _assert_hidden(listed.content.decode(), promoted)
    job = listed.json()["jobs"][0]
    assert job["params"]["source_version"] == RESTRICTED
    detail = api(reader).get(f"/api/2.0/explorer/jobs/{job['id']}")
    _assert_hidden(detail.content.decode(), promoted)
    mine = api(owner).get(f"/api/2.0/explorer/jobs/{job['id']}").json()
    assert mine["params"]["source_version"] == {"name": SOURCE, "version": 1}


def test_pages_do_not_name_the_hidden_source(promoted, reader, owner):
    reader_pages = _browser(reader)
    model_versions = model_version_copy(actor=owner, source_name=SOURCE, source_version=1, destination_name=COPY)
    assert model_versions.version == 2
    for url in (f"/models/{COPY}/versions/1/", f"/models/{COPY}/", f"/models/{COPY}/compare/?versions=1&versions=2",
                f"/models/{COPY}/versions/1/history/", f"/models/{COPY}/history/"):
        response = reader_pages.get(url)
        assert response.status_code == 200, url
        _assert_hidden(response.content.decode(), promoted)
    about = reader_pages.get(f"/models/{COPY}/versions/1/").content.decode()
    assert "models:/&lt;restricted&gt;" in about and "Copied from" not in about
    owners = _browser(owner).get(f"/models/{COPY}/versions/1/").content.decode()
    assert f"models:/{SOURCE}/1" in owners and f'href="/models/{SOURCE}/versions/1/"' in owners
    assert promoted["run_id"] in _browser(owner).get(f"/models/{COPY}/versions/1/history/").content.decode()


def test_the_masked_source_sent_back_is_a_clean_400(promoted, owner, api):
    response = api(owner).post("/api/2.0/mlflow/model-versions/create",
                               {"name": COPY, "source": "models:/<restricted>"}, format="json")
    assert response.status_code == 400 and response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert json.loads(response.content)["message"]


# ---- names in a shared namespace --------------------------------------------------------------------------
# Experiment names and workspace-registry model names are unique across the deployment, so creating (or renaming
# to) a name someone else holds must be refused even when the caller may not see the holder: that a hidden object
# has the name is the one thing such an answer reveals. It says nothing else, and reads exactly as for a name the
# caller may see.

def _refusal(response, name: str) -> tuple:
    body = response.json()
    return response.status_code, sorted(body), body["error_code"], body["message"].replace(name, "<name>")


def _assert_same_refusal(hidden_response, hidden_name, visible_response, visible_name, *details) -> None:
    assert hidden_response.status_code == 400, hidden_response.content
    assert hidden_response.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
    assert _refusal(hidden_response, hidden_name) == _refusal(visible_response, visible_name)
    for detail in details:
        assert str(detail) not in hidden_response.content.decode(), detail


def test_already_exists_for_a_hidden_experiment_says_nothing_more(owner, reader, api):
    from registry.models import Experiment

    mlflow = "/api/2.0/mlflow/experiments"
    hidden = api(owner).post(f"{mlflow}/create", {"name": "Secret Exp"}, format="json").json()["experiment_id"]
    secret = Experiment.objects.get(pk=hidden)
    mine = api(reader).post(f"{mlflow}/create", {"name": "mine"}, format="json").json()["experiment_id"]
    other = api(reader).post(f"{mlflow}/create", {"name": "other"}, format="json").json()["experiment_id"]
    details = ("owner", "experiment_id", secret.creation_time, f'"{hidden}"', f"={hidden}")
    _assert_same_refusal(api(reader).post(f"{mlflow}/create", {"name": "Secret Exp"}, format="json"), "Secret Exp",
                         api(reader).post(f"{mlflow}/create", {"name": "mine"}, format="json"), "mine", *details)
    _assert_same_refusal(
        api(reader).post(f"{mlflow}/update", {"experiment_id": other, "new_name": "Secret Exp"}, format="json"),
        "Secret Exp",
        api(reader).post(f"{mlflow}/update", {"experiment_id": other, "new_name": "mine"}, format="json"), "mine",
        *details)
    assert mine != hidden


def test_already_exists_for_a_hidden_workspace_model_says_nothing_more(owner, reader, api):
    from registry.models import RegisteredModel

    registry = "/api/2.0/mlflow/registered-models"
    assert api(owner).post(f"{registry}/create", {"name": "AliceWs"}, format="json").status_code == 200
    secret = RegisteredModel.objects.get(name="AliceWs")
    for name in ("MineWs", "OtherWs"):
        assert api(reader).post(f"{registry}/create", {"name": name}, format="json").status_code == 200
    details = ("owner", str(secret.uid), secret.uid.hex, str(int(secret.created_at.timestamp() * 1000)))
    _assert_same_refusal(api(reader).post(f"{registry}/create", {"name": "AliceWs"}, format="json"), "AliceWs",
                         api(reader).post(f"{registry}/create", {"name": "MineWs"}, format="json"), "MineWs", *details)
    _assert_same_refusal(
        api(reader).post(f"{registry}/rename", {"name": "OtherWs", "new_name": "AliceWs"}, format="json"), "AliceWs",
        api(reader).post(f"{registry}/rename", {"name": "OtherWs", "new_name": "MineWs"}, format="json"), "MineWs",
        *details)


def test_already_exists_for_a_hidden_three_level_model_says_nothing_more(admin, owner, reader, governed, api):
    grant_add(actor=admin, securable=governed, principal=reader, privilege="CREATE MODEL")
    make_model(owner, "prod.ml_team.secret")  # the reader has no EXECUTE on it
    make_model(reader, "prod.ml_team.mine")
    uc = "/api/2.1/unity-catalog/models"

    def create(name):
        return api(reader).post(uc, {"catalog_name": "prod", "schema_name": "ml_team", "name": name}, format="json")

    hidden, visible = create("secret"), create("mine")
    assert hidden.status_code == visible.status_code and hidden.status_code >= 400
    assert _refusal(hidden, "prod.ml_team.secret") == _refusal(visible, "prod.ml_team.mine")
    assert "owner" not in hidden.content.decode()


# ---- the unmodified mlflow client keeps working for a reader who sees a masked source ---------------------

@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_mlflow_client_loads_and_copies_a_version_whose_source_it_may_not_see(live_server, celery_worker,
                                                                              monkeypatch, tmp_path):
    import mlflow
    from django.contrib.auth import get_user_model
    from mlflow import MlflowClient
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from registry.models import Experiment
    from registry.services.tokens import token_create
    from tests.conftest import wait_for

    Experiment.ensure_default()
    User = get_user_model()
    admin = User.objects.create_superuser("root", "root@example.com", "pw-root")
    alice, bob = (User.objects.create_user(n, f"{n}@example.com", f"pw-{n}") for n in ("alice", "bob"))
    for name in ("prod", "staging"):
        catalog = catalog_create(actor=admin, name=name)
        schema = schema_create(actor=admin, catalog_name=name, name="ml_team")
        for privilege, securable in (("USE CATALOG", catalog), ("USE SCHEMA", schema), ("CREATE MODEL", schema)):
            grant_add(actor=admin, securable=securable, principal=alice, privilege=privilege)
            if name == "prod":
                grant_add(actor=admin, securable=securable, principal=bob, privilege=privilege)
    tokens = {user.username: token_create(actor=user, user=user, name="e2e")[1] for user in (alice, bob)}
    for key, value in (("MLFLOW_TRACKING_URI", live_server.url), ("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0"),
                       ("MLFLOW_HTTP_REQUEST_TIMEOUT", "60"), ("MLFLOW_TRACKING_TOKEN", tokens["alice"])):
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    monkeypatch.chdir(tmp_path)
    mlflow.set_tracking_uri(live_server.url)
    mlflow.set_registry_uri(live_server.url)
    client = MlflowClient()

    def ready(name, version):
        return wait_for(lambda: client.get_model_version(name, version).status == "READY", timeout=90,
                        message=f"{name} v{version} READY")

    # Alice trains in her own (private) experiment, registers in staging and promotes to prod.
    data = load_iris(as_frame=True)
    model = LogisticRegression(max_iter=300).fit(data.data, data.target)
    mlflow.set_experiment("alice-private")
    with mlflow.start_run() as run:
        mlflow.sklearn.log_model(model, name="model", input_example=data.data.iloc[:3],
                                 registered_model_name=SOURCE)
    ready(SOURCE, "1")
    client.copy_model_version(f"models:/{SOURCE}/1", COPY)
    ready(COPY, "1")
    grant_add(actor=admin, securable=ModelVersion.objects.get(model__schema__catalog__name="prod").model,
              principal=bob, privilege="EXECUTE")

    # Bob may load prod.ml_team.iris, not staging nor Alice's experiment.
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", tokens["bob"])
    seen = client.get_model_version(COPY, "1")
    assert seen.source == "models:/<restricted>" and not seen.run_id and not seen.run_link
    assert "staging" not in str(client.get_registered_model(COPY).latest_versions)
    predictions = mlflow.pyfunc.load_model(f"models:/{COPY}/1").predict(data.data.iloc[:5])
    assert len(predictions) == 5
    # copy_model_version builds the new source from the copied version's name, not from its (masked) source.
    copied = client.copy_model_version(f"models:/{COPY}/1", "prod.ml_team.bobs_iris")
    ready("prod.ml_team.bobs_iris", copied.version)
    mine = client.get_model_version("prod.ml_team.bobs_iris", copied.version)
    assert mine.source == f"models:/{COPY}/1"
    assert ModelVersion.objects.get(model__name="bobs_iris").run_id == run.info.run_id  # kept by the server
