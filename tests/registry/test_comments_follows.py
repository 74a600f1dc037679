"""Comments and follows through their services and the /api/2.0/explorer API: READ is enough to comment, the author
or a manager edits and deletes, every comment is a `comment.created` event in the outbox; a follower is emailed
(Django's locmem backend, sent by the outbox's own attempt function) only about what they may still read."""
from __future__ import annotations

import pytest
from django.core import mail

from registry.errors import InvalidParameter, NotFound, PermissionDenied
from registry.events import emails
from registry.models import AuditEvent, Comment, Follow, NotificationEmail, WebhookDelivery
from registry.services.comments import comment_create, comment_delete, comment_update
from registry.services.follows import follow_delete, follow_set
from registry.services.grants import grant_add, grant_remove
from registry.services.tags import version_tag_set
from registry.services.webhooks import webhook_create
from tests.registry.factories import make_model, make_version

NAME = "prod.ml_team.fraud"


@pytest.fixture(autouse=True)
def _locmem(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]


@pytest.fixture
def model(governed, owner, reader, admin):
    m = make_model(owner, NAME)
    grant_add(actor=admin, securable=m, principal=reader, privilege="EXECUTE")
    return m


def send_all() -> list:
    """What a worker does with every pending email, in this process (the locmem outbox is per process)."""
    for pk in NotificationEmail.objects.filter(state="PENDING").order_by("pk").values_list("pk", flat=True):
        emails.attempt(pk)
    return mail.outbox


def test_reader_comments_on_model_and_version_and_the_event_goes_to_the_outbox(model, owner, reader, admin):
    hook = webhook_create(actor=admin, name="all", url="http://127.0.0.1:9/h",
                          events=[{"entity": "MODEL_VERSION", "action": "CREATED"}],
                          explorer_events=["comment.created"])
    make_version(owner, NAME)
    on_model = comment_create(actor=reader, name=NAME, body="Looks **good**")
    on_version = comment_create(actor=reader, name=NAME, version=1, body="v1 is fine")
    assert (on_model.version_id, on_version.version.version) == (None, 1)
    assert AuditEvent.objects.filter(action="comment.create", actor_name="reader").count() == 2
    bodies = [d.body for d in WebhookDelivery.objects.filter(webhook=hook, event="comment.created").order_by("pk")]
    assert len(bodies) == 2 and '"body": "v1 is fine"' in bodies[1] and '"version": "1"' in bodies[1]


def test_outsider_cannot_comment_nor_learn_the_model_exists(model, outsider):
    with pytest.raises(NotFound):
        comment_create(actor=outsider, name=NAME, body="hi")
    with pytest.raises(NotFound) as missing:
        comment_create(actor=outsider, name="prod.ml_team.nothing_here", body="hi")
    assert str(missing.value).replace("nothing_here", "fraud") == str(NotFound(f"Registered Model with name={NAME} "
                                                                                "not found"))


def test_only_author_or_manager_edits_and_deletes(model, owner, reader, make_user, admin):
    other = make_user("other")
    for priv in ("USE CATALOG",):
        grant_add(actor=admin, securable=model.schema.catalog, principal=other, privilege=priv)
    grant_add(actor=admin, securable=model.schema, principal=other, privilege="USE SCHEMA")
    grant_add(actor=admin, securable=model, principal=other, privilege="EXECUTE")
    c = comment_create(actor=reader, name=NAME, body="first")
    with pytest.raises(PermissionDenied):
        comment_update(actor=other, comment_id=c.pk, body="hijack")
    with pytest.raises(PermissionDenied):
        comment_delete(actor=other, comment_id=c.pk)
    assert comment_update(actor=reader, comment_id=c.pk, body="first, edited").edited_at is not None
    comment_update(actor=owner, comment_id=c.pk, body="moderated")  # the owner may manage the model
    comment_delete(actor=owner, comment_id=c.pk)
    assert not Comment.objects.exists()
    with pytest.raises(InvalidParameter):
        comment_create(actor=reader, name=NAME, body="   ")


def test_comments_api_create_list_update_delete_and_errors(api, model, reader, outsider):
    client = api(reader)
    created = client.post("/api/2.0/explorer/comments", {"name": NAME, "body": "hello"}, format="json")
    assert created.status_code == 200, created.content
    comment = created.json()["comment"]
    assert comment["author"] == "reader" and comment["version"] is None
    listed = client.get("/api/2.0/explorer/comments", {"name": NAME}).json()["comments"]
    assert [c["body"] for c in listed] == ["hello"]
    patched = client.patch(f"/api/2.0/explorer/comments/{comment['comment_id']}", {"body": "hello!"}, format="json")
    assert patched.json()["comment"]["body"] == "hello!" and patched.json()["comment"]["last_edited_timestamp"]
    # The outsider: the same 404 for a hidden comment as for one that does not exist, and for the thread.
    hidden = api(outsider).get(f"/api/2.0/explorer/comments/{comment['comment_id']}")
    missing = api(outsider).get("/api/2.0/explorer/comments/999999")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error_code"] == missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert api(outsider).get("/api/2.0/explorer/comments", {"name": NAME}).status_code == 404
    for bad in ({"name": NAME}, {"name": NAME, "body": 3}, {"name": NAME, "body": "x", "extra": 1},
                {"name": NAME, "version": "abc", "body": "x"}, {"name": NAME, "body": "a\x00b"}):
        r = client.post("/api/2.0/explorer/comments", bad, format="json")
        assert r.status_code in (400, 404) and set(r.json()) >= {"error_code", "message"}, (bad, r.content)
    assert client.get("/api/2.0/explorer/comments/not-a-number").status_code == 404
    assert client.get("/api/2.0/explorer/comments/99999999999999999999999").status_code == 404
    assert client.delete(f"/api/2.0/explorer/comments/{comment['comment_id']}").status_code == 200
    assert client.get("/api/2.0/explorer/comments", {"name": NAME}).json()["comments"] == []


def test_follower_gets_an_email_for_chosen_events_only(model, owner, reader):
    follow_set(actor=reader, name=NAME, events=["model_version.created", "comment.created"])
    mv = make_version(owner, NAME)
    version_tag_set(actor=owner, name=NAME, version=mv.version, key="k", value="v")  # not chosen
    comment_create(actor=owner, name=NAME, body="Please review <b>v1</b>")
    comment_create(actor=reader, name=NAME, body="my own: no email to me")
    sent = send_all()
    assert [m.to for m in sent] == [["reader@example.com"]] * 2
    assert "A new version was registered: prod.ml_team.fraud version 1" in sent[0].subject
    assert "Please review <b>v1</b>" in sent[1].body and "you follow prod.ml_team.fraud" in sent[1].body
    assert AuditEvent.objects.filter(action="follow.set", actor_name="reader").exists()


def test_follower_who_loses_read_gets_nothing(model, owner, reader, admin):
    follow_set(actor=reader, name=NAME, events=["model_version.created"])
    make_version(owner, NAME)  # queued while the reader may read
    grant_remove(actor=admin, securable=model, principal=reader, privilege="EXECUTE")
    make_version(owner, NAME)  # after: not even queued
    assert send_all() == []
    assert list(NotificationEmail.objects.values_list("state", flat=True)) == ["SKIPPED"]


def test_schema_follower_hears_only_models_they_may_read(governed, owner, reader, admin):
    follow_set(actor=reader, schema="prod.ml_team")
    follow = Follow.objects.get(user=reader)
    assert follow.events[0] == "registered_model.created"
    hidden = make_model(owner, "prod.ml_team.secret")
    seen = make_model(owner, "prod.ml_team.open")
    grant_add(actor=admin, securable=seen, principal=reader, privilege="EXECUTE")
    make_version(owner, "prod.ml_team.secret")
    make_version(owner, "prod.ml_team.open")
    sent = send_all()
    assert [m.subject for m in sent] == ["[Catalog Explorer] A new version was registered: prod.ml_team.open version 1"]
    assert not any("secret" in m.body for m in sent) and hidden.pk


def test_unfollow_stops_emails_already_queued(model, owner, reader):
    follow_set(actor=reader, name=NAME, events=["model_version.created"])
    make_version(owner, NAME)
    follow_delete(actor=reader, name=NAME)
    assert send_all() == []


def test_follow_validation_and_api(api, model, reader, outsider):
    with pytest.raises(InvalidParameter):
        follow_set(actor=reader, name=NAME, events=["nope.nope"])
    with pytest.raises(InvalidParameter):
        follow_set(actor=reader, name=NAME, events=[])
    with pytest.raises(NotFound):
        follow_set(actor=outsider, name=NAME)
    client = api(reader)
    r = client.post("/api/2.0/explorer/follows", {"name": NAME, "events": ["comment.created"]}, format="json")
    assert r.status_code == 200 and r.json()["follow"]["events"] == ["comment.created"]
    assert client.get("/api/2.0/explorer/follows").json()["follows"][0]["name"] == NAME
    assert client.post("/api/2.0/explorer/follows", {"name": NAME, "schema": "prod.ml_team"},
                       format="json").status_code == 400
    assert client.delete("/api/2.0/explorer/follows", {"name": NAME}, format="json").status_code == 200
    assert client.get("/api/2.0/explorer/follows").json()["follows"] == []


def test_a_failing_mail_server_is_retried_then_failed(model, owner, reader, settings, monkeypatch):
    settings.EMAIL_MAX_ATTEMPTS = 2
    follow_set(actor=reader, name=NAME, events=["model_version.created"])
    make_version(owner, NAME)
    row = NotificationEmail.objects.get()

    def refuse(self, *a, **k):
        raise ConnectionRefusedError("smtp down")

    monkeypatch.setattr("django.core.mail.EmailMessage.send", refuse)
    assert emails.attempt(row.pk) > 0
    NotificationEmail.objects.filter(pk=row.pk).update(next_attempt_at=row.created_at)
    assert emails.attempt(row.pk) is None
    row.refresh_from_db()
    assert row.state == "FAILED" and "smtp down" in row.last_error and row.attempts == 2
