"""Approvals through the services: protected aliases refuse direct changes (naming the request route), requests are
opened by readers and decided by owners/MANAGE (never by who opened them), approval moves the alias atomically and
audited, a stale request is refused, and stage transitions of a model that needs approval go through requests."""
from __future__ import annotations

import pytest

from registry.errors import AlreadyExists, InvalidParameter, InvalidState, NotFound, PermissionDenied
from registry.models import AliasChangeRequest, AuditEvent, ModelVersion, RequestState, StageTransitionRequest
from registry.selectors import version_get_by_alias
from registry.services import approvals as svc
from registry.services.aliases import alias_delete, alias_set
from registry.services.grants import grant_add
from registry.services.versions import model_version_transition_stage
from registry.selectors import model_get
from tests.registry.factories import make_model, make_version, state_fingerprint

IRIS = "prod.ml_team.iris"


@pytest.fixture
def iris(governed, owner, reader, admin):
    model = make_model(owner, IRIS)
    for _ in range(3):
        make_version(owner, IRIS)
    grant_add(actor=admin, securable=model, principal=reader, privilege="EXECUTE")
    alias_set(actor=owner, name=IRIS, alias="Champion", version=1)
    svc.protected_alias_add(actor=owner, name=IRIS, alias="Champion")
    return IRIS


@pytest.fixture
def ws(owner, reader):
    from registry.models import Grant

    model = make_model(owner, "fraud_ws")
    make_version(owner, "fraud_ws")
    make_version(owner, "fraud_ws")
    Grant.objects.create(model=model, user=reader, privilege="EXECUTE")
    return "fraud_ws"


def champion(actor, name=IRIS) -> int:
    return version_get_by_alias(actor=actor, name=name, alias="Champion").version


@pytest.mark.django_db
def test_protected_alias_refuses_the_owner_and_names_the_request_route(iris, owner, admin):
    before = state_fingerprint()
    for actor in (owner, admin):
        with pytest.raises(PermissionDenied) as excinfo:
            alias_set(actor=actor, name=iris, alias="champion", version=2)  # any case of the name
        assert "POST /api/2.0/explorer/alias-requests" in excinfo.value.message
        with pytest.raises(PermissionDenied):
            alias_delete(actor=actor, name=iris, alias="Champion")
    assert state_fingerprint() == before
    assert AuditEvent.objects.filter(action="registered_model.set_alias", outcome="denied").count() == 2
    alias_set(actor=owner, name=iris, alias="Challenger", version=2)  # others are not protected


@pytest.mark.django_db
def test_only_owner_or_manage_protects_and_a_reader_is_denied(iris, reader, outsider, owner):
    with pytest.raises(PermissionDenied):
        svc.protected_alias_add(actor=reader, name=iris, alias="Challenger")
    with pytest.raises(NotFound):
        svc.protected_alias_add(actor=outsider, name=iris, alias="Challenger")
    svc.protected_alias_remove(actor=owner, name=iris, alias="CHAMPION")
    alias_set(actor=owner, name=iris, alias="Champion", version=2)
    assert AuditEvent.objects.filter(action="registered_model.unprotect_alias").exists()


@pytest.mark.django_db
def test_request_reject_request_again_approve_moves_the_alias_audited(iris, reader, owner):
    first = svc.alias_request_create(actor=reader, name=iris, alias="Champion", version=3, comment="v3 is better")
    assert (first.state, first.from_version, first.version) == (RequestState.PENDING, 1, 3)
    with pytest.raises(PermissionDenied):  # a reader may ask but not decide
        svc.alias_request_approve(actor=reader, request_id=first.pk)
    svc.alias_request_reject(actor=owner, request_id=first.pk, comment="metrics regress")
    assert champion(owner) == 1
    with pytest.raises(InvalidState):  # decided already
        svc.alias_request_approve(actor=owner, request_id=first.pk)
    second = svc.alias_request_create(actor=reader, name=iris, alias="Champion", version=3, comment="fixed")
    approved = svc.alias_request_approve(actor=owner, request_id=second.pk, comment="ok")
    assert (approved.state, approved.decided_by, approved.decision_comment) == (RequestState.APPROVED, owner, "ok")
    assert champion(owner) == 3
    actions = list(AuditEvent.objects.filter(outcome="success", action__in=[
        "alias_request.create", "alias_request.reject", "alias_request.approve", "registered_model.set_alias",
    ]).order_by("id").values_list("action", "actor_name"))
    assert actions[-5:] == [("alias_request.create", "reader"), ("alias_request.reject", "owner"),
                            ("alias_request.create", "reader"), ("registered_model.set_alias", "owner"),
                            ("alias_request.approve", "owner")]


@pytest.mark.django_db
def test_nobody_approves_their_own_request(iris, owner):
    req = svc.alias_request_create(actor=owner, name=iris, alias="Champion", version=2)
    with pytest.raises(PermissionDenied) as excinfo:
        svc.alias_request_approve(actor=owner, request_id=req.pk)
    assert "another person" in excinfo.value.message
    assert champion(owner) == 1
    svc.alias_request_cancel(actor=owner, request_id=req.pk, comment="wrong version")
    assert AliasChangeRequest.objects.get(pk=req.pk).state == RequestState.CANCELLED


@pytest.mark.django_db
def test_a_stale_request_is_refused_and_stays_pending(iris, reader, owner, admin):
    req = svc.alias_request_create(actor=reader, name=iris, alias="Champion", version=3)
    other = svc.alias_request_create(actor=reader, name=iris, alias="Champion", version=2)
    svc.alias_request_approve(actor=owner, request_id=other.pk)  # Champion 1 -> 2
    assert "was version 1, it is now version 2" in svc.alias_request_staleness(req)
    with pytest.raises(InvalidState) as excinfo:
        svc.alias_request_approve(actor=admin, request_id=req.pk)
    assert "Reject or cancel" in excinfo.value.message
    assert champion(owner) == 2
    assert AliasChangeRequest.objects.get(pk=req.pk).state == RequestState.PENDING


@pytest.mark.django_db
def test_delete_request_removes_the_alias_and_bad_requests_change_nothing(iris, reader, owner, outsider):
    before = state_fingerprint()
    with pytest.raises(NotFound):
        svc.alias_request_create(actor=outsider, name=iris, alias="Champion", version=2)
    with pytest.raises(NotFound):
        svc.alias_request_create(actor=reader, name=iris, alias="Champion", version=99)
    with pytest.raises(InvalidParameter):
        svc.alias_request_create(actor=reader, name=iris, alias="Champion", version=1)  # already there
    with pytest.raises(InvalidParameter):
        svc.alias_request_create(actor=reader, name=iris, alias="Champion", version=2, comment="\x00")
    with pytest.raises(NotFound):
        svc.alias_request_create(actor=reader, name=iris, alias="Missing", action="DELETE")
    assert state_fingerprint() == before
    req = svc.alias_request_create(actor=reader, name=iris, alias="Champion", action="delete")
    with pytest.raises(NotFound):  # a request of a model one may not read does not exist for them
        svc.alias_request_approve(actor=outsider, request_id=req.pk)
    svc.alias_request_approve(actor=owner, request_id=req.pk)
    with pytest.raises(NotFound):
        champion(owner)


@pytest.mark.django_db
def test_transitions_need_approval_refuses_direct_moves_and_requests_apply_them(ws, owner, reader, admin):
    model_version_transition_stage(actor=owner, name=ws, version=1, stage="Production")
    svc.approval_policy_set(actor=owner, name=ws, transitions_need_approval=True)
    with pytest.raises(PermissionDenied) as excinfo:
        model_version_transition_stage(actor=owner, name=ws, version=2, stage="Production")
    assert "POST /api/2.0/mlflow/transition-requests/create" in excinfo.value.message
    req = svc.transition_request_create(actor=reader, name=ws, version=2, stage="production", comment="go")
    with pytest.raises(AlreadyExists):
        svc.transition_request_create(actor=reader, name=ws, version=2, stage="Production")
    with pytest.raises(PermissionDenied):
        svc.transition_request_approve(actor=reader, name=ws, version=2, stage="Production")
    svc.transition_request_reject(actor=owner, name=ws, version=2, stage="Production", comment="not yet")
    svc.transition_request_create(actor=reader, name=ws, version=2, stage="Production")
    done = svc.transition_request_approve(actor=owner, name=ws, version=2, stage="Production",
                                          archive_existing_versions=True, comment="ship")
    assert done.state == RequestState.APPROVED and done.archive_existing_versions
    stages = dict(ModelVersion.objects.filter(model__name=ws).values_list("version", "current_stage"))
    assert stages == {1: "Archived", 2: "Production"}
    assert StageTransitionRequest.objects.get(pk=req.pk).state == RequestState.REJECTED
    # the requester cancels their own; nobody else's without MANAGE
    svc.transition_request_create(actor=reader, name=ws, version=1, stage="Staging")
    with pytest.raises(NotFound):
        svc.transition_request_cancel(actor=owner, name=ws, version=1, stage="Staging")  # owner has none
    svc.transition_request_cancel(actor=owner, name=ws, version=1, stage="Staging", creator="reader")
    assert AuditEvent.objects.filter(action="transition_request.cancel", actor_name="owner").exists()


@pytest.mark.django_db
def test_unity_catalog_models_have_no_stage_approvals(iris, owner, reader):
    with pytest.raises(InvalidParameter):
        svc.approval_policy_set(actor=owner, name=iris, transitions_need_approval=True)
    with pytest.raises(InvalidParameter) as excinfo:
        svc.transition_request_create(actor=reader, name=iris, version=1, stage="Production")
    assert "alias" in excinfo.value.message
    assert model_get(actor=owner, name=iris).full_name == IRIS


@pytest.mark.django_db(transaction=True)
def test_concurrent_approvals_of_competing_requests_move_the_alias_once(governed, owner, reader, admin):
    """Ten requests for Champion (all opened while it was on version 1), approved at the same moment: the model's
    row lock lets one through; every other finds the alias moved and is refused as stale, still pending."""
    from tests.registry.test_concurrency import _run_together

    model = make_model(owner, IRIS)
    for _ in range(3):
        make_version(owner, IRIS)
    grant_add(actor=admin, securable=model, principal=reader, privilege="EXECUTE")
    alias_set(actor=owner, name=IRIS, alias="Champion", version=1)
    svc.protected_alias_add(actor=owner, name=IRIS, alias="Champion")
    requests = [svc.alias_request_create(actor=reader, name=IRIS, alias="Champion", version=2 + i % 2)
                for i in range(10)]
    results, errors = _run_together(10, lambda i: svc.alias_request_approve(actor=owner, request_id=requests[i].pk))
    winners = [r for r in results if r is not None]
    assert len(winners) == 1, errors
    assert all(isinstance(e, InvalidState) for e in errors if e is not None), errors
    assert champion(owner) == winners[0].version
    states = list(AliasChangeRequest.objects.values_list("state", flat=True))
    assert states.count(RequestState.APPROVED) == 1 and states.count(RequestState.PENDING) == 9
    approvals = AuditEvent.objects.filter(action="alias_request.approve")
    assert (approvals.filter(outcome="success").count(), approvals.filter(outcome="failed").count()) == (1, 9)


@pytest.mark.django_db
def test_deleting_the_version_of_a_protected_alias_is_refused(iris, owner):
    from registry.services.versions import model_version_delete

    before = state_fingerprint()
    with pytest.raises(PermissionDenied) as excinfo:
        model_version_delete(actor=owner, name=iris, version=1)
    assert "protected alias 'Champion'" in excinfo.value.message
    assert state_fingerprint() == before
    model_version_delete(actor=owner, name=iris, version=2)  # no protected alias on it


@pytest.mark.django_db
def test_every_request_and_decision_writes_its_event_in_the_same_transaction(ws, iris, owner, reader, admin,
                                                                            settings):
    import json

    from registry.events import names
    from registry.models import WebhookDelivery
    from registry.services.webhooks import webhook_create

    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    webhook_create(actor=admin, name="all", url="http://127.0.0.1:9/hook",
                   events=[{"entity": "REGISTERED_MODEL", "action": "CREATED"}],
                   explorer_events=list(names.APPROVAL_EVENTS))
    svc.approval_policy_set(actor=owner, name=ws, transitions_need_approval=True)
    svc.transition_request_create(actor=reader, name=ws, version=1, stage="Staging", comment="try")
    svc.transition_request_reject(actor=owner, name=ws, version=1, stage="Staging", comment="no")
    svc.transition_request_create(actor=reader, name=ws, version=1, stage="Staging")
    svc.transition_request_cancel(actor=reader, name=ws, version=1, stage="Staging")
    svc.transition_request_create(actor=reader, name=ws, version=1, stage="Staging")
    svc.transition_request_approve(actor=owner, name=ws, version=1, stage="Staging")
    req = svc.alias_request_create(actor=reader, name=iris, alias="Champion", version=2)
    svc.alias_request_cancel(actor=reader, request_id=req.pk)
    with pytest.raises(InvalidState):  # refused: no event for what did not happen
        svc.alias_request_approve(actor=owner, request_id=req.pk)
    rows = list(WebhookDelivery.objects.order_by("id"))
    assert [d.event for d in rows] == [
        "transition_request.created", "transition_request.rejected", "transition_request.created",
        "transition_request.cancelled", "transition_request.created", "transition_request.approved",
        "alias_change_request.created", "alias_change_request.cancelled"]
    approved = json.loads(rows[5].body)["data"]
    assert (approved["name"], approved["version"], approved["to_stage"], approved["decided_by"]) == (
        ws, "1", "Staging", "owner")
