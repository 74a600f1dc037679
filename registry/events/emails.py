"""Email notifications of followers, the outbox's second channel. `queue` runs inside the service's transaction
(called by outbox.emit): one NotificationEmail row per follower who chose the event and may read the model, with
the text as that follower may read it. A worker sends it through Django's email backend after commit, checking
again that the follow still asks for it and the follower may still read the model; the sweeper republishes a row
whose message was lost. Nothing here knows about URLs: the email names the model, the page is found by its name."""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from registry import permissions
from registry.jobs import LeaseHeld
from registry.models import Follow, NotificationEmail, RegisteredModel

log = logging.getLogger(__name__)

_WHAT = {
    "registered_model.created": "A model was created",
    "model_version.created": "A new version was registered",
    "model_version_tag.set": "A version tag was set",
    "model_version_tag.deleted": "A version tag was removed",
    "model_version_alias.created": "An alias was set",
    "model_version_alias.deleted": "An alias was removed",
    "model_version.ready": "A version is ready",
    "model_version.failed_registration": "A version failed to register",
    "model_version.copied": "A version was copied in",
    "model_version.stage_transitioned": "A version changed stage",
    "comment.created": "New comment",
    "alias_change_request.created": "An alias change was requested",
    "alias_change_request.approved": "An alias change was approved",
    "alias_change_request.rejected": "An alias change was rejected",
    "alias_change_request.cancelled": "An alias change request was cancelled",
    "transition_request.created": "A stage transition was requested",
    "transition_request.approved": "A stage transition was approved",
    "transition_request.rejected": "A stage transition was rejected",
    "transition_request.cancelled": "A stage transition request was cancelled",
}


def describe(event: str) -> str:
    return _WHAT.get(event, event)


def event_label(event: str) -> str:
    """How a form lists an event: its sentence and its name, or the name alone when it has no sentence."""
    return f"{_WHAT[event]} ({event})" if event in _WHAT else event


def may_read(user, model: RegisteredModel | None) -> bool:
    """In SQL over the row, for this user (the row at hand was loaded for whoever acted)."""
    if user is None or not user.is_active or model is None:
        return False
    return permissions.restrict(user, RegisteredModel.objects.filter(pk=model.pk)).exists()


def _followers(event: str, model: RegisteredModel) -> list[Follow]:
    scope = Q(model=model)
    if model.schema_id:
        scope |= Q(schema_id=model.schema_id)
    follows = Follow.objects.filter(scope, user__is_active=True).select_related("user").order_by("model_id", "id")
    chosen: dict[int, Follow] = {}
    for follow in follows:  # few per model; the event list is JSON, filtered here as outbox.listeners does
        if event in follow.events and follow.user_id not in chosen:
            chosen[follow.user_id] = follow  # one email per person, the model's own follow first
    return list(chosen.values())


def compose(event: str, data: dict, follow: Follow) -> tuple[str, str]:
    """Subject and plain-text body of one notification."""
    name = data.get("name", "")
    version = data.get("version")
    subject = f"[Catalog Explorer] {describe(event)}: {name}{f' version {version}' if version else ''}"
    lines = [f"{describe(event)} ({event})", "", f"Model: {name}"]
    if version:
        lines.append(f"Version: {version}")
    for key, value in data.items():
        if key in ("name", "version", "body") or value in (None, "", {}, []):
            continue
        lines.append(f"{key.replace('_', ' ').capitalize()}: {value}")
    if event == "comment.created" and data.get("body"):
        lines += ["", data["body"]]
    target = follow.model.full_name if follow.model_id else f"the schema {follow.schema.full_name}"
    lines += ["", f"You get this email because you follow {target} in Catalog Explorer. "
                  "Unfollow, or choose other events, with the Follow button on its page."]
    return subject[:300], "\n".join(lines)


def queue(event: str, *, model: RegisteredModel | None, data: dict | Callable) -> list[NotificationEmail]:
    """Write the emails of `event` in the caller's transaction."""
    if model is None:
        return []
    now = timezone.now()
    rows = []
    for follow in _followers(event, model):
        user = follow.user
        if not user.email or not may_read(user, model):
            continue  # never an email about what the follower may not read
        payload = data(user) if callable(data) else data
        if payload is None:
            continue
        if event == "comment.created" and payload.get("author") == user.get_username():
            continue  # nobody needs an email about their own comment
        subject, body = compose(event, payload, follow)
        rows.append(NotificationEmail(recipient=user, follow=follow, event=event, model=model, subject=subject,
                                      body=body, next_attempt_at=now))
    if rows:
        NotificationEmail.objects.bulk_create(rows)
        ids = [row.pk for row in rows]
        transaction.on_commit(lambda: publish(ids), robust=True)
    return rows


def publish(email_ids: list[int]) -> None:
    """Hand emails to the workers (after commit); what fails is logged and left to the sweeper."""
    from registry.tasks import deliver_email

    for pk in email_ids:
        task_id = str(uuid.uuid4())
        try:
            NotificationEmail.objects.filter(pk=pk).update(celery_task_id=task_id)
            deliver_email.apply_async(args=[pk], task_id=task_id, retry=False,
                                      queue=settings.CELERY_TASK_DEFAULT_QUEUE)
        except Exception:  # broker or database down
            log.warning("could not publish notification email %s; the sweeper will", pk, exc_info=True)


def _skip(row: NotificationEmail, why: str) -> None:
    row.state, row.last_error, row.lease_expires_at = NotificationEmail.State.SKIPPED, why, None
    row.save(update_fields=["state", "last_error", "lease_expires_at"])


def _claim(pk: int, task_id: str):
    now = timezone.now()
    with transaction.atomic():
        row = (NotificationEmail.objects.select_for_update(of=("self",)).select_related("recipient", "model", "follow")
               .filter(pk=pk).first())
        if row is None or row.state not in (NotificationEmail.State.PENDING, NotificationEmail.State.SENDING):
            return None
        if row.state == NotificationEmail.State.SENDING and row.lease_expires_at and row.lease_expires_at > now:
            raise LeaseHeld((row.lease_expires_at - now).total_seconds(), "email")
        if row.state == NotificationEmail.State.PENDING:
            if row.celery_task_id and task_id and row.celery_task_id != task_id:
                return None  # superseded by a later publish (the sweeper's)
            if row.next_attempt_at > now:
                return (row.next_attempt_at - now).total_seconds()
        # Checked again at send time: unfollowed, or lost READ since the event, means no email.
        if row.follow is None or row.event not in row.follow.events:
            _skip(row, "Unfollowed, or this event is no longer chosen.")
            return None
        if not row.recipient.email or not may_read(row.recipient, row.model):
            _skip(row, "The follower may no longer read the model.")
            return None
        row.state = NotificationEmail.State.SENDING
        row.attempts += 1
        row.lease_expires_at = now + timedelta(seconds=settings.EMAIL_LEASE_SECONDS)
        row.celery_task_id = task_id or row.celery_task_id
        row.save()
        return row


def attempt(pk: int, task_id: str = "") -> float | None:
    """Send one notification email. Returns seconds until the next attempt, or None when done."""
    claimed = _claim(pk, task_id)
    if not isinstance(claimed, NotificationEmail):
        return claimed
    row = claimed
    error = ""
    try:
        EmailMessage(subject=row.subject, body=row.body, from_email=settings.DEFAULT_FROM_EMAIL,
                     to=[row.recipient.email], headers={"X-Catalog-Explorer-Event": row.event,
                                                        "X-Catalog-Explorer-Email-Id": str(row.email_id)}).send()
    except Exception as exc:  # SMTP refused, connection lost: retried
        error = f"{type(exc).__name__}: {exc}"[:2000]
    now = timezone.now()
    with transaction.atomic():
        locked = NotificationEmail.objects.select_for_update().get(pk=row.pk)
        locked.lease_expires_at = None
        if not error:
            locked.state, locked.sent_at, locked.last_error = NotificationEmail.State.SENT, now, ""
            locked.save()
            return None
        locked.last_error = error
        if locked.attempts >= settings.EMAIL_MAX_ATTEMPTS:
            locked.state = NotificationEmail.State.FAILED
            locked.save()
            return None
        wait = min(600.0, settings.EMAIL_RETRY_BACKOFF_MS / 1000.0 * (2 ** (locked.attempts - 1)))
        locked.state, locked.next_attempt_at = NotificationEmail.State.PENDING, now + timedelta(seconds=wait)
        locked.save()
        return wait


def requeue_stale() -> int:
    """Publish again emails whose message was lost (overdue pending ones, sending ones whose lease lapsed)."""
    now = timezone.now()
    overdue = now - timedelta(seconds=settings.JOB_STALE_QUEUED_SECONDS)
    stale = NotificationEmail.objects.filter(state=NotificationEmail.State.PENDING, next_attempt_at__lt=overdue)
    stale |= NotificationEmail.objects.filter(state=NotificationEmail.State.SENDING, lease_expires_at__lt=now)
    ids = list(stale.order_by("next_attempt_at").values_list("pk", flat=True)[:500])
    if ids:
        NotificationEmail.objects.filter(pk__in=ids, state=NotificationEmail.State.PENDING).update(next_attempt_at=now)
        publish(ids)
    return len(ids)
