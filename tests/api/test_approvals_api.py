"""Approvals over REST, end to end: the real `mlflow` client is refused on a protected alias (and on a stage of a
model whose transitions need approval), a reader opens a request with its token, a CI/CD principal with MANAGE
rejects it, the reader asks again, CI approves, the alias moves; the requests' events reach a loopback webhook
receiver through real Celery workers, and every step is audited. Databricks' transition-requests endpoints too."""
from __future__ import annotations

import json

import pytest
from mlflow.exceptions import MlflowException

from registry.models import AuditEvent, ModelVersion, RequestState
from registry.services import approvals as svc
from registry.services.aliases import alias_set
from registry.services.grants import grant_add
from registry.services.webhooks import webhook_create
from tests.events.conftest import (  # noqa: F401 (fixtures)
    _empty_queue, _webhook_settings, mlflow_as, receiver, start_worker)
from tests.events.test_webhooks import SECRET, verify
from tests.registry.factories import make_model, make_version, state_fingerprint

IRIS = "prod.ml_team.iris"
EXPLORER = "/api/2.0/explorer"
TR = "/api/2.0/mlflow/transition-requests"
APPROVAL_EVENTS = ["alias_change_request.created", "alias_change_request.approved",
                   "alias_change_request.rejected", "alias_change_request.cancelled"]


@pytest.fixture
def ci(make_user):
    return make_user("ci-bot")


@pytest.fixture
def iris(governed, owner, reader, admin, ci):
    model = make_model(owner, IRIS)
    for _ in range(3):
        make_version(owner, IRIS)
    grant_add(actor=admin, securable=model, principal=reader, privilege="EXECUTE")
    grant_add(actor=admin, securable=governed.catalog, principal=ci, privilege="USE CATALOG")
    grant_add(actor=admin, securable=governed, principal=ci, privilege="USE SCHEMA")
    grant_add(actor=admin, securable=model, principal=ci, privilege="MANAGE")
    alias_set(actor=owner, name=IRIS, alias="Champion", version=1)
    return IRIS


@pytest.fixture
def ws(owner, reader, admin):
    model = make_model(owner, "fraud_ws")
    make_version(owner, "fraud_ws")
    make_version(owner, "fraud_ws")
    grant_add(actor=admin, securable=model, principal=reader, privilege="EXECUTE")
    return "fraud_ws"


@pytest.mark.django_db(transaction=True)
def test_approval_flow_end_to_end_with_the_mlflow_client_and_a_webhook(
        mlflow_as, api, iris, owner, reader, admin, ci, receiver, start_worker):
    webhook_create(actor=admin, name="ci", url=receiver.url,
                   events=[{"entity": "REGISTERED_MODEL", "action": "CREATED"}],
                   explorer_events=APPROVAL_EVENTS,
                   secret=SECRET)
    start_worker()
    # The owner protects Champion through the API.
    response = api(owner).post(f"{EXPLORER}/protected-aliases", {"name": IRIS, "alias": "Champion"}, format="json")
    assert response.status_code == 200 and response.json() == {"name": IRIS, "alias": "Champion"}
    assert api(reader).get(f"{EXPLORER}/protected-aliases", {"name": IRIS}).json()["protected_aliases"] == [
        "Champion"]

    # The unmodified mlflow client may no longer move or delete it, owner or not; the refusal names the route.
    client = mlflow_as(owner)
    for call in (lambda: client.set_registered_model_alias(IRIS, "Champion", "3"),
                 lambda: client.delete_registered_model_alias(IRIS, "Champion")):
        with pytest.raises(MlflowException) as excinfo:
            call()
        assert excinfo.value.error_code == "PERMISSION_DENIED"
        assert "POST /api/2.0/explorer/alias-requests" in excinfo.value.message
    uc = api(owner).put(f"/api/2.1/unity-catalog/models/{IRIS}/aliases/Champion", {"version_num": 3}, format="json")
    assert uc.status_code == 403 and uc.json()["error_code"] == "PERMISSION_DENIED"
    assert client.get_model_version_by_alias(IRIS, "Champion").version == "1"

    # Request, reject, request again, approve: the reader asks, CI decides with its own token.
    reader_api, ci_api = api(reader), api(ci)
    first = reader_api.post(f"{EXPLORER}/alias-requests", {"name": IRIS, "alias": "Champion", "version": 3,
                                                           "comment": "move Champion to version 3"}, format="json")
    assert first.status_code == 200, first.content
    req = first.json()["request"]
    assert (req["state"], req["version"], req["from_version"], req["requested_by"]) == ("PENDING", "3", "1", "reader")
    assert reader_api.post(f"{EXPLORER}/alias-requests/{req['id']}/approve", {}, format="json").status_code == 403
    rejected = ci_api.post(f"{EXPLORER}/alias-requests/{req['id']}/reject", {"comment": "checks failed"},
                           format="json").json()["request"]
    assert (rejected["state"], rejected["decided_by"], rejected["decision_comment"]) == (
        "REJECTED", "ci-bot", "checks failed")
    second = reader_api.post(f"{EXPLORER}/alias-requests", {"name": IRIS, "alias": "Champion", "version": "3",
                                                            "comment": "retrained"}, format="json").json()["request"]
    listed = ci_api.get(f"{EXPLORER}/alias-requests", {"name": IRIS, "state": "pending"}).json()["requests"]
    assert [r["id"] for r in listed] == [second["id"]]
    approved = ci_api.post(f"{EXPLORER}/alias-requests/{second['id']}/approve", {"comment": "checks passed"},
                           format="json")
    assert approved.status_code == 200 and approved.json()["request"]["state"] == "APPROVED"
    assert client.get_model_version_by_alias(IRIS, "Champion").version == "3"
    assert ci_api.get(f"{EXPLORER}/alias-requests/{second['id']}").json()["request"]["decided_by"] == "ci-bot"

    # Events: created, rejected, created, approved, each signed, with the request in the payload.
    receiver.wait(4)
    events = receiver.events()
    assert events == ["alias_change_request.created", "alias_change_request.rejected",
                      "alias_change_request.created", "alias_change_request.approved"]
    for request in receiver.requests:
        verify(request)
    last = json.loads(receiver.requests[3]["body"])["data"]
    assert (last["id"], last["name"], last["alias"], last["version"], last["decided_by"]) == (
        second["id"], IRIS, "Champion", "3", "ci-bot")

    # Audit rows: the refusals, the requests and decisions, the alias move by the approver.
    audit = AuditEvent.objects.filter(object_name=IRIS)
    assert audit.filter(action="registered_model.set_alias", outcome="denied", actor_name="owner").count() == 2
    assert audit.filter(action="registered_model.delete_alias", outcome="denied").count() == 1
    assert list(audit.filter(outcome="success", action__startswith="alias_request.").order_by("id").values_list(
        "action", "actor_name")) == [("alias_request.create", "reader"), ("alias_request.reject", "ci-bot"),
                                     ("alias_request.create", "reader"), ("alias_request.approve", "ci-bot")]
    assert audit.filter(action="registered_model.set_alias", outcome="success", actor_name="ci-bot").exists()


@pytest.mark.django_db
def test_requests_of_a_model_one_may_not_read_are_not_found(api, iris, reader, outsider):
    req = svc.alias_request_create(actor=reader, name=IRIS, alias="Champion", version=2)
    missing = api(outsider).post(f"{EXPLORER}/alias-requests", {"name": "prod.ml_team.nope", "alias": "Champion",
                                                                "version": 2}, format="json")
    before = state_fingerprint()
    hidden = api(outsider).post(f"{EXPLORER}/alias-requests", {"name": IRIS, "alias": "Champion", "version": 2},
                                format="json")
    assert (hidden.status_code, hidden.json()) == (404, {"error_code": "RESOURCE_DOES_NOT_EXIST",
                                                         "message": missing.json()["message"].replace("nope", "iris")})
    for url in (f"{EXPLORER}/alias-requests/{req.pk}", f"{EXPLORER}/alias-requests/{req.pk}/approve"):
        response = api(outsider).get(url) if url.endswith(str(req.pk)) else api(outsider).post(url, {}, format="json")
        assert response.status_code == 404 and response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
        assert response.json()["message"] == f"Alias change request {req.pk} not found"
    assert api(outsider).get(f"{EXPLORER}/alias-requests").json() == {"requests": []}
    assert api(outsider).get(f"{EXPLORER}/alias-requests", {"name": IRIS}).status_code == 404
    assert state_fingerprint() == before


@pytest.mark.django_db
@pytest.mark.parametrize("body", [
    {"alias": "Champion", "version": 2},  # no name
    {"name": IRIS, "version": 2},  # no alias
    {"name": IRIS, "alias": "Champion"},  # a move without a version
    {"name": IRIS, "alias": "Champion", "version": "two"},
    {"name": IRIS, "alias": "Champion", "version": 2, "action": "RENAME"},
    {"name": IRIS, "alias": "Champion", "version": 2, "comment": 5},
    {"name": IRIS, "alias": "bad alias", "version": 2},
    {"name": IRIS, "alias": "Champion", "version": 2, "comment": "x" * 70000},
    ["not", "an", "object"],
])
def test_bad_requests_are_json_errors_and_change_nothing(api, iris, reader, body):
    before = state_fingerprint()
    response = api(reader).post(f"{EXPLORER}/alias-requests", body, format="json")
    assert response.status_code == 400 and set(response.json()) == {"error_code", "message"}
    assert state_fingerprint() == before


@pytest.mark.django_db
@pytest.mark.parametrize("request_id", ["abc", "0", "-1", "99999999999999999999999", "1e3"])
def test_odd_request_ids_are_not_found(api, iris, owner, request_id):
    response = api(owner).post(f"{EXPLORER}/alias-requests/{request_id}/approve", {}, format="json")
    assert response.status_code == 404 and response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


@pytest.mark.django_db
def test_stale_request_answers_invalid_state(api, iris, reader, owner, ci):
    stale = svc.alias_request_create(actor=reader, name=IRIS, alias="Champion", version=3)
    alias_set(actor=owner, name=IRIS, alias="Champion", version=2)  # not protected yet: moved directly
    shown = api(ci).get(f"{EXPLORER}/alias-requests/{stale.pk}").json()["request"]
    assert "it was version 1, it is now version 2" in shown["stale"]
    response = api(ci).post(f"{EXPLORER}/alias-requests/{stale.pk}/approve", {}, format="json")
    assert response.status_code == 400 and response.json()["error_code"] == "INVALID_STATE"
    assert api(reader).post(f"{EXPLORER}/alias-requests/{stale.pk}/cancel", {"comment": "stale"},
                            format="json").json()["request"]["state"] == "CANCELLED"


@pytest.mark.django_db(transaction=True)
def test_transition_requests_endpoints_and_the_client_refused(mlflow_as, api, ws, owner, reader):
    client = mlflow_as(owner)
    client.transition_model_version_stage("fraud_ws", "1", "Production")
    policy = api(owner).post(f"{EXPLORER}/approval-policy", {"name": "fraud_ws", "transitions_need_approval": True},
                             format="json")
    assert policy.json() == {"name": "fraud_ws", "transitions_need_approval": True}
    with pytest.raises(MlflowException) as excinfo:
        client.transition_model_version_stage("fraud_ws", "2", "Production", archive_existing_versions=True)
    assert excinfo.value.error_code == "PERMISSION_DENIED"
    assert "POST /api/2.0/mlflow/transition-requests/create" in excinfo.value.message

    created = api(reader).post(f"{TR}/create", {"name": "fraud_ws", "version": "2", "stage": "Production",
                                                "comment": "ready"}, format="json")
    assert created.status_code == 200, created.content
    request = created.json()["request"]
    assert (request["to_stage"], request["user_id"], request["comment"]) == ("Production", "reader", "ready")
    assert request["available_actions"] == ["CANCEL_TRANSITION_REQUEST"]
    listed = api(owner).get(f"{TR}/list", {"name": "fraud_ws", "version": "2"}).json()["requests"]
    assert [r["available_actions"] for r in listed] == [["APPROVE_TRANSITION_REQUEST", "REJECT_TRANSITION_REQUEST"]]
    rejected = api(owner).post(f"{TR}/reject", {"name": "fraud_ws", "version": "2", "stage": "Production",
                                                "comment": "not yet"}, format="json").json()["activity"]
    assert (rejected["activity_type"], rejected["user_id"], rejected["comment"]) == (
        "REJECTED_REQUEST", "owner", "not yet")
    assert api(owner).get(f"{TR}/list", {"name": "fraud_ws", "version": "2"}).json() == {"requests": []}
    api(reader).post(f"{TR}/create", {"name": "fraud_ws", "version": "2", "stage": "Production"}, format="json")
    missing_flag = api(owner).post(f"{TR}/approve", {"name": "fraud_ws", "version": "2", "stage": "Production"},
                                   format="json")
    assert missing_flag.status_code == 400  # archive_existing_versions is required, as in Databricks
    approved = api(owner).post(f"{TR}/approve", {"name": "fraud_ws", "version": "2", "stage": "Production",
                                                 "archive_existing_versions": True, "comment": "ship it"},
                               format="json").json()["activity"]
    assert (approved["activity_type"], approved["from_stage"], approved["to_stage"]) == (
        "APPROVED_REQUEST", "None", "Production")
    assert client.get_model_version("fraud_ws", "2").current_stage == "Production"
    assert client.get_model_version("fraud_ws", "1").current_stage == "Archived"

    # delete (cancel) takes its parameters from the query string, as Databricks' clients send them
    api(reader).post(f"{TR}/create", {"name": "fraud_ws", "version": "1", "stage": "Staging"}, format="json")
    deleted = api(reader).delete(f"{TR}/delete?name=fraud_ws&version=1&stage=Staging&creator=reader")
    assert deleted.status_code == 200 and deleted.json() == {}
    assert api(reader).delete(f"{TR}/delete?name=fraud_ws&version=1&stage=Staging").status_code == 404
    states = dict(ModelVersion.objects.filter(model__name="fraud_ws").values_list("version", "current_stage"))
    assert states == {1: "Archived", 2: "Production"}
    assert set(AuditEvent.objects.filter(action__startswith="transition_request.").values_list(
        "action", flat=True)) == {"transition_request.create", "transition_request.reject",
                                  "transition_request.approve", "transition_request.cancel"}
    assert RequestState.APPROVED in set(svc.StageTransitionRequest.objects.values_list("state", flat=True))


@pytest.mark.django_db
def test_listing_requests_takes_a_fixed_number_of_queries_and_pages(api, iris, reader, owner,
                                                                     django_assert_max_num_queries):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client = api(owner)
    svc.alias_request_create(actor=reader, name=IRIS, alias="Champion", version=2)
    with CaptureQueriesContext(connection) as one:
        client.get(f"{EXPLORER}/alias-requests", {"name": IRIS})
    for i in range(6):
        svc.alias_request_create(actor=reader, name=IRIS, alias="Champion", version=2 + i % 2)
    alias_set(actor=owner, name=IRIS, alias="Champion", version=3)  # all stale now
    with django_assert_max_num_queries(len(one.captured_queries)):
        listed = client.get(f"{EXPLORER}/alias-requests", {"name": IRIS}).json()["requests"]
    assert len(listed) == 7 and all("it is now version 3" in r["stale"] for r in listed)
    first = client.get(f"{EXPLORER}/alias-requests", {"name": IRIS, "max_results": 4}).json()
    second = client.get(f"{EXPLORER}/alias-requests", {"name": IRIS, "max_results": 4,
                                                       "page_token": first["next_page_token"]}).json()
    assert len(first["requests"]) == 4 and len(second["requests"]) == 3 and "next_page_token" not in second
    assert {r["id"] for r in first["requests"]}.isdisjoint(r["id"] for r in second["requests"])
