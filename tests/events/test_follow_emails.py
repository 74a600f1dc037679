"""Follow emails end to end: changes made through the services put emails in the outbox; a real Celery worker sends
them through Django's email backend (the file backend here, so this process can read what the worker sent). A
follower who loses READ gets nothing more, even for an email already queued; comments reach webhooks too."""
from __future__ import annotations

import json
from email import message_from_string
from pathlib import Path

import pytest

from registry.models import NotificationEmail
from registry.services.comments import comment_create
from registry.services.follows import follow_set
from registry.services.grants import grant_add, grant_remove
from registry.services.models import registered_model_create
from registry.services.webhooks import webhook_create
from tests.conftest import wait_for
from tests.registry.factories import make_version

NAME = "prod.ml_team.fraud"


def sent_emails(folder: Path) -> list:
    messages = []
    for path in sorted(folder.glob("*.log")):
        # The file backend writes each message followed by a line of dashes.
        for chunk in path.read_text().split("-" * 79):
            if chunk.strip():
                messages.append(message_from_string(chunk.strip()))
    return messages


def settled() -> bool:
    return not NotificationEmail.objects.filter(state__in=["PENDING", "SENDING"]).exists()


@pytest.mark.django_db(transaction=True)
def test_worker_emails_followers_only_what_they_may_read(governed, owner, reader, admin, start_worker, tmp_path,
                                                         receiver):
    folder = tmp_path / "mail"
    folder.mkdir()
    start_worker(EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend", EMAIL_FILE_PATH=str(folder))
    model = registered_model_create(actor=owner, name=NAME)
    grant_add(actor=admin, securable=model, principal=reader, privilege="EXECUTE")
    webhook_create(actor=owner, name="comments", url=receiver.url, model_name=NAME,
                   events=[{"entity": "MODEL_VERSION", "action": "CREATED"}], explorer_events=["comment.created"])
    follow_set(actor=reader, name=NAME, events=["model_version.created", "comment.created"])
    follow_set(actor=reader, schema="prod.ml_team", events=["registered_model.created"])

    make_version(owner, NAME)
    comment_create(actor=owner, name=NAME, version=1, body="Ready for **review**")
    registered_model_create(actor=owner, name="prod.ml_team.hidden")  # reader may not read it: no email
    wait_for(lambda: len(sent_emails(folder)) >= 2 and settled(), timeout=60, message="two emails sent")
    # One file per connection, named by time and object id: find them by event, not by order.
    by_event = {m["X-Catalog-Explorer-Event"]: m for m in sent_emails(folder)}
    first, second = by_event["model_version.created"], by_event["comment.created"]
    assert first["To"] == second["To"] == "reader@example.com"
    assert "prod.ml_team.fraud version 1" in " ".join(first["Subject"].split())  # the header may be folded
    assert "Ready for **review**" in second.get_payload()
    wait_for(lambda: "comment.created" in receiver.events(), timeout=30, message="the webhook hears the comment")
    comment = [p for p in receiver.payloads() if p["entity"] == "comment"][0]["data"]
    assert comment["body"] == "Ready for **review**" and comment["version"] == "1" and comment["author"] == "owner"

    # Loses READ: an email queued before is skipped at send time, and nothing new is queued.
    queued = NotificationEmail.objects.count()
    grant_remove(actor=admin, securable=model, principal=reader, privilege="EXECUTE")
    make_version(owner, NAME)
    assert NotificationEmail.objects.count() == queued
    wait_for(settled, timeout=30, message="outbox settled")
    assert len(sent_emails(folder)) == 2
    assert not any("hidden" in (m["Subject"] or "") for m in sent_emails(folder))
    assert set(NotificationEmail.objects.values_list("state", flat=True)) == {"SENT"}
    assert json.loads(json.dumps(list(NotificationEmail.objects.values_list("recipient__username", flat=True)))) \
        == ["reader", "reader"]


@pytest.mark.django_db(transaction=True)
def test_an_email_queued_before_losing_read_is_not_sent(governed, owner, reader, admin, start_worker, tmp_path):
    folder = tmp_path / "mail"
    folder.mkdir()
    model = registered_model_create(actor=owner, name=NAME)
    grant_add(actor=admin, securable=model, principal=reader, privilege="EXECUTE")
    follow_set(actor=reader, name=NAME, events=["model_version.created"])
    make_version(owner, NAME)  # queued; no worker is running yet
    assert NotificationEmail.objects.filter(state="PENDING").count() == 1
    grant_remove(actor=admin, securable=model, principal=reader, privilege="EXECUTE")
    start_worker(EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend", EMAIL_FILE_PATH=str(folder))
    wait_for(settled, timeout=60, message="the queued email decided")
    row = NotificationEmail.objects.get()
    assert row.state == "SKIPPED" and "may no longer read" in row.last_error
    assert sent_emails(folder) == []


@pytest.mark.django_db(transaction=True)
def test_an_email_whose_message_was_lost_is_sent_by_the_sweeper(governed, owner, reader, admin, start_worker,
                                                                 tmp_path):
    from explorer.celery import app
    from tests.events.conftest import EVENTS_QUEUE

    folder = tmp_path / "mail"
    folder.mkdir()
    model = registered_model_create(actor=owner, name=NAME)
    grant_add(actor=admin, securable=model, principal=reader, privilege="EXECUTE")
    follow_set(actor=reader, name=NAME, events=["model_version.created"])
    make_version(owner, NAME)
    with app.connection_for_write() as conn:  # the broker lost the message published at commit
        conn.default_channel.queue_purge(EVENTS_QUEUE)
    start_worker(EMAIL_BACKEND="django.core.mail.backends.filebased.EmailBackend", EMAIL_FILE_PATH=str(folder))
    wait_for(lambda: NotificationEmail.objects.filter(state="SENT").exists(), timeout=60,
             message="the sweeper republished the email")
    assert [m["To"] for m in sent_emails(folder)] == ["reader@example.com"]
