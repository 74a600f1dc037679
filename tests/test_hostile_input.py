"""Every registered URL pattern (found by walking Django's URL resolver: MLflow API, Unity Catalog API, lineage,
jobs, artifacts, UI, accounts, admin) is sent each class of hostile input by a signed-in metastore admin (who sees
everything, so requests get as deep as they can), with GET, POST and whichever of PUT/PATCH/DELETE the view has:
NUL, lone surrogates and invalid UTF-8 in the path, the query string and the body; JSON nested 5,000 deep; wrong
JSON types (one field at a time, the others plausible); huge numbers; an empty body. No answer may be a server
error. URL parameters are filled with real objects so that a request reaches the code behind them, and
every request runs in a savepoint that is rolled back, so each one sees the same world."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass

import pytest
from django.db import transaction
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from registry import audit
from registry.errors import InvalidParameter
from registry.models import AuditEvent, Experiment, Job, PersonalAccessToken, RegisteredModel, Run

MODEL = "prod.ml_team.iris"
MARK = "zqxmark"  # stands in the URL for the hostile bytes, which reverse() could not quote
API_PREFIXES = ("api/", "ajax-api/")

PATH_BYTES = {"nul": "%00", "lone surrogate": "%ED%A0%80", "invalid utf-8": "%FF%FE"}

# Every parameter name the API views and UI views read (from `param(...)`, `request.GET/POST` and bodies).
FIELDS = (
    "alias aliases archive_existing_versions artifact_location catalog_name changes comment datasets description "
    "experiment_id experiment_ids experiment_name file_size filter key latest_versions max_results members "
    "metric_key metrics mine model model_id model_type models name new_name next_page_token order_by owner "
    "page_token params properties run_id run_link run_name run_view_type schema_name source source_run_id stage "
    "stages statement status status_message storage_root tags value version version_num view_type timestamp step "
    "start_time end_time user principal path force include_aliases dataset_name dataset_digest q sort direction "
    "page page_size op depth draft confirm_move versions diff back all next logged_model "
    "action state creator transitions_need_approval decision"
).split()


def query(value: str) -> str:
    return "&".join(f"{field}={value}" for field in FIELDS)


QUERIES = {
    **{f"{label} in query": query(f"x{raw}y") for label, raw in PATH_BYTES.items()},
    "huge numbers in query": query("9" * 40) + "&max_results=1e400&version=-" + "9" * 40,
}


def json_body(value) -> bytes:
    return json.dumps({field: value for field in FIELDS}).encode()


JSON_BODIES = {
    "nested 5,000 deep": b'{"name": ' + b"[" * 5000 + b"]" * 5000 + b"}",
    "object nested 5,000 deep": b'{"a":' * 5000 + b"1" + b"}" * 5000,
    "lone surrogate in body": json_body("\ud800"),  # json.dumps escapes it as \ud800
    "lone surrogate in key": b'{"\\udfff": 1, "name": "x"}',
    "nul in body": json_body("a\x00b"),
    "invalid utf-8 in body": b'{"name": "\xff\xfe", "description": "\xc3"}',
    "list where an object is expected": b'[{"name": "x"}]',
    "string where an object is expected": b'"name"',
    "null body": b"null",
    "lists where values are expected": json_body(["x"]),
    "objects where values are expected": json_body({"a": "b"}),
    "booleans where values are expected": json_body(True),
    "huge integers": json_body(10**40),
    "huge negative integers": json_body(-(10**40)),
    "huge floats": b"{" + b", ".join(f'"{f}": 1e400'.encode() for f in FIELDS) + b"}",
    "too many digits": b'{"max_results": ' + b"9" * 5000 + b"}",
    "empty body": b"",
    "not json": b"{not json",
}

FORM_BODIES = {
    **{f"{label} in form": query(f"x{raw}y").encode() for label, raw in PATH_BYTES.items()},
    "huge numbers in form": query("9" * 40).encode(),
    "empty form": b"",
}


@dataclass
class World:
    experiment_id: str
    run_id: str
    logged_model_id: str
    job_id: int
    token_id: int


@pytest.fixture
def client_for(db):
    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def world(governed, admin, owner, reader, team, api, settings, tmp_path):
    """Real objects behind every URL parameter, created through the API with valid input."""
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    client = api(admin)

    def post(path, body):
        response = client.post(f"/api/2.0/mlflow/{path}", body, format="json")
        assert response.status_code == 200, (path, response.content)
        return response.json()

    experiment_id = post("experiments/create", {"name": "hostile"})["experiment_id"]
    run_id = post("runs/create", {"experiment_id": experiment_id})["run"]["info"]["run_id"]
    post("runs/log-batch", {"run_id": run_id, "params": [{"key": "k", "value": "v"}],
                            "metrics": [{"key": "m", "value": 1.0, "timestamp": 1, "step": 0}]})
    logged = post("logged-models", {"experiment_id": experiment_id, "source_run_id": run_id})
    post("registered-models/create", {"name": MODEL})
    post("model-versions/create", {"name": MODEL, "source": f"runs:/{run_id}/model", "run_id": run_id})
    post("registered-models/alias", {"name": MODEL, "alias": "Champion", "version": "1"})
    post("registered-models/create", {"name": "WorkspaceModel"})
    assert Run.objects.filter(run_id=run_id).exists()
    return World(
        experiment_id=experiment_id,
        run_id=run_id,
        logged_model_id=logged["model"]["info"]["model_id"],
        job_id=Job.objects.latest("pk").pk,
        token_id=PersonalAccessToken.objects.filter(user=admin).latest("pk").pk,
    )


WRONG_TYPES = (["x"], {"a": "b"}, True, 12345, None, -1.5)


def plausible_body(world: World) -> dict:
    """A body in which every field has a value of the right type naming a real object."""
    return {
        "name": MODEL, "new_name": "prod.ml_team.iris2", "version": "1", "alias": "Champion", "key": "k",
        "value": "v", "run_id": world.run_id, "experiment_id": world.experiment_id,
        "experiment_ids": [world.experiment_id], "model_id": world.logged_model_id, "catalog_name": "prod",
        "schema_name": "ml_team", "full_name": MODEL, "comment": "c", "description": "d", "owner": "reader",
        "principal": "reader", "user": "reader", "source": f"runs:/{world.run_id}/model", "stage": "Staging",
        "max_results": 10, "order_by": ["name"], "filter": "", "tags": [{"key": "k", "value": "v"}],
        "params": [{"key": "p", "value": "v"}], "metrics": [{"key": "m", "value": 1.0, "timestamp": 1, "step": 0}],
        "timestamp": 1, "step": 0, "status": "FINISHED", "end_time": 2, "changes": [],
        "statement": "SHOW GRANTS ON CATALOG prod",
    }


def wrong_type_bodies(world: World):
    """The plausible body with one field at a time of a wrong type."""
    base = plausible_body(world)
    for index, field in enumerate(base):
        wrong = WRONG_TYPES[index % len(WRONG_TYPES)]
        yield f"{type(wrong).__name__} for {field}", json.dumps({**base, field: wrong}).encode()


def plausible(kwarg: str, route: str, world: World) -> str:
    """A value for URL parameter `kwarg` of `route` that names a real object."""
    if kwarg == "name":
        if "groups" in route:
            return "ml_team"
        if "catalogs" in route:
            return "prod"
        if "tables" in route:
            return "main.sales.transactions"
        return MODEL
    if kwarg == "full_name":
        if "schemas" in route:
            return "prod.ml_team"
        if "permissions" in route:
            return "prod"
        return MODEL
    values = {
        "catalog": "prod", "schema": "prod.ml_team", "kind": "model", "version": "1", "alias": "Champion",
        "experiment_id": world.experiment_id, "run_id": world.run_id, "model_id": world.logged_model_id,
        "tag_key": "k", "job_id": str(world.job_id), "token_id": str(world.token_id), "user": "reader",
        "securable_type": "catalog", "artifact_path": f"{world.experiment_id}/{world.run_id}/artifacts/x.txt",
        "uidb64": "MQ", "token": "set-password", "app_label": "registry", "object_id": "1",
        "content_type_id": "1", "url": "x",
    }
    return values.get(kwarg, "1")


@dataclass(frozen=True)
class Route:
    route: str
    pattern: URLPattern

    @property
    def is_api(self) -> bool:
        return self.route.lstrip("^").startswith(API_PREFIXES)

    def methods(self) -> list[str]:
        view = getattr(self.pattern.callback, "view_class", None)
        if view is None:
            return ["GET", "POST"]
        names = ["get", "post", "put", "patch", "delete"]
        found = [m.upper() for m in names if hasattr(view, m) and m in getattr(view, "http_method_names", names)]
        if not issubclass(view, APIView):
            found = sorted(set(found) | {"GET", "POST"})
        return found


def routes() -> list[Route]:
    found = []

    def walk(resolver: URLResolver, prefix: str):
        for entry in resolver.url_patterns:
            if isinstance(entry, URLResolver):
                walk(entry, prefix + _regex(entry))
            else:
                found.append(Route(prefix + _regex(entry), entry))

    walk(get_resolver(), "")
    return found


def _regex(entry) -> str:
    return entry.pattern.regex.pattern.lstrip("^").rstrip("$").replace(r"\Z", "")


def build_path(route: Route, world: World, *, hostile: str | None = None) -> str | None:
    """The URL of `route` with plausible parameters; with `hostile`, every string parameter also carries those
    (already percent-encoded) bytes. None when the route has no parameter that could carry them."""
    regex = re.compile(route.route)
    names = list(regex.groupindex)
    if hostile is not None and not names:
        return None
    kwargs = {name: plausible(name, route.route, world) for name in names}
    if hostile is not None:
        kwargs = {name: value + MARK for name, value in kwargs.items()}
    path = _fill(route.route, kwargs)
    if path is None or not regex.fullmatch(path.replace(MARK, "Q")):
        if hostile is None:
            raise AssertionError(f"cannot fill {route.route!r} with {kwargs}")
        return None
    return "/" + (path.replace(MARK, hostile) if hostile else path)


_GROUP = re.compile(r"\(\?P<(?P<name>\w+)>(?:[^()]|\([^()]*\))*\)")


def _fill(route: str, kwargs: dict) -> str | None:
    path = _GROUP.sub(lambda m: kwargs[m.group("name")], route)
    path = path.replace("\\.", ".").replace("\\", "")
    if re.search(r"[()?*+\[\]|^$]", path):
        return None  # a pattern this simple filler cannot write out (none today)
    return path


def send(client: Client, method: str, path: str, body: bytes | None, content_type: str, token: str | None):
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if token else {}
    with transaction.atomic():
        try:
            if body is None:
                response = client.generic(method, path, **headers)
            else:
                response = client.generic(method, path, body, content_type=content_type, **headers)
        finally:
            transaction.set_rollback(True)
    return response


def requests_for(route: Route, world: World):
    """(label, method, path, body, content type) of every hostile request for one route."""
    plain = build_path(route, world)
    content_type = "application/json" if route.is_api else "application/x-www-form-urlencoded"
    bodies = JSON_BODIES if route.is_api else FORM_BODIES
    methods = route.methods()
    for method in methods:
        # Hostile URLs with GET and with the first method that carries a body (views of both kinds read the
        # URL the same way under every method).
        if method == "GET" or method == next((m for m in methods if m != "GET"), None):
            for label, raw in PATH_BYTES.items():
                path = build_path(route, world, hostile=raw)
                if path is not None:
                    yield f"{label} in path", method, path, None, content_type
            # A route without parameters still gets hostile bytes in its path: they must not crash the 404.
            yield "nul after path", method, plain + "%00", None, content_type
            for label, qs in QUERIES.items():
                yield label, method, f"{plain}?{qs}", None, content_type
        if method != "GET":
            for label, body in bodies.items():
                yield label, method, plain, body, content_type
            if route.is_api and not route.route.startswith("ajax-api/"):  # the same views as under api/
                for label, body in wrong_type_bodies(world):
                    yield label, method, plain, body, content_type


@pytest.mark.slow
def test_no_hostile_input_causes_a_server_error(world, admin, token_for):
    client = Client(raise_request_exception=True)
    client.force_login(admin)
    token = token_for(admin)
    failures, sent = [], 0
    all_routes = routes()
    assert len(all_routes) > 150, "the URL resolver walk found too few patterns"
    for route in all_routes:
        for label, method, path, body, content_type in requests_for(route, world):
            sent += 1
            try:
                response = send(client, method, path, body, content_type, token if route.is_api else None)
            except Exception as exc:  # an uncaught exception is the 500 a real server would answer
                failures.append(f"{method} {path[:120]} [{label}]: {type(exc).__name__}: {str(exc)[:200]}")
                continue
            if response.status_code >= 500:
                failures.append(f"{method} {path[:120]} [{label}]: {response.status_code} {response.content[:200]!r}")
    assert not failures, f"{len(failures)} of {sent} hostile requests failed:\n" + "\n".join(failures[:80])


# --- what the refusals look like -----------------------------------------------------------------------------

def envelope(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.content
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert body["error_code"] == code, body
    return body


@pytest.mark.parametrize("url", [
    "/api/2.0/mlflow/experiments/get-by-name?experiment_name=a%00",
    "/api/2.0/mlflow/runs/get?run_id=a%00",
    "/api/2.0/mlflow/registered-models/search?filter=name%3D%27%ED%A0%80%27",
    "/api/2.0/mlflow/registered-models/get?name=%FF",
    "/api/2.1/unity-catalog/catalogs/pr%00od",
])
def test_hostile_url_on_the_api_is_a_json_400(api, owner, url):
    body = envelope(api(owner).get(url), 400, "INVALID_PARAMETER_VALUE")
    assert "Invalid" in body["message"]


@pytest.mark.parametrize("url", ["/search/?q=%00", "/runs/a%00/", "/models/%ED%A0%80/", "/search/?q=%C3"])
def test_hostile_url_in_the_ui_is_the_400_page(client_for, owner, url):
    response = client_for(owner).get(url)
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
    assert b"Bad request" in response.content


def test_hostile_form_body_in_the_ui_is_the_400_page(client_for, owner, governed):
    response = client_for(owner).generic("POST", "/schemas/prod.ml_team/create-model/", b"name=iris%00&description=x",
                                         content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400
    assert b"Bad request" in response.content
    assert not RegisteredModel.objects.exists()


@pytest.mark.parametrize("path, body, code", [
    ("model-versions/create", b'{"name": ' + b"[" * 5000 + b"]" * 5000 + b"}", "MALFORMED_REQUEST"),
    ("runs/search", b'{"filter": ' + b'{"a":' * 5000 + b"1" + b"}" * 5000 + b"}", "MALFORMED_REQUEST"),
    ("registered-models/create", b'{"name": "\\ud800"}', "INVALID_PARAMETER_VALUE"),
    ("registered-models/create", b'{"name": "a\\u0000b"}', "INVALID_PARAMETER_VALUE"),
    ("experiments/create", b'{"name": "x", "tags": [{"key": "k\\u0000", "value": "v"}]}', "INVALID_PARAMETER_VALUE"),
    ("runs/create", b'{"experiment_id": "0", "run_name": "\\udc00"}', "INVALID_PARAMETER_VALUE"),
    ("registered-models/create", b'{"name": "\xff"}', "MALFORMED_REQUEST"),
    ("registered-models/create", b'[{"name": "x"}]', "INVALID_PARAMETER_VALUE"),
    ("registered-models/create", b'{"name": NaN}', "MALFORMED_REQUEST"),
])
def test_hostile_json_is_a_json_400_and_changes_nothing(api, owner, path, body, code):
    response = api(owner).generic("POST", f"/api/2.0/mlflow/{path}", body, content_type="application/json")
    envelope(response, 400, code)
    assert not RegisteredModel.objects.exists()
    assert not Experiment.objects.exclude(pk=0).exists()


def test_json_nested_to_the_limit_is_still_parsed(api, owner):
    from registry.api.parsers import MAX_DEPTH

    nested = "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1)
    body = f'{{"name": "WsModel", "description": "{nested}"}}'.encode()
    response = api(owner).generic("POST", "/api/2.0/mlflow/registered-models/create", body,
                                  content_type="application/json")
    assert response.status_code == 200, response.content
    too_deep = f'{{"name": "WsModel2", "x": {"[" * MAX_DEPTH}{"]" * MAX_DEPTH}}}'.encode()
    response = api(owner).generic("POST", "/api/2.0/mlflow/registered-models/create", too_deep,
                                  content_type="application/json")
    envelope(response, 400, "MALFORMED_REQUEST")


def test_valid_non_ascii_text_is_untouched(api, owner):
    # A surrogate *pair* escape is one valid character; it must not be taken for a lone surrogate.
    body = b'{"name": "Mod\\u00e8le \\ud83d\\ude00", "description": "caf\xc3\xa9"}'
    response = api(owner).generic("POST", "/api/2.0/mlflow/registered-models/create", body,
                                  content_type="application/json")
    assert response.status_code == 200, response.content
    model = RegisteredModel.objects.get()
    assert (model.name, model.description) == ("Modèle 😀", "café")
    response = api(owner).get("/api/2.0/mlflow/registered-models/get?name=Mod%C3%A8le%20%F0%9F%98%80")
    assert response.status_code == 200, response.content


# --- the audit log takes any text ----------------------------------------------------------------------------

def test_a_service_refusal_of_unstorable_text_is_audited(owner):
    from registry.services.models import registered_model_create

    for name in ("bad\ud800name", "bad\x00name"):
        with pytest.raises(InvalidParameter):
            registered_model_create(actor=owner, name=name)
    events = AuditEvent.objects.filter(action="registered_model.create").order_by("pk")
    assert [e.outcome for e in events] == [AuditEvent.Outcome.FAILED, AuditEvent.Outcome.FAILED]
    assert [e.parameters["name"] for e in events] == ["bad\\ud800name", "bad\\x00name"]


def test_audit_record_writes_any_string_and_number(owner):
    hostile = "x\x00y\ud800z\udfff"
    event = audit.record(actor=owner, action="test.hostile", object_name=hostile, message=hostile,
                         params={hostile: [hostile, {"k": hostile}], "n": float("inf"), "m": float("nan")})
    event.refresh_from_db()
    assert event.object_name == event.message == "x\\x00y\\ud800z\\udfff"
    assert event.parameters["n"] == "inf" and event.parameters["m"] == "nan"


def test_lone_surrogate_without_escape_in_another_charset_is_refused(api, owner):
    # UTF-7 spells a lone surrogate without any \u escape.
    body = '{"name": "a+2AA-b"}'.encode("ascii")
    assert json.loads(body.decode("utf-7")) == {"name": "a\ud800b"}
    response = api(owner).generic("POST", "/api/2.0/mlflow/registered-models/create", body,
                                  content_type="application/json; charset=utf-7")
    envelope(response, 400, "INVALID_PARAMETER_VALUE")
    assert not RegisteredModel.objects.exists()
