"""The model page's Serving tab: who sees what (owner and MANAGE get the buttons, an EXECUTE reader the tab and the
request box, an outsider a 404), the states it shows, Enable / Stop / Settings through the serving services, Load
example from the version's files, and Send answering with what the pool answered. The pool is stood in for by
`client.invoke` here; the browser test (tests/e2e/test_browser_serving.py) runs a real supervisor."""
from __future__ import annotations

import io
import json

import pytest

from registry import storage
from registry.models import ServedModel, ServingDeployment, ServingEvent
from registry.models.serving import ServingState
from registry.serving import client, model_files
from registry.services.grants import grant_add
from registry.sources import artifact_path_of
from tests.explorer.conftest import MODEL
from tests.registry.factories import make_model, make_version

TAB = f"/models/{MODEL}/serving/"
EXAMPLE = {"dataframe_split": {"columns": ["sepal_length", "petal_width"], "data": [[5.1, 0.2]]}}


@pytest.fixture(autouse=True)
def _own_storage(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    settings.VAR_DIR = tmp_path / "var"


@pytest.fixture
def manager(make_user, iris, admin, owner):
    """MANAGE on the model (and the catalog and schema usage any reader of a three-level model needs)."""
    user = make_user("manager")
    grant_add(actor=admin, securable=iris.schema.catalog, principal=user, privilege="USE CATALOG")
    grant_add(actor=admin, securable=iris.schema, principal=user, privilege="USE SCHEMA")
    grant_add(actor=owner, securable=iris, principal=user, privilege="MANAGE")
    return user


def _served(model, *, state=ServingState.READY, message="", enabled=True, workers=1) -> ServedModel:
    served, _ = ServedModel.objects.update_or_create(model=model, defaults={
        "enabled": enabled, "state": state, "message": message, "workers": workers})
    return served


def _deploy(served, number: int, *, state=ServingDeployment.State.READY, message="") -> ServingDeployment:
    version = served.model.versions.get(version=number)
    return ServingDeployment.objects.create(served_model=served, version=version, generation=served.generation,
                                            state=state, message=message, address="http://127.0.0.1:9")


def _store(version, name: str, content) -> None:
    data = content if isinstance(content, bytes) else json.dumps(content).encode()
    storage.save_stream(f"{artifact_path_of(version.storage_location)}/{name}", io.BytesIO(data))


def _html(response) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# Who sees what ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["", "status/", "status/?part=events", "versions/1/"])
@pytest.mark.parametrize("persona,status", [("admin", 200), ("owner", 200), ("manager", 200), ("reader", 200),
                                            ("outsider", 404)])
def test_serving_pages_permission_matrix(request, client_for, iris, manager, url, persona, status):
    response = client_for(request.getfixturevalue(persona)).get(TAB + url)
    assert response.status_code == status


def test_serving_tab_is_listed_among_the_model_tabs(client_for, reader, iris):
    html = _html(client_for(reader).get(f"/models/{MODEL}/"))
    assert f'href="{TAB}"' in html and ">Serving</a>" in html
    html = _html(client_for(reader).get(TAB))
    assert f'href="{TAB}" aria-current="page"' in html


@pytest.mark.parametrize("persona", ["owner", "manager"])
def test_owner_and_manage_are_offered_enable_and_settings(request, client_for, iris, manager, persona):
    html = _html(client_for(request.getfixturevalue(persona)).get(TAB))
    assert "Enable serving" in html and f"{TAB}enable/" in html and f"{TAB}settings/" in html


def test_owner_is_offered_stop_while_serving(client_for, owner, iris):
    _served(iris)
    html = _html(client_for(owner).get(TAB))
    assert f"{TAB}stop/" in html and "Enable serving" not in html


@pytest.mark.parametrize("enabled", [False, True])
def test_execute_reader_sees_the_request_box_but_no_buttons(client_for, reader, iris, enabled):
    if enabled:
        served = _served(iris)
        _deploy(served, 1)
    html = _html(client_for(reader).get(TAB))
    for url in ("enable/", "stop/", "settings/"):
        assert f"{TAB}{url}" not in html
    assert "Enable serving</button>" not in html
    assert 'id="serving-request"' in html
    if enabled:
        assert 'name="payload"' in html and "Load example" in html and 'value="send"' in html


@pytest.mark.parametrize("url", ["enable/", "stop/", "settings/"])
def test_reader_cannot_change_serving(client_for, reader, iris, url):
    response = client_for(reader).post(TAB + url, {"workers": 2, "memory_limit_mb": 1024, "tags": ""})
    assert response.status_code == 403
    assert not ServedModel.objects.filter(model=iris, enabled=True).exists()


@pytest.mark.parametrize("url", ["enable/", "stop/", "settings/", "request/"])
def test_outsider_gets_404_for_every_serving_post(client_for, outsider, iris, url):
    response = client_for(outsider).post(TAB + url, {"reference": "1", "payload": "{}", "do": "send"})
    assert response.status_code == 404


# States -------------------------------------------------------------------------------------------------------

def test_disabled_state_is_final_and_not_polled(client_for, owner, iris):
    html = _html(client_for(owner).get(TAB))
    assert 'data-serving-state="DISABLED"' in html and ">Disabled</span>" in html
    assert "hx-trigger=\"every" not in html
    assert "Nothing is served yet" in html


def test_pending_state_is_polled_until_final(client_for, owner, iris):
    served = _served(iris, state=ServingState.PENDING)
    _deploy(served, 1, state=ServingDeployment.State.PENDING)
    html = _html(client_for(owner).get(TAB))
    assert ">Pending</span>" in html and f'hx-get="{TAB}status/"' in html and 'hx-trigger="every 2s"' in html
    assert f'hx-get="{TAB}status/?part=events"' in html

    ServingDeployment.objects.filter(served_model=served).update(state=ServingDeployment.State.READY)
    _deploy(served, 2)
    ServedModel.objects.filter(pk=served.pk).update(state=ServingState.READY)
    part = _html(client_for(owner).get(TAB + "status/"))
    assert part.lstrip().startswith('<section id="serving-status"') and "<html" not in part
    assert ">Ready</span>" in part and "hx-trigger" not in part


def test_ready_state_lists_every_uri_of_every_served_version_with_copy_buttons(client_for, reader, iris):
    served = _served(iris)
    _deploy(served, 1)
    _deploy(served, 2)
    html = _html(client_for(reader).get(TAB))
    assert ">Ready</span>" in html and 'hx-trigger="every' not in html
    for reference in ("1", "2", "Champion"):
        uri = f"http://testserver/model/{MODEL}/{reference}/invocations"
        assert f'value="{uri}"' in html
    assert html.count("data-copy=") == 3 and ">alias Champion</span>" in html
    assert "Champion (version 1 now)" in html


def test_failed_state_shows_the_reason(client_for, reader, iris):
    served = _served(iris, state=ServingState.FAILED, message="Version 2: scikit-learn 1.5 is recorded, 1.7 installed.")
    _deploy(served, 1)
    _deploy(served, 2, state=ServingDeployment.State.FAILED, message="scikit-learn 1.5 is recorded, 1.7 installed.")
    html = _html(client_for(reader).get(TAB))
    assert ">Failed</span>" in html and "scikit-learn 1.5 is recorded, 1.7 installed." in html
    assert 'hx-trigger="every' not in html


def test_workspace_model_lists_its_stage_uris(client_for, owner, db):
    model = make_model(owner, "churn")
    make_version(owner, "churn")
    from registry.services.versions import model_version_transition_stage

    model_version_transition_stage(actor=owner, name="churn", version=1, stage="Production")
    served = _served(model)
    _deploy(served, 1)
    html = _html(client_for(owner).get("/models/churn/serving/"))
    assert 'value="http://testserver/model/churn/Production/invocations"' in html
    assert ">stage Production</span>" in html and ">by number</span>" in html


def test_model_events_are_listed_newest_first(client_for, reader, iris):
    served = _served(iris)
    ServingEvent.objects.create(served_model=served, kind=ServingEvent.Kind.ENABLED, message="first event")
    ServingEvent.objects.create(served_model=served, kind=ServingEvent.Kind.VERSION_DEPLOYED, version_number=1,
                                message="second event")
    html = _html(client_for(reader).get(TAB))
    assert "Model events" in html and html.index("second event") < html.index("first event")
    assert "Version deployed" in html


# Enable, Stop, Settings -------------------------------------------------------------------------------------

def test_enable_serving_from_the_tab(client_for, owner, iris):
    response = client_for(owner).post(TAB + "enable/")
    assert response.status_code == 302 and response["Location"] == TAB
    served = ServedModel.objects.get(model=iris)
    assert served.enabled and served.state == ServingState.PENDING
    assert ServingEvent.objects.filter(served_model=served, kind=ServingEvent.Kind.ENABLED).exists()
    html = _html(client_for(owner).get(TAB))
    assert ">Pending</span>" in html and "Serving enabled" in html


def test_enable_is_post_only(client_for, owner, iris):
    assert client_for(owner).get(TAB + "enable/").status_code == 405


def test_stop_is_a_dialog_that_works_without_javascript(client_for, manager, iris):
    _served(iris)
    browser = client_for(manager)
    page = _html(browser.get(TAB + "stop/"))
    assert 'class="dialog-page"' in page and "Stop serving" in page
    response = browser.post(TAB + "stop/")
    assert response.status_code == 302 and response["Location"] == TAB
    assert not ServedModel.objects.get(model=iris).enabled
    htmx = browser.post(TAB + "stop/", HTTP_HX_REQUEST="true")
    assert htmx.status_code == 204 and htmx["HX-Redirect"] == TAB


def test_settings_save_workers_memory_and_tags(client_for, owner, iris):
    served = _served(iris)
    generation = served.generation
    browser = client_for(owner)
    form = _html(browser.get(TAB + "settings/"))
    assert 'name="workers"' in form and "old pool drains, then stops" in form
    response = browser.post(TAB + "settings/", {"workers": 3, "memory_limit_mb": 4096, "tags": "team=fraud\nowner=ml"})
    assert response.status_code == 302
    served.refresh_from_db()
    assert (served.workers, served.memory_limit_mb, served.tags) == (3, 4096, {"team": "fraud", "owner": "ml"})
    assert served.generation == generation + 1
    html = _html(browser.get(TAB))
    assert "the old one drains, then stops" in html and "team: fraud" in html and "3 processes per version" in html


@pytest.mark.parametrize("fields,error", [
    ({"workers": 99, "memory_limit_mb": 2048, "tags": ""}, "less than or equal to 8"),
    ({"workers": 1, "memory_limit_mb": 2048, "tags": "no equals sign"}, "Line 1: write each tag as key=value."),
    ({"workers": 1, "memory_limit_mb": 2048, "tags": "k=" + "v" * 6000}, "alue"),
])
def test_settings_refusals_are_shown_on_the_form(client_for, owner, iris, fields, error):
    response = client_for(owner).post(TAB + "settings/", fields)
    assert response.status_code == 200 and error in response.content.decode()
    assert not ServedModel.objects.filter(model=iris, workers=99).exists()


# Load example ------------------------------------------------------------------------------------------------

def _request(browser, do: str, reference: str = "1", payload: str = "", **extra):
    return browser.post(TAB + "request/", {"reference": reference, "payload": payload, "do": do}, **extra)


def test_load_example_fills_in_the_serving_input_example(client_for, reader, iris):
    served = _served(iris)
    _deploy(served, 1)
    version = iris.versions.get(version=1)
    _store(version, "serving_input_example.json", EXAMPLE)
    _store(version, "input_example.json", {"columns": ["ignored"], "data": [[0]]})
    response = _request(client_for(reader), "example", "Champion", HTTP_HX_REQUEST="true")
    html = _html(response)
    assert html.lstrip().startswith('<section id="serving-request"') and "<html" not in html
    textarea = html.split('name="payload"', 1)[1].split("</textarea>", 1)[0]
    assert "dataframe_split" in textarea and "sepal_length" in textarea and "ignored" not in textarea


def test_load_example_wraps_an_older_input_example(client_for, reader, iris):
    served = _served(iris)
    _deploy(served, 2)
    _store(iris.versions.get(version=2), "input_example.json", {"columns": ["a"], "data": [[1]]})
    html = _html(_request(client_for(reader), "example", "2"))  # no JavaScript: the whole tab
    assert "<html" in html and "&quot;dataframe_split&quot;" in html


def test_load_example_says_when_there_is_none(client_for, reader, iris):
    served = _served(iris)
    _deploy(served, 1)
    html = _html(_request(client_for(reader), "example", "1", HTTP_HX_REQUEST="true"))
    assert "was logged without an input example" in html


def test_load_example_of_an_unknown_reference_is_a_message(client_for, reader, iris):
    _deploy(_served(iris), 1)
    html = _html(_request(client_for(reader), "example", "nope", HTTP_HX_REQUEST="true"))
    assert "has no version or alias" in html


# Send ------------------------------------------------------------------------------------------------------

@pytest.fixture
def pool(monkeypatch):
    """Stands in for the pool behind `client.invoke`: records what it was sent and answers what it is told."""
    calls = []
    answer = {"result": client.InvocationResult(200, b'{"predictions": [0, 2]}', "application/json", 12.34)}

    def invoke(deployment, body, content_type, *, timeout):
        calls.append((deployment, body, content_type, timeout))
        return answer["result"]

    monkeypatch.setattr(client, "invoke", invoke)
    return type("Pool", (), {"calls": calls, "answer": answer})


def test_send_answers_with_what_invoke_returned(client_for, reader, iris, pool):
    served = _served(iris)
    deployment = _deploy(served, 1)
    payload = json.dumps(EXAMPLE)
    html = _html(_request(client_for(reader), "send", "Champion", payload, HTTP_HX_REQUEST="true"))
    assert "HTTP 200" in html and "12.3 ms" in html and "answered by version 1" in html
    assert "{\n  &quot;predictions&quot;: [0, 2]\n}" in html  # pretty-printed, a list of values on one line
    (called, body, content_type, _timeout), = pool.calls
    assert called == deployment and body == payload.encode() and content_type == "application/json"


def test_send_without_javascript_renders_the_tab_with_the_answer(client_for, reader, iris, pool):
    _deploy(_served(iris), 2)
    html = _html(_request(client_for(reader), "send", "2", json.dumps(EXAMPLE)))
    assert "<html" in html and "HTTP 200" in html and 'id="serving-status"' in html


def test_send_shows_a_model_error_without_its_stack_trace(client_for, reader, iris, pool):
    _deploy(_served(iris), 1)
    body = json.dumps({"error_code": "BAD_REQUEST", "message": "Missing column petal_width",
                       "stack_trace": "Traceback (most recent call last): secret internals"}).encode()
    pool.answer["result"] = client.InvocationResult(400, body, "application/json", 3.0)
    html = _html(_request(client_for(reader), "send", "1", json.dumps(EXAMPLE), HTTP_HX_REQUEST="true"))
    assert "HTTP 400" in html and "Missing column petal_width" in html and "secret internals" not in html


@pytest.mark.parametrize("payload,status,text", [
    ("not json", 400, "not valid JSON"),
    ('[{"sepal_length": 1}]', 400, "dataframe_records"),
    ("", 400, "has no body"),
])
def test_send_refuses_bad_payloads_before_the_pool(client_for, reader, iris, pool, payload, status, text):
    _deploy(_served(iris), 1)
    html = _html(_request(client_for(reader), "send", "1", payload, HTTP_HX_REQUEST="true"))
    assert f"HTTP {status}" in html and text in html and pool.calls == []


def test_send_to_a_version_still_deploying_says_so(client_for, reader, iris, pool):
    served = _served(iris, state=ServingState.PENDING)
    _deploy(served, 1, state=ServingDeployment.State.PENDING)
    html = _html(_request(client_for(reader), "send", "1", json.dumps(EXAMPLE), HTTP_HX_REQUEST="true"))
    assert "HTTP 503" in html and "being deployed" in html and pool.calls == []


def test_send_when_serving_is_off_says_how_to_enable_it(client_for, reader, iris, pool):
    html = _html(_request(client_for(reader), "send", "1", json.dumps(EXAMPLE), HTTP_HX_REQUEST="true"))
    assert "HTTP 404" in html and "Serving is not enabled" in html and pool.calls == []


def test_outsider_cannot_send(client_for, outsider, iris, pool):
    _deploy(_served(iris), 1)
    assert _request(client_for(outsider), "send", "1", json.dumps(EXAMPLE)).status_code == 404
    assert pool.calls == []


# Per version: logs and events ----------------------------------------------------------------------------

def test_version_view_shows_logs_to_the_owner_and_events_to_readers(client_for, owner, reader, iris):
    served = _served(iris)
    deployment = _deploy(served, 1)
    log = model_files.log_path(deployment.pk)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.write_text("uvicorn running on 127.0.0.1\nmodel loaded\n")
    ServingEvent.objects.create(served_model=served, deployment=deployment, version_number=1,
                                kind=ServingEvent.Kind.PROCESS_RESTARTED, message="worker 2 restarted")
    ServingEvent.objects.create(served_model=served, version_number=2, kind=ServingEvent.Kind.VERSION_DEPLOYED,
                                message="other version")
    owner_html = _html(client_for(owner).get(TAB + "versions/1/"))
    assert "model loaded" in owner_html and "worker 2 restarted" in owner_html and "other version" not in owner_html
    reader_html = _html(client_for(reader).get(TAB + "versions/1/"))
    assert "worker 2 restarted" in reader_html and "model loaded" not in reader_html


def test_version_view_of_a_missing_version_is_404(client_for, owner, iris):
    assert client_for(owner).get(TAB + "versions/99/").status_code == 404


def test_serving_tab_has_bounded_queries(client_for, reader, iris, django_assert_max_num_queries):
    served = _served(iris)
    for number in (1, 2):
        _deploy(served, number)
        for _ in range(5):
            ServingEvent.objects.create(served_model=served, version_number=number, kind=ServingEvent.Kind.VERSION_DEPLOYED)
    browser = client_for(reader)
    browser.get("/")
    with django_assert_max_num_queries(40):
        assert browser.get(TAB).status_code == 200
