"""Sending outbox rows. A worker claims a delivery with a lease (as jobs are claimed, registry/jobs.py), posts its
body signed as MLflow signs it, logs the attempt (status, latency, an excerpt of the answer) and either finishes
the row or schedules the next attempt: exponential backoff on 5xx, 429, timeouts and connection errors, until the
retry window ends. Every attempt of a delivery sends the same body and delivery id, so receivers can de-duplicate.
Redirects are not followed: a 3xx is a failed attempt."""
from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import time
from dataclasses import dataclass
from datetime import timedelta

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from registry.errors import RegistryError
from registry.events import secrets
from registry.events.outbox import may_read, publish
from registry.events.url_policy import check_url
from registry.jobs import LeaseHeld, worker_id
from registry.models import Webhook, WebhookAttempt, WebhookDelivery

log = logging.getLogger(__name__)

# MLflow's headers and signature version (mlflow.webhooks.constants).
SIGNATURE_HEADER = "X-MLflow-Signature"
TIMESTAMP_HEADER = "X-MLflow-Timestamp"
DELIVERY_ID_HEADER = "X-MLflow-Delivery-Id"
SIGNATURE_VERSION = "v1"
EXCERPT_CHARS = 1000
_RETRY_STATUSES = {429}


def signature(secret: str, delivery_id: str, timestamp: str, body: str) -> str:
    """HMAC-SHA256 over "<delivery id>.<timestamp>.<body>", as "v1,<base64>" (mlflow.webhooks.delivery)."""
    digest = hmac.new(secret.encode(), f"{delivery_id}.{timestamp}.{body}".encode(), hashlib.sha256).digest()
    return f"{SIGNATURE_VERSION},{base64.b64encode(digest).decode()}"


@dataclass
class Outcome:
    status_code: int | None
    latency_ms: int
    excerpt: str
    error: str

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @property
    def retryable(self) -> bool:
        if self.status_code is None:
            return not self.error.startswith("refused:")  # timeouts, connection errors; not a refused URL
        return self.status_code >= 500 or self.status_code in _RETRY_STATUSES


def send(url: str, body: str, *, delivery_id: str, secret: str | None) -> Outcome:
    """One POST of `body` to `url`. Never raises: what went wrong is in the outcome."""
    started = time.monotonic()
    try:
        check_url(url)
    except RegistryError as exc:
        return Outcome(None, 0, "", f"refused: {exc.message}")
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", DELIVERY_ID_HEADER: delivery_id, TIMESTAMP_HEADER: timestamp,
               "User-Agent": "catalog-explorer-webhooks"}
    if secret:
        headers[SIGNATURE_HEADER] = signature(secret, delivery_id, timestamp, body)
    try:
        with requests.Session() as session:
            session.trust_env = False  # no proxy from the environment: the checked host is the one called
            response = session.post(url, data=body.encode(), headers=headers, allow_redirects=False,
                                    timeout=settings.WEBHOOK_TIMEOUT_SECONDS, stream=True)
            raw = response.raw.read(EXCERPT_CHARS * 4, decode_content=True) or b""
            response.close()
    except requests.Timeout as exc:
        return Outcome(None, _ms(started), "", f"timeout: {exc}"[:2000])
    except requests.RequestException as exc:
        return Outcome(None, _ms(started), "", f"connection error: {exc}"[:2000])
    excerpt = raw.decode("utf-8", "replace")[:EXCERPT_CHARS]
    error = "" if 200 <= response.status_code < 300 else f"HTTP {response.status_code}"
    if 300 <= response.status_code < 400:
        error += " (redirects are not followed)"
    return Outcome(response.status_code, _ms(started), excerpt, error)


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


def backoff_seconds(attempts: int) -> float:
    return min(300.0, settings.WEBHOOK_RETRY_BACKOFF_MS / 1000.0 * (2 ** max(0, attempts - 1)))


def _finish(delivery: WebhookDelivery, state: str, error: str = "") -> None:
    delivery.state = state
    delivery.last_error = error[:5000]
    delivery.finished_at = timezone.now()
    delivery.lease_owner, delivery.lease_expires_at = "", None
    delivery.save()


def _claim(delivery_pk: int, task_id: str):
    """The delivery, leased to this worker; or a number of seconds to wait; or None when there is nothing to do."""
    now = timezone.now()
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().filter(pk=delivery_pk).first()
        if delivery is None or delivery.state not in (WebhookDelivery.State.PENDING, WebhookDelivery.State.RUNNING):
            return None
        if delivery.state == WebhookDelivery.State.RUNNING:
            if delivery.lease_expires_at and delivery.lease_expires_at > now:
                raise LeaseHeld((delivery.lease_expires_at - now).total_seconds(), "delivery")
            # The worker that held it died (or stalled past its lease) mid-attempt: take it over.
        elif delivery.celery_task_id and task_id and delivery.celery_task_id != task_id:
            return None  # superseded by a later publish (the sweeper's)
        elif delivery.next_attempt_at > now:
            return (delivery.next_attempt_at - now).total_seconds()
        if delivery.attempts and now > delivery.give_up_at:
            # Due inside the window but picked up after it (a busy or restarted worker): the bound holds.
            _finish(delivery, WebhookDelivery.State.FAILED,
                    f"Gave up after {delivery.attempts} attempts (retry window ended). Last: {delivery.last_error}")
            return None
        hook = Webhook.objects.select_related("owner").filter(pk=delivery.webhook_id).first()
        if hook is None or hook.status != Webhook.Status.ACTIVE:
            _finish(delivery, WebhookDelivery.State.SKIPPED, "The webhook was deleted or disabled.")
            return None
        if not may_read(hook.owner, delivery.model) or (delivery.model_id is None and hook.model_id is not None):
            # Rights are checked again at send time: an owner who lost them since the event hears nothing.
            _finish(delivery, WebhookDelivery.State.SKIPPED, "The webhook's owner may no longer read the model.")
            return None
        delivery.state = WebhookDelivery.State.RUNNING
        delivery.attempts += 1
        delivery.lease_owner = worker_id(task_id)
        delivery.lease_expires_at = now + timedelta(seconds=settings.WEBHOOK_LEASE_SECONDS)
        delivery.celery_task_id = task_id or delivery.celery_task_id
        delivery.save()
        delivery.hook = hook
        return delivery


def attempt(delivery_pk: int, task_id: str = "") -> float | None:
    """Run one attempt of a delivery. Returns the seconds until the next attempt, or None when done."""
    claimed = _claim(delivery_pk, task_id)
    if not isinstance(claimed, WebhookDelivery):
        return claimed
    delivery, hook = claimed, claimed.hook
    secret = secrets.decrypt(hook.secret_encrypted)
    started_at = timezone.now()
    outcome = send(hook.url, delivery.body, delivery_id=str(delivery.delivery_id), secret=secret)
    if secret is None:
        outcome.error = (outcome.error + "; " if outcome.error else "") + "sent unsigned: the secret cannot be decrypted"
    return _record(delivery, outcome, started_at)


def _record(delivery: WebhookDelivery, outcome: Outcome, started_at) -> float | None:
    now = timezone.now()
    with transaction.atomic():
        locked = WebhookDelivery.objects.select_for_update().get(pk=delivery.pk)
        WebhookAttempt.objects.create(
            delivery=locked, number=delivery.attempts, started_at=started_at, latency_ms=outcome.latency_ms,
            status_code=outcome.status_code, response_excerpt=outcome.excerpt, error=outcome.error,
            worker=delivery.lease_owner,
        )
        if locked.lease_owner != delivery.lease_owner or locked.state != WebhookDelivery.State.RUNNING:
            return None  # another worker took it over meanwhile; its attempt decides
        if outcome.delivered:
            _finish(locked, WebhookDelivery.State.DELIVERED)
            return None
        wait = backoff_seconds(locked.attempts)
        if not outcome.retryable or now + timedelta(seconds=wait) > locked.give_up_at:
            why = outcome.error or "failed"
            if outcome.retryable:
                why = f"Gave up after {locked.attempts} attempts (retry window ended). Last: {why}"
            _finish(locked, WebhookDelivery.State.FAILED, why)
            return None
        locked.state = WebhookDelivery.State.PENDING
        locked.next_attempt_at = now + timedelta(seconds=wait)
        locked.lease_owner, locked.lease_expires_at = "", None
        locked.last_error = outcome.error[:5000]
        locked.save()
        return wait


def requeue_stale() -> int:
    """Publish again deliveries whose message was lost: overdue pending ones (broker down at publish, a worker
    killed while holding the message) and running ones whose worker's lease lapsed."""
    now = timezone.now()
    overdue = now - timedelta(seconds=settings.JOB_STALE_QUEUED_SECONDS)
    stale = WebhookDelivery.objects.filter(state=WebhookDelivery.State.PENDING, next_attempt_at__lt=overdue)
    stale |= WebhookDelivery.objects.filter(state=WebhookDelivery.State.RUNNING, lease_expires_at__lt=now)
    ids = list(stale.order_by("next_attempt_at").values_list("pk", flat=True)[:500])
    if ids:
        # Push the pending ones' due time forward, so the next sweep does not publish them again at once.
        WebhookDelivery.objects.filter(pk__in=ids, state=WebhookDelivery.State.PENDING).update(next_attempt_at=now)
        publish(ids)
    return len(ids)
