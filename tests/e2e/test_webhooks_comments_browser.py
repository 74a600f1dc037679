"""Comments, Follow and the webhooks UI in a real browser (Debian chromium through Playwright), two people in two
browser contexts: the reader comments on the model (htmx puts the thread in place; a <script>/javascript: comment
renders inert: no dialog, no error) and on a version, then follows the model; the owner creates a webhook on the
Webhooks tab (the secret shown once), tests it against a real receiver, reads the delivery log and redelivers; the
admin opens the registry-wide page. Every screen passes axe (no serious or critical) and fits 390 px; screenshots
docs/screenshots/collab-*.png (1440 px) and var/test/screenshots/responsive/collab-*-{desktop,phone}.png."""
from __future__ import annotations

import json

import pytest

from registry.models import Comment, Follow, Webhook, WebhookDelivery
from tests.e2e.browser import SHOTS as DOC_SHOTS
from tests.e2e.browser import sign_in, submit_and_reload
from tests.e2e.test_responsive_a11y import DESKTOP, PHONE, SHOTS, _problems
from tests.events.conftest import Receiver

pytestmark = pytest.mark.slow
MODEL = "prod.ml_team.iris"
HOSTILE = '<script>alert("xss")</script> [click me](javascript:alert(1)) <img src=x onerror="alert(2)"> **looks good**'


def _setup(owner, reader):
    from registry.services.grants import grant_add
    from registry.services.versions import model_version_mark_ready
    from tests.explorer.conftest import SIGNATURE
    from tests.registry.factories import make_model, make_version

    model = make_model(owner, MODEL, description="Classifies **iris** flowers.")
    for _ in range(2):
        mv = make_version(owner, MODEL)
        model_version_mark_ready(version_id=mv.pk, signature=SIGNATURE)
    grant_add(actor=owner, securable=model, principal=reader, privilege="EXECUTE")
    return model


def _check(page, name: str) -> list[str]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    DOC_SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size(DESKTOP)
    page.screenshot(path=str(DOC_SHOTS / f"{name}.png"), full_page=False)
    problems = _problems(page, name, "desktop")
    page.set_viewport_size(PHONE)
    problems += _problems(page, name, "phone")
    page.set_viewport_size(DESKTOP)
    return problems


def _open(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", state="attached")


def _context_page(browser_page):
    page = browser_page.context.browser.new_context(viewport=DESKTOP).new_page()
    page.errors = []
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))
    return page


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def test_comment_follow_and_manage_webhooks_in_the_browser(transactional_db, live_server, browser_page, settings,
                                                           admin, owner, reader, governed, receiver):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    _setup(owner, reader)
    base, problems, dialogs = live_server.url, [], []
    reader_page = browser_page
    reader_page.set_viewport_size(DESKTOP)
    reader_page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    sign_in(reader_page, base, "reader")

    # The reader comments: the thread is swapped in place (no reload), Markdown rendered, the script inert.
    _open(reader_page, f"{base}/models/{MODEL}/")
    reader_page.fill("#comment-new-body", HOSTILE)
    reader_page.click("#comments button:has-text('Comment')")
    reader_page.wait_for_selector("#comments .comment-body strong:has-text('looks good')")
    thread = reader_page.inner_html("#comments")
    assert "<script" not in thread and "javascript:" not in thread and "onerror" not in thread
    assert reader_page.input_value("#comment-new-body") == ""
    reader_page.fill("#comment-new-body", "Second thought: *v2* is better.")
    reader_page.click("#comments button:has-text('Comment')")
    reader_page.wait_for_selector("#comments .comment-body em:has-text('v2')")
    reader_page.locator("#comments").scroll_into_view_if_needed()
    problems += _check(reader_page, "collab-comments")
    assert dialogs == [] and Comment.objects.filter(version__isnull=True).count() == 2

    # And on a version: its own thread.
    _open(reader_page, f"{base}/models/{MODEL}/versions/2/")
    reader_page.fill("#comment-new-body", "Version 2 passed the **holdout** check.")
    reader_page.click("#comments button:has-text('Comment')")
    reader_page.wait_for_selector("#comments .comment-body strong:has-text('holdout')")
    assert Comment.objects.get(version__version=2).body.startswith("Version 2")

    # The reader follows the model: the dialog, then the button says so.
    _open(reader_page, f"{base}/models/{MODEL}/")
    reader_page.click(".object-actions a:has-text('Follow')")
    reader_page.wait_for_selector("#modal[open] input[value='comment.created']")
    reader_page.uncheck("#modal input[value='model_version_alias.created']")
    problems += _check(reader_page, "collab-follow-dialog")
    submit_and_reload(reader_page, "#modal button.primary:has-text('Follow')")
    reader_page.wait_for_selector(".object-actions a:has-text('Following')")
    follow = Follow.objects.get(user=reader)
    assert "comment.created" in follow.events and "model_version_alias.created" not in follow.events

    # A schema is followed the same way, from its page.
    _open(reader_page, f"{base}/schemas/prod.ml_team/")
    reader_page.click(".object-actions a:has-text('Follow')")
    reader_page.wait_for_selector("#modal[open] input[value='registered_model.created']:checked")
    submit_and_reload(reader_page, "#modal button.primary:has-text('Follow')")
    reader_page.wait_for_selector(".object-actions a:has-text('Following')")
    problems += _check(reader_page, "collab-schema-following")
    assert Follow.objects.filter(user=reader, schema__name="ml_team").exists()

    # The owner creates a webhook on the Webhooks tab; its secret is shown once.
    owner_page = _context_page(browser_page)
    sign_in(owner_page, base, "owner")
    _open(owner_page, f"{base}/models/{MODEL}/webhooks/")
    owner_page.click("a.button:has-text('New webhook')")
    owner_page.wait_for_selector("#modal[open] #id_name")
    owner_page.fill("#modal #id_name", "ci-notify")
    owner_page.fill("#modal #id_url", receiver.url)
    owner_page.check("#modal input[name=explorer_events][value='comment.created']")
    problems += _check(owner_page, "collab-webhook-dialog")
    owner_page.click("#modal button:has-text('Create')")
    owner_page.wait_for_selector("#modal[open] #webhook-secret")
    secret = owner_page.input_value("#modal #webhook-secret")
    assert len(secret) >= 32
    problems += _check(owner_page, "collab-webhook-secret")
    with owner_page.expect_navigation():
        owner_page.click("#modal a:has-text('Done')")
    owner_page.wait_for_selector("section.webhook h2:has-text('ci-notify')")
    assert secret not in owner_page.content()
    hook = Webhook.objects.get()

    # Test: sent now, signed, and in the log with its attempt; then Redeliver queues a copy.
    with owner_page.expect_navigation():
        owner_page.click("section.webhook button:has-text('Test')")
    owner_page.wait_for_selector(f".messages :text('Test delivered to {receiver.url}: HTTP 200.')")
    assert json.loads(receiver.requests[-1]["body"])["entity"] == "model_version"
    owner_page.wait_for_selector(".deliveries .attempt:has-text('#1 200')")
    problems += _check(owner_page, "collab-webhooks-tab")
    with owner_page.expect_navigation():
        owner_page.click(".deliveries button:has-text('Redeliver')")
    owner_page.wait_for_selector(".messages :text('Redelivery queued')")
    assert WebhookDelivery.objects.filter(webhook=hook).count() == 2

    # Disable, and the tab says so.
    with owner_page.expect_navigation():
        owner_page.click("section.webhook button:has-text('Disable')")
    owner_page.wait_for_selector("section.webhook .outcome:has-text('Disabled')")
    hook.refresh_from_db()
    assert hook.status == "DISABLED"

    # The registry-wide page, for the admin.
    from registry.services.webhooks import webhook_create

    webhook_create(actor=admin, name="audit-all", url=receiver.url, secret="s3cret",
                   events=[{"entity": "REGISTERED_MODEL", "action": "CREATED"}])
    admin_page = _context_page(browser_page)
    sign_in(admin_page, base, "admin")
    _open(admin_page, f"{base}/webhooks/")
    admin_page.wait_for_selector("section.webhook h2:has-text('audit-all')")
    assert admin_page.locator("section.webhook h2:has-text('ci-notify')").count() == 0  # a model's, not here
    problems += _check(admin_page, "collab-webhooks-admin")

    assert problems == []
    assert reader_page.errors == [] and owner_page.errors == [] and admin_page.errors == []
