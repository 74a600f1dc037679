"""Legacy model serving over REST: who may enable, disable and change settings (owner, MANAGE), who may see the
status and invoke (EXECUTE), what an outsider sees (404 everywhere), the status's shape, the resolution of
`<name>/<version|stage|alias>` on every request, authentication by Bearer and Basic `token:` tokens, and the
protocol refusals (413, 411, 400, 415) made before a payload reaches a model process.

Invocations are answered by a real MLflow scoring server (uvicorn) standing in for a supervisor's pool: this
module tests the web tier; tests/serving/test_legacy_e2e.py runs the real supervisor."""
from __future__ import annotations

import base64
import gzip
import io
import json

import numpy as np
import pytest
from django.db import transaction

from registry.models import AuditEvent, ModelAlias, ServedModel, ServingDeployment, ServingEvent
from registry.serving.reconcile import reconcile_all
from registry.services.grants import grant_add
from registry.services.versions import model_version_mark_ready, model_version_transition_stage
from tests.registry.factories import make_model, make_version
from tests.serving.legacy_fixtures import ScoringServer, save_iris

API = "/api/2.0/explorer/serving/models"
UC = "prod.ml_team.iris"
WS = "iris ws"  # workspace names may hold spaces
MB = 1024 * 1024
SIGNATURE = {"inputs": [{"type": "double", "name": n, "required": True} for n in
                        ("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)")],
             "outputs": [{"type": "long", "required": True}], "params": None}


# Fixtures ------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def iris_server(tmp_path_factory):
    """One scoring server for the module (starting one takes seconds)."""
    root = tmp_path_factory.mktemp("iris")
    model, X = save_iris(root / "model")
    server = ScoringServer(root / "model", root / "server.log")
    try:
        server.wait_ready()
        server.model, server.X = model, X
        yield server
    finally:
        server.stop()


@pytest.fixture
def manager(make_user):
    return make_user("manager")


@pytest.fixture
def models(governed, admin, owner, reader, manager):
    """`prod.ml_team.iris` and the workspace model `iris ws`, each with two READY versions, owned by `owner`;
    `reader` holds EXECUTE and `manager` MANAGE on both (plus the USE privileges `governed` gives `reader`)."""
    for user in (manager,):
        grant_add(actor=admin, securable=governed.catalog, principal=user, privilege="USE CATALOG")
        grant_add(actor=admin, securable=governed, principal=user, privilege="USE SCHEMA")
    found = {}
    for name in (UC, WS):
        model = make_model(owner, name)
        for _ in range(2):
            mv = make_version(owner, name)
            if model.is_unity_catalog:
                model_version_mark_ready(version_id=mv.pk, signature=SIGNATURE)
        grant_add(actor=owner, securable=model, principal=reader, privilege="EXECUTE")
        grant_add(actor=owner, securable=model, principal=manager, privilege="MANAGE")
        found[name] = model
    return found


def serve(model, *, address: str, versions=(1, 2)) -> ServedModel:
    """Serving enabled with a READY deployment per version at `address`, as a supervisor leaves it."""
    served, _ = ServedModel.objects.update_or_create(model=model, defaults={"enabled": True, "state": "READY"})
    for number in versions:
        ServingDeployment.objects.create(served_model=served, version=model.versions.get(version=number),
                                         generation=served.generation, state="READY", address=address)
    return served


def invoke(client, name: str, reference, payload=None, *, raw: bytes | None = None,
           content_type="application/json", **extra):
    from urllib.parse import quote

    body = raw if raw is not None else json.dumps(payload).encode()
    return client.generic("POST", f"/model/{quote(name, safe='')}/{reference}/invocations", body,
                          content_type=content_type, **extra)


def split(X) -> dict:
    return {"dataframe_split": {"columns": list(X.columns), "data": X.values.tolist()}}


# Enable, disable, settings: owner or MANAGE ------------------------------------------------------------------

@pytest.mark.parametrize("who", ["owner", "manager", "admin"])
@pytest.mark.parametrize("name", [UC, WS])
def test_owner_and_manage_may_enable_and_disable(api, models, who, name, request, django_capture_on_commit_callbacks):
    client = api(request.getfixturevalue(who))
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(f"{API}/enable", {"registered_model_name": name}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "PENDING"
    assert reconcile_all in callbacks  # the deployments move at once, not at the next supervisor pass
    served = ServedModel.objects.get(model=models[name])
    assert served.enabled and served.state == "PENDING"
    assert list(served.events.values_list("kind", flat=True)) == ["enabled"]
    assert AuditEvent.objects.filter(action="serving.enable", outcome="success", object_name=name).exists()

    response = client.post(f"{API}/disable", {"registered_model_name": name}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"state": "DISABLED", "message": "", "versions": []}
    served.refresh_from_db()
    assert not served.enabled and served.state == "DISABLED"
    assert sorted(served.events.values_list("kind", flat=True)) == ["disabled", "enabled"]


@pytest.mark.parametrize("name", [UC, WS])
def test_reader_with_execute_may_see_status_but_not_enable(api, models, reader, name):
    client = api(reader)
    response = client.post(f"{API}/enable", {"registered_model_name": name}, format="json")
    assert response.status_code == 403
    assert response.json()["error_code"] == "PERMISSION_DENIED"
    assert not ServedModel.objects.filter(model=models[name], enabled=True).exists()
    assert AuditEvent.objects.filter(action="serving.enable", outcome="denied").exists()
    assert client.get(f"{API}/status", {"registered_model_name": name}).json()["state"] == "DISABLED"
    response = client.patch(f"{API}/settings", {"registered_model_name": name, "workers": 2}, format="json")
    assert response.status_code == 403


@pytest.mark.parametrize("name", [UC, WS])
def test_outsider_gets_not_found_everywhere(api, models, outsider, owner, iris_server, name):
    serve(models[name], address=iris_server.address)
    client = api(outsider)
    missing = api(outsider)
    for path, kind in (("enable", "post"), ("disable", "post"), ("status", "get"), ("settings", "patch")):
        response = getattr(client, kind)(f"{API}/{path}", {"registered_model_name": name},
                                         **({"format": "json"} if kind != "get" else {}))
        nothing = getattr(missing, kind)(f"{API}/{path}", {"registered_model_name": name + "_nope"},
                                         **({"format": "json"} if kind != "get" else {}))
        assert response.status_code == 404, (path, response.content)
        assert response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        # As for a model that does not exist: the same code, the message naming only what was asked for.
        assert response.json()["message"] == nothing.json()["message"].replace(name + "_nope", name)
    response = invoke(client, name, 1, split(iris_server.X.iloc[:2]))
    assert response.status_code == 404 and response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert ServedModel.objects.get(model=models[name]).enabled  # nothing changed


def test_settings_within_bounds_replace_the_pool(api, models, owner, django_capture_on_commit_callbacks):
    client = api(owner)
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.patch(f"{API}/settings", {"registered_model_name": UC, "workers": 3,
                                                    "memory_limit_mb": 1024, "tags": {"team": "ml"}}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"registered_model_name": UC, "workers": 3, "memory_limit_mb": 1024,
                               "tags": {"team": "ml"}}
    assert reconcile_all in callbacks
    served = ServedModel.objects.get(model=models[UC])
    assert served.generation == 2  # a new pool: the old one drains
    assert served.events.get().kind == ServingEvent.Kind.SETTINGS_CHANGED
    # Tags alone touch no pool.
    client.patch(f"{API}/settings", {"registered_model_name": UC, "tags": {"team": "ds"}}, format="json")
    served.refresh_from_db()
    assert served.generation == 2 and served.tags == {"team": "ds"}


@pytest.mark.parametrize("change", [{"workers": 0}, {"workers": 9}, {"workers": "two"}, {"workers": True},
                                    {"memory_limit_mb": 10}, {"memory_limit_mb": 10**9}, {"tags": ["a"]},
                                    {"tags": {"k" * 300: "v"}}, {"tags": {f"k{i}": "v" for i in range(51)}},
                                    {"tags": {"k": "v" * 5001}}])
def test_settings_out_of_bounds_are_refused(api, models, owner, change):
    response = api(owner).patch(f"{API}/settings", {"registered_model_name": UC, **change}, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert not ServedModel.objects.filter(model=models[UC]).exists()  # rolled back, not half-created


def test_enable_needs_a_model_name(api, owner):
    response = api(owner).post(f"{API}/enable", {}, format="json")
    assert response.status_code == 400 and response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


# Status -----------------------------------------------------------------------------------------------------

def test_status_lists_every_served_version_with_all_its_uris(api, models, owner, reader):
    ws = models[WS]
    model_version_transition_stage(actor=owner, name=WS, version=1, stage="Staging")
    model_version_transition_stage(actor=owner, name=WS, version=2, stage="Production")
    ModelAlias.objects.create(model=ws, alias="Champion", version=ws.versions.get(version=2))
    served = serve(ws, address="http://127.0.0.1:9", versions=(2,))
    ServingDeployment.objects.create(served_model=served, version=ws.versions.get(version=1), state="FAILED",
                                     message="scikit-learn 0.1 is recorded, 1.5 is installed")
    body = api(reader).get(f"{API}/status", {"registered_model_name": WS}).json()
    assert body == {"state": "READY", "message": "", "versions": [
        {"version": "1", "state": "FAILED", "message": "scikit-learn 0.1 is recorded, 1.5 is installed",
         "uris": ["/model/iris%20ws/1/invocations", "/model/iris%20ws/Staging/invocations"]},
        {"version": "2", "state": "READY", "message": "",
         "uris": ["/model/iris%20ws/2/invocations", "/model/iris%20ws/Production/invocations",
                  "/model/iris%20ws/Champion/invocations"]},
    ]}
    # Archived versions are not served: they leave the list (and their URIs with them).
    model_version_transition_stage(actor=owner, name=WS, version=1, stage="Archived")
    body = api(reader).get(f"{API}/status", {"registered_model_name": WS}).json()
    assert [v["version"] for v in body["versions"]] == ["2"]


def test_status_of_a_newly_enabled_model_shows_its_versions_pending(api, models, owner):
    body = api(owner).post(f"{API}/enable", {"registered_model_name": UC}, format="json").json()
    assert body["state"] == "PENDING"
    assert [(v["version"], v["state"], v["uris"]) for v in body["versions"]] == [
        ("1", "PENDING", ["/model/prod.ml_team.iris/1/invocations"]),
        ("2", "PENDING", ["/model/prod.ml_team.iris/2/invocations"])]


# Invocations: authentication and resolution --------------------------------------------------------------

def test_reader_invokes_with_bearer_and_basic_token(api, models, reader, token_for, iris_server):
    serve(models[UC], address=iris_server.address)
    X = iris_server.X.iloc[:10]
    expected = iris_server.model.predict(X).tolist()
    secret = token_for(reader)
    from rest_framework.test import APIClient

    for header in (f"Bearer {secret}", "Basic " + base64.b64encode(f"token:{secret}".encode()).decode(),
                   "Basic " + base64.b64encode(f"reader:{secret}".encode()).decode()):
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=header)
        response = invoke(client, UC, 1, split(X))
        assert response.status_code == 200, response.content
        assert response.json() == {"predictions": expected}
        assert response["X-Model-Version"] == "1"


@pytest.mark.parametrize("header", [None, "Bearer cex_wrong", "Basic " + base64.b64encode(b"token:cex_wrong").decode(),
                                    "Basic not-base64!"])
def test_invocation_without_a_valid_token_is_401(models, iris_server, header):
    from rest_framework.test import APIClient

    serve(models[UC], address=iris_server.address)
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = invoke(client, UC, 1, split(iris_server.X.iloc[:1]))
    assert response.status_code == 401
    assert response.json()["error_code"] == "UNAUTHENTICATED"


def test_browser_session_does_not_invoke(client, models, reader, iris_server):
    serve(models[UC], address=iris_server.address)
    client.force_login(reader)
    response = invoke(client, UC, 1, split(iris_server.X.iloc[:1]))
    assert response.status_code == 401


def test_alias_and_stage_moves_take_effect_on_the_next_request(api, models, owner, reader, iris_server):
    ws = models[WS]
    serve(ws, address=iris_server.address)
    client, X = api(reader), iris_server.X.iloc[:3]
    ModelAlias.objects.create(model=ws, alias="Champion", version=ws.versions.get(version=1))
    model_version_transition_stage(actor=owner, name=WS, version=1, stage="Production")
    assert invoke(client, WS, "Champion", split(X))["X-Model-Version"] == "1"
    assert invoke(client, WS, "Production", split(X))["X-Model-Version"] == "1"
    assert invoke(client, WS, "production", split(X))["X-Model-Version"] == "1"
    ModelAlias.objects.filter(model=ws, alias="Champion").update(version=ws.versions.get(version=2))
    model_version_transition_stage(actor=owner, name=WS, version=2, stage="Production")
    assert invoke(client, WS, "Champion", split(X))["X-Model-Version"] == "2"
    assert invoke(client, WS, "Production", split(X))["X-Model-Version"] == "2"
    # Version 1 was archived by the transition (the newest in a stage answers): its own URI is gone.
    model_version_transition_stage(actor=owner, name=WS, version=1, stage="Archived")
    response = invoke(client, WS, 1, split(X))
    assert response.status_code == 404 and "archived" in response.json()["message"]
    assert invoke(client, WS, "Staging", split(X)).status_code == 404


def test_three_level_models_have_no_stages(api, models, reader, iris_server):
    serve(models[UC], address=iris_server.address)
    response = invoke(api(reader), UC, "Production", split(iris_server.X.iloc[:1]))
    assert response.status_code == 404
    assert response.json()["message"] == "Model prod.ml_team.iris has no version or alias 'Production'."


@pytest.mark.parametrize("reference", ["7", "Challenger", "not an alias", "latest", "0"])
def test_unknown_references_are_404(api, models, reader, iris_server, reference):
    serve(models[UC], address=iris_server.address)
    response = invoke(api(reader), UC, reference, split(iris_server.X.iloc[:1]))
    assert response.status_code in (400, 404), response.content
    assert response.json()["error_code"] in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE")


def test_not_enabled_is_404_and_deploying_is_503(api, models, reader, owner, iris_server):
    client, X = api(reader), iris_server.X.iloc[:1]
    response = invoke(client, UC, 1, split(X))
    assert response.status_code == 404 and "not enabled" in response.json()["message"]
    served = ServedModel.objects.create(model=models[UC], enabled=True, state="PENDING")
    response = invoke(client, UC, 1, split(X))
    assert response.status_code == 503 and response["Retry-After"]
    assert response.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"
    ServingDeployment.objects.create(served_model=served, version=models[UC].versions.get(version=1),
                                     state="FAILED", message="mlflow 1.0 is recorded, 3.17.2 is installed")
    response = invoke(client, UC, 1, split(X))
    assert response.status_code == 503 and "mlflow 1.0 is recorded" in response.json()["message"]


# The protocol -------------------------------------------------------------------------------------------------

@pytest.fixture
def served_client(api, models, reader, iris_server):
    serve(models[UC], address=iris_server.address)
    return api(reader)


def test_each_mlflow2_input_format_scores(served_client, iris_server):
    X = iris_server.X.iloc[:20]
    expected = iris_server.model.predict(X).tolist()
    payloads = [split(X), {"dataframe_records": X.to_dict(orient="records")},
                {"instances": X.to_dict(orient="records")},
                {"inputs": {c: X[c].tolist() for c in X.columns}}]
    for payload in payloads:
        response = invoke(served_client, UC, 1, payload)
        assert response.status_code == 200, (payload.keys(), response.content)
        assert response.json() == {"predictions": expected}


def test_a_body_over_16_mb_is_413_before_it_is_read(served_client):
    class Unreadable(io.RawIOBase):
        def read(self, n=-1):
            raise AssertionError("the body was read")

    response = invoke(served_client, UC, 1, raw=b"", CONTENT_LENGTH=str(16 * MB + 1), **{"wsgi.input": Unreadable()})
    assert response.status_code == 413
    assert response.json()["error_code"] == "PAYLOAD_TOO_LARGE"


def test_a_chunked_body_over_16_mb_is_413(served_client):
    body = io.BytesIO(b"[" + b"1," * (8 * MB + 10) + b"1]")
    response = invoke(served_client, UC, 1, raw=b"", HTTP_TRANSFER_ENCODING="chunked",
                      **{"wsgi.input": body, "wsgi.input_terminated": True})
    assert response.status_code == 413
    assert response.json()["error_code"] == "PAYLOAD_TOO_LARGE"


def test_a_chunked_body_within_the_limit_scores(served_client, iris_server):
    X = iris_server.X.iloc[:5]
    body = io.BytesIO(json.dumps(split(X)).encode())
    response = invoke(served_client, UC, 1, raw=b"", HTTP_TRANSFER_ENCODING="chunked",
                      **{"wsgi.input": body, "wsgi.input_terminated": True})
    assert response.status_code == 200, response.content
    assert response.json() == {"predictions": iris_server.model.predict(X).tolist()}


def test_a_gzip_body_is_decompressed_within_the_limit(served_client, iris_server):
    X = iris_server.X.iloc[:5]
    response = invoke(served_client, UC, 1, raw=gzip.compress(json.dumps(split(X)).encode()),
                      HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 200, response.content
    assert response.json() == {"predictions": iris_server.model.predict(X).tolist()}
    bomb = gzip.compress(b" " * (17 * MB))  # 17 MB of spaces in a few kB
    assert len(bomb) < 100_000
    response = invoke(served_client, UC, 1, raw=bomb, HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 413 and response.json()["error_code"] == "PAYLOAD_TOO_LARGE"
    response = invoke(served_client, UC, 1, raw=b"not gzip", HTTP_CONTENT_ENCODING="gzip")
    assert response.status_code == 400
    response = invoke(served_client, UC, 1, raw=b"{}", HTTP_CONTENT_ENCODING="br")
    assert response.status_code == 415


def test_a_chunked_body_on_a_server_that_cannot_read_it_is_411(served_client):
    response = invoke(served_client, UC, 1, raw=b"", HTTP_TRANSFER_ENCODING="chunked",
                      **{"wsgi.input": io.BytesIO(b"{}")})
    assert response.status_code == 411
    assert response.json()["error_code"] == "LENGTH_REQUIRED"


@pytest.mark.parametrize("raw, fragment", [
    (b"{not json", "not valid JSON"),
    (b"[" * 100 + b"]" * 100, "nested more than 64"),
    (b'{"inputs": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nested more than 64"),
    (b"\xff\xfe", "not valid JSON"),
    (b"", "no body"),
    (b"42", "must be a JSON object"),
])
def test_malformed_payloads_are_400(served_client, iris_server, raw, fragment):
    response = invoke(served_client, UC, 1, raw=raw, CONTENT_LENGTH=str(len(raw)))  # also for b"" (as curl -d '')
    assert response.status_code == 400, response.content
    assert fragment in response.json()["message"]
    assert iris_server.healthy()


@pytest.mark.parametrize("payload, content_type", [
    ([{"sepal length (cm)": 1.0}], "application/json"),
    ({"columns": ["a"], "data": [[1.0]]}, "application/json"),
    ({"dataframe_split": {"columns": ["a"], "data": [[1.0]]}}, "application/json; format=pandas-split"),
])
def test_mlflow1_payloads_are_400_with_the_mlflow2_format(served_client, payload, content_type):
    response = invoke(served_client, UC, 1, payload, content_type=content_type)
    assert response.status_code == 400, response.content
    message = response.json()["message"]
    assert "MLflow 1" in message and "MLflow 2.0" in message
    # The example uses the version's own columns.
    assert '{"dataframe_split": {"columns": ["sepal length (cm)", "sepal width (cm)", "petal length (cm)", ' \
           '"petal width (cm)"], "data": [[1.0, 1.0, 1.0, 1.0]]}}' in message
    for key in ("dataframe_records", "instances", "inputs"):
        assert key in message


@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain", ""])
def test_unsupported_content_types_are_415_with_the_fix(served_client, content_type):
    response = invoke(served_client, UC, 1, {"inputs": [[1]]}, content_type=content_type)
    assert response.status_code == 415
    assert "Content-Type: application/json" in response.json()["message"]


def test_signature_mismatches_name_the_columns_and_leave_the_model_healthy(served_client, iris_server):
    X = iris_server.X.iloc[:2]
    missing = {"dataframe_split": {"columns": list(X.columns[:3]), "data": X.iloc[:, :3].values.tolist()}}
    response = invoke(served_client, UC, 1, missing)
    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"error_code", "message"}  # no stack trace for the caller
    assert "missing inputs ['petal width (cm)']" in body["message"]
    mistyped = {"dataframe_records": [{**X.iloc[0].to_dict(), "sepal width (cm)": "wide"}]}
    response = invoke(served_client, UC, 1, mistyped)
    assert response.status_code == 400
    assert "sepal width (cm)" in response.json()["message"]
    two_keys = {"instances": [[1, 2, 3, 4]], "inputs": [[1, 2, 3, 4]]}
    assert invoke(served_client, UC, 1, two_keys).status_code == 400
    assert iris_server.healthy()
    good = invoke(served_client, UC, 1, split(X))
    assert good.status_code == 200
    assert np.array_equal(good.json()["predictions"], iris_server.model.predict(X))


def test_csv_is_forwarded_to_mlflow(served_client, iris_server):
    X = iris_server.X.iloc[:4]
    response = invoke(served_client, UC, 1, raw=X.to_csv(index=False).encode(), content_type="text/csv")
    assert response.status_code == 200, response.content
    assert response.json() == {"predictions": iris_server.model.predict(X).tolist()}


def test_invocations_hold_no_transaction(served_client, iris_server):
    """Invocations are under /model/, outside the API write transaction: a slow model holds no database lock."""
    from registry.serving import client as serving_client

    connection = transaction.get_connection()
    outside = len(connection.savepoint_ids)  # pytest-django's test transaction and nothing else
    seen = []
    original = serving_client.invoke

    def spy(*args, **kwargs):
        seen.append(len(connection.savepoint_ids))
        return original(*args, **kwargs)

    serving_client.invoke = spy
    try:
        assert invoke(served_client, UC, 1, split(iris_server.X.iloc[:1])).status_code == 200
    finally:
        serving_client.invoke = original
    assert seen == [outside]


def test_a_workspace_alias_that_is_no_stage_name_resolves(api, models, reader, iris_server):
    ws = models[WS]
    serve(ws, address=iris_server.address)
    ModelAlias.objects.create(model=ws, alias="Canary", version=ws.versions.get(version=2))
    assert invoke(api(reader), WS, "Canary", split(iris_server.X.iloc[:1]))["X-Model-Version"] == "2"


def test_three_level_aliases_match_ignoring_case(api, models, reader, iris_server):
    uc = models[UC]
    serve(uc, address=iris_server.address)
    ModelAlias.objects.create(model=uc, alias="Champion", version=uc.versions.get(version=2))
    response = invoke(api(reader), UC, "champion", split(iris_server.X.iloc[:1]))
    assert response.status_code == 200 and response["X-Model-Version"] == "2"
    # Workspace models match exactly, as MLflow's registry does.
    ws = models[WS]
    serve(ws, address=iris_server.address)
    ModelAlias.objects.create(model=ws, alias="Champion", version=ws.versions.get(version=2))
    assert invoke(api(reader), WS, "champion", split(iris_server.X.iloc[:1])).status_code == 404


@pytest.mark.parametrize("reference", ["1", "Champion"])
def test_an_invocation_costs_a_few_indexed_queries(api, models, reader, iris_server, reference,
                                                   django_assert_max_num_queries):
    """Resolution runs on every request: token, model with its permission rule, version (or alias), deployment."""
    uc = models[UC]
    serve(uc, address=iris_server.address)
    ModelAlias.objects.create(model=uc, alias="Champion", version=uc.versions.get(version=1))
    client = api(reader)
    invoke(client, UC, reference, split(iris_server.X.iloc[:1]))  # the token's last use is recorded once a minute
    with django_assert_max_num_queries(4):
        assert invoke(client, UC, reference, split(iris_server.X.iloc[:1])).status_code == 200


@pytest.mark.parametrize("path", ["/model/prod.ml_team.iris/1/invocations/", "/model/prod.ml_team.iris/1",
                                  "/model/a%2Fb/1/invocations", "/model/"])
def test_unknown_paths_under_model_answer_json(api, reader, path):
    client = api(reader)
    client.handler.enforce_csrf_checks = True  # as for curl: no CSRF token
    response = client.post(path, {}, format="json")
    assert response.status_code == 404
    assert response.json()["error_code"] == "ENDPOINT_NOT_FOUND"


def test_other_methods_answer_json(api, models, reader):
    response = api(reader).get("/model/prod.ml_team.iris/1/invocations")
    assert response.status_code == 405 and response.json()["error_code"] == "BAD_REQUEST"
