"""Approvals in a real browser (Debian chromium through Playwright), two people in two browser contexts: the owner
protects Champion on the Approvals tab; the reader opens "Request change" (move Champion to version 3); the owner
reads the request's page (the compare view of versions 1 and 3), rejects it with a comment; the reader asks again;
the owner approves; Champion moves. The events are written to the outbox for a webhook, the audit rows are there,
and the alias dialog refuses the protected alias. Every screen passes axe and fits a phone; screenshots:
docs/screenshots/approvals-*.png (1440 px) and var/test/screenshots/responsive/approvals-*-{desktop,phone}.png."""
from __future__ import annotations

import pytest

from registry.models import AliasChangeRequest, AuditEvent, ModelAlias, RequestState, WebhookDelivery
from tests.e2e.browser import SHOTS as DOC_SHOTS
from tests.e2e.browser import sign_in, submit_and_reload
from tests.e2e.test_responsive_a11y import DESKTOP, PHONE, SHOTS, _problems

pytestmark = pytest.mark.slow
MODEL = "prod.ml_team.iris"


def _setup(owner, reader, admin):
    from registry.services.aliases import alias_set
    from registry.services.grants import grant_add
    from registry.services.versions import model_version_mark_ready
    from registry.services.webhooks import webhook_create
    from tests.explorer.conftest import SIGNATURE
    from tests.registry.factories import make_model, make_version

    model = make_model(owner, MODEL, description="Classifies **iris** flowers.")
    for n in range(3):
        mv = make_version(owner, MODEL)
        signature = SIGNATURE if n < 2 else {**SIGNATURE, "inputs": SIGNATURE["inputs"] + [
            {"type": "double", "name": "petal_length", "required": True}]}
        model_version_mark_ready(version_id=mv.pk, signature=signature)
    alias_set(actor=owner, name=MODEL, alias="Champion", version=1)
    grant_add(actor=owner, securable=model, principal=reader, privilege="EXECUTE")
    webhook_create(actor=admin, name="ci", url="http://127.0.0.1:9/hook",
                   events=[{"entity": "REGISTERED_MODEL", "action": "CREATED"}],
                   explorer_events=["alias_change_request.created", "alias_change_request.rejected",
                                    "alias_change_request.approved"])
    return model


def _check(page, name: str, *, doc: bool = True) -> list[str]:
    """axe and the phone's width on the screen as it is; a 1440 px screenshot for the docs."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(DESKTOP)
    if doc:
        DOC_SHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(DOC_SHOTS / f"{name}.png"), full_page=False)
    problems = _problems(page, name, "desktop")
    page.set_viewport_size(PHONE)
    problems += _problems(page, name, "phone")
    page.set_viewport_size(DESKTOP)
    return problems


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", state="attached")


def _request_change(page, base: str, *, comment: str) -> None:
    _open(page, f"{base}/models/{MODEL}/approvals/")
    page.click("a.button:has-text('Request change')")
    page.wait_for_selector("#modal[open] #id_alias")
    page.fill("#modal #id_alias", "Champion")
    page.check("#modal input[name=action][value=MOVE]")
    page.fill("#modal #id_version", "3")
    page.fill("#modal #id_comment", comment)


def test_request_reject_request_again_approve_in_the_browser(transactional_db, live_server, browser_page, admin,
                                                             owner, reader, governed, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]  # the outbox is asserted; nothing is delivered (no worker)
    _setup(owner, reader, admin)
    base, problems = live_server.url, []
    owner_page = browser_page
    reader_page = owner_page.context.browser.new_context(viewport=DESKTOP).new_page()
    reader_page.errors = []
    reader_page.on("console", lambda m: reader_page.errors.append(m.text) if m.type == "error" else None)
    reader_page.on("pageerror", lambda exc: reader_page.errors.append(str(exc)))
    owner_page.set_viewport_size(DESKTOP)
    sign_in(owner_page, base, "owner")
    sign_in(reader_page, base, "reader")

    # The owner protects Champion on the Approvals tab.
    _open(owner_page, f"{base}/models/{MODEL}/")
    owner_page.click("nav.tabs a:has-text('Approvals')")
    owner_page.wait_for_selector("#protected-h")
    owner_page.fill("#id_alias", "Champion")
    with owner_page.expect_navigation():
        owner_page.click(".protect-form button:has-text('Protect')")
    owner_page.wait_for_selector(".protected-list .chip:has-text('@Champion')")

    # The alias dialog now refuses Champion as it is typed.
    _open(owner_page, f"{base}/models/{MODEL}/")
    owner_page.wait_for_selector("#aliases-h")
    assert owner_page.locator("section[aria-labelledby=aliases-h] .chip .lock-icon").count() == 1
    owner_page.click("section[aria-labelledby=aliases-h] a.button:has-text('Edit')")
    owner_page.wait_for_selector("#modal[open] #id_alias")
    owner_page.fill("#modal #id_alias", "Champion")
    owner_page.wait_for_selector("#modal :text('is protected: it moves only through an approved request')")
    owner_page.keyboard.press("Escape")

    # The reader asks: move Champion to version 3.
    _request_change(reader_page, base, comment="v3 adds petal_length")
    problems += _check(reader_page, "approvals-request-dialog")
    submit_and_reload(reader_page, "#modal button:has-text('Open request')")
    reader_page.wait_for_selector("h2:has-text('Move @Champion to version 3')")
    first = AliasChangeRequest.objects.get()
    assert reader_page.locator("button[value=approve]").count() == 0  # one's own request: cancel only

    # The owner reads the diff and rejects.
    _open(owner_page, f"{base}/models/{MODEL}/approvals/")
    owner_page.click(f"a:has-text('#{first.pk}')")
    owner_page.wait_for_selector("h2:has-text('Current (version 1) and proposed (version 3)')")
    assert owner_page.locator("#cmp-signature-h").count() == 1
    assert owner_page.locator("tr.differs th:has-text('petal_length')").count() == 1
    problems += _check(owner_page, "approvals-request")
    owner_page.fill("#id_comment", "Add a validation run first.")
    with owner_page.expect_navigation():
        owner_page.click("button[value=reject]")
    owner_page.wait_for_selector("#decision-h:has-text('Rejected')")
    assert ModelAlias.objects.get().version.version == 1

    # The reader asks again; the owner approves; Champion moves.
    _request_change(reader_page, base, comment="validated: accuracy 0.97")
    submit_and_reload(reader_page, "#modal button:has-text('Open request')")
    second = AliasChangeRequest.objects.exclude(pk=first.pk).get()
    _open(owner_page, f"{base}/models/{MODEL}/approvals/")
    problems += _check(owner_page, "approvals-tab")
    owner_page.click(f"a:has-text('#{second.pk}')")
    owner_page.fill("#id_comment", "Looks good.")
    with owner_page.expect_navigation():
        owner_page.click("button[value=approve]")
    owner_page.wait_for_selector("#decision-h:has-text('Approved')")
    problems += _check(owner_page, "approvals-approved")
    assert ModelAlias.objects.get().version.version == 3
    assert list(AliasChangeRequest.objects.order_by("id").values_list("state", flat=True)) == [
        RequestState.REJECTED, RequestState.APPROVED]

    # Events in the outbox for the webhook, and the audit trail.
    assert list(WebhookDelivery.objects.order_by("id").values_list("event", flat=True)) == [
        "alias_change_request.created", "alias_change_request.rejected", "alias_change_request.created",
        "alias_change_request.approved"]
    assert list(AuditEvent.objects.filter(action__startswith="alias_request.").order_by("id").values_list(
        "action", "actor_name")) == [("alias_request.create", "reader"), ("alias_request.reject", "owner"),
                                     ("alias_request.create", "reader"), ("alias_request.approve", "owner")]
    assert not problems, problems
    assert not owner_page.errors, owner_page.errors
    assert not reader_page.errors, reader_page.errors
    reader_page.context.close()


def test_stage_transition_request_in_the_browser(transactional_db, live_server, browser_page, owner, reader):
    """A workspace model whose transitions need approval: the reader requests Production on the Approvals tab, the
    owner approves it there (archiving the version in Production); the tab passes axe and fits a phone."""
    from registry.models import Grant, ModelVersion
    from registry.services.approvals import approval_policy_set
    from registry.services.versions import model_version_transition_stage
    from tests.registry.factories import make_model, make_version

    model = make_model(owner, "fraud_ws")
    make_version(owner, "fraud_ws")
    make_version(owner, "fraud_ws")
    model_version_transition_stage(actor=owner, name="fraud_ws", version=1, stage="Production")
    Grant.objects.create(model=model, user=reader, privilege="EXECUTE")
    approval_policy_set(actor=owner, name="fraud_ws", transitions_need_approval=True)
    base, problems = live_server.url, []
    owner_page = browser_page
    reader_page = owner_page.context.browser.new_context(viewport=DESKTOP).new_page()
    sign_in(reader_page, base, "reader")
    _open(reader_page, f"{base}/models/fraud_ws/approvals/")
    reader_page.fill("#id_version", "2")
    reader_page.select_option("#id_stage", "Production")
    reader_page.fill(".transition-request-form #id_comment", "beats v1 on recall")
    with reader_page.expect_navigation():
        reader_page.click("button:has-text('Request transition')")
    reader_page.wait_for_selector("td:has-text('beats v1 on recall')")
    assert reader_page.locator(".transition-decision button[value=approve]").count() == 0

    owner_page.set_viewport_size(DESKTOP)
    sign_in(owner_page, base, "owner")
    _open(owner_page, f"{base}/requests/")
    owner_page.wait_for_selector("a:has-text('Version 2 to Production')")
    problems += _check(owner_page, "approvals-inbox", doc=False)
    owner_page.click("a:has-text('Version 2 to Production')")
    owner_page.wait_for_selector(".transition-decision")
    problems += _check(owner_page, "approvals-transitions")
    owner_page.check(".transition-decision input[name=archive_existing_versions]")
    owner_page.fill(".transition-decision input[name=comment]", "ship")
    with owner_page.expect_navigation():
        owner_page.click(".transition-decision button[value=approve]")
    owner_page.wait_for_selector("td .chip:has-text('Approved')")
    stages = dict(ModelVersion.objects.filter(model=model).values_list("version", "current_stage"))
    assert stages == {1: "Archived", 2: "Production"}
    assert not problems, problems
    assert not owner_page.errors, owner_page.errors
    reader_page.context.close()
