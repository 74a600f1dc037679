"""The Approvals tab, the Request change dialog and a request's page, per persona: a reader asks, the owner
protects and decides, an outsider sees nothing; the alias dialog refuses a protected alias with the route."""
from __future__ import annotations

import pytest
from django.urls import reverse

from registry.models import AliasChangeRequest, ModelAlias, RequestState
from registry.services import approvals as svc
from tests.explorer.conftest import MODEL

TAB = reverse("explorer:model_approvals", args=[MODEL])
SETTINGS = reverse("explorer:model_approval_settings", args=[MODEL])
DIALOG = reverse("explorer:alias_request_create", args=[MODEL])


def page(req) -> str:
    return reverse("explorer:alias_request", args=[MODEL, req.pk])


@pytest.mark.django_db
def test_owner_protects_reader_requests_owner_approves_in_the_ui(iris, owner, reader, client_for):
    owner_ui, reader_ui = client_for(owner), client_for(reader)
    assert reader_ui.post(SETTINGS, {"op": "protect", "alias": "Champion"}).status_code == 403
    assert owner_ui.post(SETTINGS, {"op": "protect", "alias": "Champion"}).status_code == 302
    overview = owner_ui.get(reverse("explorer:model", args=[MODEL])).content.decode()
    assert "lock-icon" in overview and "(protected)" in overview

    # The alias dialog refuses the owner and says where to ask.
    refused = owner_ui.post(reverse("explorer:aliases", args=[MODEL]), {"alias": "Champion", "version": 2})
    assert "is protected: it moves only through an approved request" in refused.content.decode()
    assert ModelAlias.objects.get().version.version == 1

    tab = reader_ui.get(TAB).content.decode()
    assert "@Champion" in tab and "Request change" in tab and "Unprotect" not in tab
    dialog = reader_ui.post(DIALOG, {"alias": "Champion", "action": "MOVE", "version": 2, "comment": "v2 wins"})
    assert dialog.status_code == 302
    req = AliasChangeRequest.objects.get()
    shown = reader_ui.get(page(req)).content.decode()
    assert "Move @Champion to version 2" in shown and "Current (version 1) and proposed (version 2)" in shown
    assert 'value="approve"' not in shown and 'value="cancel"' in shown  # one's own request: cancel only
    decide = owner_ui.get(page(req)).content.decode()
    assert 'value="approve"' in decide and 'value="reject"' in decide
    assert owner_ui.post(page(req), {"decision": "approve", "comment": "ok"}).status_code == 302
    assert ModelAlias.objects.get().version.version == 2
    assert AliasChangeRequest.objects.get().state == RequestState.APPROVED
    assert "Before (version 1) and requested (version 2)" in owner_ui.get(page(req)).content.decode()
    assert "Approved" in owner_ui.get(TAB).content.decode()


@pytest.mark.django_db
def test_outsider_sees_no_tab_no_request_and_bad_input_is_no_500(iris, owner, reader, outsider, client_for):
    svc.protected_alias_add(actor=owner, name=MODEL, alias="Champion")
    req = svc.alias_request_create(actor=reader, name=MODEL, alias="Champion", version=2)
    outsider_ui = client_for(outsider)
    for url in (TAB, DIALOG, page(req)):
        assert outsider_ui.get(url).status_code == 404
    assert outsider_ui.post(page(req), {"decision": "approve"}).status_code == 404
    owner_ui = client_for(owner)
    assert owner_ui.get(reverse("explorer:alias_request", args=[MODEL, 999999])).status_code == 404
    assert owner_ui.post(page(req), {"decision": "explode"}).status_code == 400
    assert owner_ui.post(SETTINGS, {"op": "protect", "alias": "bad alias"}).status_code == 400
    assert owner_ui.post(SETTINGS, {"op": "unprotect", "alias": "Nope"}).status_code == 400
    bad = client_for(reader).post(DIALOG, {"alias": "Champion", "action": "MOVE", "version": 99})
    assert bad.status_code == 200 and "not found" in bad.content.decode()


@pytest.fixture
def ws(owner, reader):
    from registry.models import Grant
    from tests.registry.factories import make_model, make_version

    model = make_model(owner, "fraud_ws")
    make_version(owner, "fraud_ws")
    make_version(owner, "fraud_ws")
    Grant.objects.create(model=model, user=reader, privilege="EXECUTE")
    return model


@pytest.mark.django_db
def test_stage_transition_requests_on_the_tab_and_the_inbox(ws, owner, reader, outsider, client_for):
    from registry.models import ModelVersion, StageTransitionRequest

    tab = reverse("explorer:model_approvals", args=["fraud_ws"])
    action = reverse("explorer:transition_request_action", args=["fraud_ws"])
    settings_url = reverse("explorer:model_approval_settings", args=["fraud_ws"])
    owner_ui, reader_ui = client_for(owner), client_for(reader)
    assert owner_ui.post(settings_url, {"op": "transitions", "transitions_need_approval": "on"}).status_code == 302
    assert "Stage transitions need an approved request" in owner_ui.get(tab).content.decode()
    refused = owner_ui.post(reverse("explorer:version_stage", args=["fraud_ws", 2]), {"stage": "Production"})
    assert "need an approved transition request" in refused.content.decode()

    assert reader_ui.post(action, {"op": "create", "version": 2, "stage": "Production", "comment": "ready"}
                          ).status_code == 302
    assert reader_ui.post(action, {"op": "create", "version": 2, "stage": "Production"}).status_code == 400  # twice
    assert reader_ui.post(action, {"op": "approve", "version": 2, "stage": "Production"}).status_code == 403
    inbox = owner_ui.get(reverse("explorer:requests")).content.decode()
    assert "Version 2 to Production" in inbox
    assert "Version 2 to Production" not in reader_ui.get(reverse("explorer:requests")).content.decode()
    assert client_for(outsider).post(action, {"op": "create", "version": 2, "stage": "Production"}).status_code == 404
    shown = owner_ui.get(tab).content.decode()
    assert 'value="approve"' in shown and "ready" in shown
    assert owner_ui.post(action, {"op": "approve", "version": 2, "stage": "Production", "comment": "ship",
                                  "archive_existing_versions": "on"}).status_code == 302
    assert ModelVersion.objects.get(model=ws, version=2).current_stage == "Production"
    assert StageTransitionRequest.objects.get().decision_comment == "ship"
    assert owner_ui.post(action, {"op": "explode"}).status_code == 400
    assert owner_ui.post(action, {"op": "create", "version": "x", "stage": "Nope"}).status_code == 400
