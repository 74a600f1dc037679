"""The browser side of comments, follows and webhooks, through Django's test client: the thread on the model's and
the version's Overview (posted plainly and with htmx, Markdown rendered inert), edit and delete only for the author
or a manager; the Follow dialog on model and schema pages; the Webhooks tab's create (secret shown once), edit,
enable/disable, Test against a real receiver, Redeliver, delete; the registry-wide page for metastore admins only."""
from __future__ import annotations

import json

import pytest

from registry.models import AuditEvent, Comment, Follow, Webhook, WebhookDelivery
from registry.services.comments import comment_create
from registry.services.webhooks import webhook_create
from tests.events.conftest import Receiver
from tests.explorer.conftest import MODEL

OVERVIEW = f"/models/{MODEL}/"
HOOKS = f"/models/{MODEL}/webhooks/"
HOSTILE = ('<script>alert("x")</script><img src=x onerror=alert(1)> [click](javascript:alert(1)) '
           '<a href="javascript:alert(2)">a</a> **bold**')


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


@pytest.fixture(autouse=True)
def _loopback(settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]


def test_reader_posts_a_comment_that_renders_inert(client_for, reader, iris):
    client = client_for(reader)
    assert client.post(f"{OVERVIEW}comments/", {"body": HOSTILE}).status_code == 302
    html = client.get(OVERVIEW).content.decode()
    thread = html[html.index('id="comments"'):]
    assert "<strong>bold</strong>" in thread
    for bad in ("<script>alert", "onerror", "javascript:", "<img src=x"):
        assert bad not in thread, bad


def test_htmx_post_swaps_the_thread_and_a_version_has_its_own(client_for, reader, iris):
    client = client_for(reader)
    r = client.post(f"{OVERVIEW}versions/1/comments/", {"body": "v1 *ok*"}, HTTP_HX_REQUEST="true")
    assert r.status_code == 200 and r.content.decode().lstrip().startswith('<section class="panel comments"')
    assert "<em>ok</em>" in r.content.decode()
    assert "v1 <em>ok</em>" not in client.get(OVERVIEW).content.decode()  # the model's thread is another
    empty = client.post(f"{OVERVIEW}versions/1/comments/", {"body": "  "}, HTTP_HX_REQUEST="true")
    assert empty.status_code == 400 and 'role="alert"' in empty.content.decode()
    assert Comment.objects.count() == 1


def test_only_author_or_manager_may_edit_or_delete(client_for, reader, owner, outsider, member, iris, admin):
    from registry.services.grants import grant_add

    grant_add(actor=admin, securable=iris.schema.catalog, principal=member, privilege="USE CATALOG")
    grant_add(actor=admin, securable=iris.schema, principal=member, privilege="USE SCHEMA")
    grant_add(actor=admin, securable=iris, principal=member, privilege="EXECUTE")
    c = comment_create(actor=reader, name=MODEL, body="mine")
    assert f"/comments/{c.pk}/edit/" in client_for(reader).get(OVERVIEW).content.decode()
    assert f"/comments/{c.pk}/edit/" not in client_for(member).get(OVERVIEW).content.decode()
    assert client_for(member).post(f"/comments/{c.pk}/edit/", {"body": "x"}).status_code == 403
    assert client_for(outsider).get(f"/comments/{c.pk}/edit/").status_code == 404
    assert client_for(reader).post(f"/comments/{c.pk}/edit/", {"body": "mine, edited"}).status_code == 302
    assert Comment.objects.get().body == "mine, edited"
    assert client_for(owner).post(f"/comments/{c.pk}/delete/").status_code == 302  # a manager moderates
    assert not Comment.objects.exists()
    assert AuditEvent.objects.filter(action="comment.delete", actor_name="owner").exists()


def test_follow_a_model_and_a_schema_from_their_pages(client_for, reader, iris):
    client = client_for(reader)
    assert 'href="/follow/model/prod.ml_team.iris/"' in client.get(OVERVIEW).content.decode()
    assert 'href="/follow/schema/prod.ml_team/"' in client.get("/schemas/prod.ml_team/").content.decode()
    dialog = client.get("/follow/model/prod.ml_team.iris/").content.decode()
    assert "reader@example.com" in dialog and "registered_model.created" not in dialog
    assert client.post("/follow/model/prod.ml_team.iris/", {"events": ["comment.created"]}).status_code == 302
    assert client.post("/follow/schema/prod.ml_team/", {"events": ["registered_model.created"]}).status_code == 302
    assert sorted(Follow.objects.values_list("events", flat=True)) == [["comment.created"],
                                                                        ["registered_model.created"]]
    assert "✓ Following" in client.get(OVERVIEW).content.decode()
    assert client.post("/follow/model/prod.ml_team.iris/", {"unfollow": "1"}).status_code == 302
    assert Follow.objects.count() == 1
    bad = client.post("/follow/model/prod.ml_team.iris/", {"events": ["nope"]})
    assert bad.status_code == 200 and 'role="alert"' in bad.content.decode()


def test_outsider_cannot_follow_what_it_may_not_see(client_for, outsider, iris):
    assert client_for(outsider).get("/follow/model/prod.ml_team.iris/").status_code == 404
    assert client_for(outsider).get("/follow/model/prod.ml_team.nope/").status_code == 404
    assert client_for(outsider).get("/follow/thing/x/").status_code == 404


def test_owner_creates_tests_disables_edits_redelivers_and_deletes_a_webhook(client_for, owner, iris, receiver):
    client = client_for(owner)
    created = client.post(f"{HOOKS}new/", {"name": "ci", "url": receiver.url, "description": "tell CI",
                                           "mlflow_events": ["model_version.created"],
                                           "explorer_events": ["comment.created"], "new_secret": "on"})
    html = created.content.decode()
    assert created.status_code == 200 and "never shown again" in html
    hook = Webhook.objects.get()
    assert hook.model_id == iris.pk and hook.events == ["model_version.created", "comment.created"]
    secret = html.split('id="webhook-secret"')[1].split('value="')[1].split('"')[0]
    assert len(secret) >= 32 and secret not in client.get(HOOKS).content.decode()  # shown once

    tested = client.post(f"/webhooks/{hook.webhook_id}/test/", follow=True)
    assert f"Test delivered to {receiver.url}: HTTP 200." in tested.content.decode()
    sent = receiver.requests[-1]
    assert json.loads(sent["body"])["entity"] == "model_version" and sent["headers"]["x-mlflow-signature"]

    page = client.get(HOOKS).content.decode()
    test_delivery = WebhookDelivery.objects.get(is_test=True)
    assert f"/deliveries/{test_delivery.delivery_id}/redeliver/" in page and "#1 200 ·" in page

    again = client.post(f"/deliveries/{test_delivery.delivery_id}/redeliver/", follow=True)
    assert "Redelivery queued" in again.content.decode()
    copy = WebhookDelivery.objects.exclude(pk=test_delivery.pk).get()
    assert copy.body == test_delivery.body and copy.state == "PENDING" and copy.delivery_id != test_delivery.delivery_id

    assert client.post(f"/webhooks/{hook.webhook_id}/status/").status_code == 302
    hook.refresh_from_db()
    assert hook.status == "DISABLED"
    assert "Enable" in client.get(HOOKS).content.decode()

    edited = client.post(f"/webhooks/{hook.webhook_id}/edit/", {
        "name": "ci2", "url": receiver.url + "/v2", "description": "", "status": "ACTIVE",
        "mlflow_events": ["model_version.created", "model_version_alias.created"]})
    assert edited.status_code == 302
    hook.refresh_from_db()
    assert (hook.name, hook.status, hook.url) == ("ci2", "ACTIVE", receiver.url + "/v2")
    assert hook.secret_encrypted  # kept: no new secret asked for

    refused = client.post(f"/webhooks/{hook.webhook_id}/edit/", {"name": "bad name!", "url": "ftp://x",
                                                                 "status": "ACTIVE", "mlflow_events": []})
    assert refused.status_code == 200 and refused.content.decode().count('role="alert"') >= 1

    assert client.post(f"/webhooks/{hook.webhook_id}/delete/").status_code == 302
    assert not Webhook.objects.exists()
    actions = set(AuditEvent.objects.filter(actor_name="owner", action__startswith="webhook.")
                  .values_list("action", flat=True))
    assert actions >= {"webhook.create", "webhook.test", "webhook.redeliver", "webhook.update", "webhook.delete"}


def test_a_failed_test_says_why(client_for, owner, iris, receiver):
    receiver.default = 500
    hook = webhook_create(actor=owner, name="down", url=receiver.url, model_name=MODEL,
                          events=[{"entity": "MODEL_VERSION", "action": "CREATED"}])
    page = client_for(owner).post(f"/webhooks/{hook.webhook_id}/test/", follow=True).content.decode()
    assert f"Test failed: {receiver.url} answered HTTP 500." in page


def test_reader_and_outsider_see_no_webhooks(client_for, reader, outsider, owner, iris):
    hook = webhook_create(actor=owner, name="ci", url="http://127.0.0.1:9/h", model_name=MODEL,
                          events=[{"entity": "MODEL_VERSION", "action": "CREATED"}])
    for user in (reader, outsider):
        client = client_for(user)
        for url in (HOOKS, f"{HOOKS}new/", f"/webhooks/{hook.webhook_id}/edit/", "/webhooks/", "/webhooks/new/"):
            assert client.get(url).status_code == 404, (user, url)
        assert client.post(f"/webhooks/{hook.webhook_id}/status/").status_code == 404
        assert client.post(f"/webhooks/{hook.webhook_id}/test/").status_code == 404
    assert client_for(reader).post("/deliveries/not-a-uuid/redeliver/").status_code == 404
    assert client_for(reader).get("/comments/99999999999999999999999/edit/").status_code == 404
    assert Webhook.objects.get().status == "ACTIVE"


def test_admin_page_lists_and_creates_registry_wide_webhooks(client_for, admin, owner, iris, receiver):
    webhook_create(actor=owner, name="one-model", url=receiver.url, model_name=MODEL,
                   events=[{"entity": "MODEL_VERSION", "action": "CREATED"}])
    client = client_for(admin)
    form = client.get("/webhooks/new/").content.decode()
    assert "registered_model.created" in form
    r = client.post("/webhooks/new/", {"name": "everything", "url": receiver.url,
                                       "mlflow_events": ["registered_model.created"]})
    assert r.status_code == 302  # no secret asked for: nothing to show
    page = client.get("/webhooks/").content.decode()
    assert "everything" in page and "one-model" not in page and "(1 in all)" in page
    assert Webhook.objects.get(name="everything").model_id is None
