"""The transactional outbox. A service calls `emit` inside its transaction, right where the change happens: one
delivery row per active webhook that listens to the event, with the body as that webhook's owner may read it.
The rows commit or roll back with the change; the worker is told after commit, and the sweeper finds any row
whose publish was lost, so an event is neither sent for a rolled-back change nor lost after a commit."""
from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta, timezone as dt_timezone

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from registry import permissions
from registry.events import emails, listener_index
from registry.models import RegisteredModel, Webhook, WebhookDelivery

log = logging.getLogger(__name__)

# data_for(owner) -> the event's data as the webhook's owner may see it, or None to send nothing to that owner.
DataFor = Callable[[object], "dict | None"]


def body_json(event: str, data: dict, *, at: datetime | None = None) -> str:
    """MLflow's delivery body (mlflow.webhooks.delivery._send_webhook_request): entity, action, timestamp, data."""
    entity, action = event.split(".")
    at = at or datetime.now(dt_timezone.utc)
    return json.dumps({"entity": entity, "action": action, "timestamp": at.isoformat(), "data": data})


def listeners(event: str, model: RegisteredModel | None):
    """Active webhooks that hear `event` about `model`: the registry-wide ones and the model's own."""
    scope = Q(model__isnull=True) | Q(model=model) if model is not None else Q(model__isnull=True)
    # The event list is filtered here rather than in SQL: JSON containment is not portable to SQLite, and a
    # registry has few webhooks.
    hooks = Webhook.objects.filter(scope, status=Webhook.Status.ACTIVE).select_related("owner")
    return [hook for hook in hooks if event in hook.events]


def may_read(owner, model: RegisteredModel | None) -> bool:
    if owner is None or not owner.is_active:
        return False
    # In SQL over the row, not permissions.check on `model`: that row was loaded for the acting user, and the
    # grants annotated on it by the lookup are that user's, not the owner's.
    return model is None or permissions.restrict(owner, RegisteredModel.objects.filter(pk=model.pk)).exists()


def emit(event: str, *, model: RegisteredModel | None, data: dict | DataFor) -> list[WebhookDelivery]:
    """Write the deliveries of `event` in the caller's transaction (a service's). `data` is the payload, or a
    function of the webhook's owner that returns it as that owner may read it."""
    if not listener_index.may_hear(event, model):
        return []  # nobody listens: no lookups, no rows
    now = timezone.now()
    deliveries = []
    for hook in listeners(event, model):
        if not may_read(hook.owner, model):
            continue  # a registry-wide webhook's owner who may not read the model hears nothing about it
        payload = data(hook.owner) if callable(data) else data
        if payload is None:
            continue
        deliveries.append(WebhookDelivery(
            webhook=hook, event=event, body=body_json(event, payload), model=model, next_attempt_at=now,
            give_up_at=now + timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_SECONDS),
        ))
    if deliveries:
        WebhookDelivery.objects.bulk_create(deliveries)
        ids = [d.pk for d in deliveries]
        transaction.on_commit(lambda: publish(ids), robust=True)
    emails.queue(event, model=model, data=data)  # followers' emails, in the same transaction
    return deliveries


def publish(delivery_ids: list[int]) -> None:
    """Hand deliveries to the workers (after commit). Each publish first records its task id on the row: a message
    with another id finds the delivery superseded and does nothing, so a republish never doubles a retry chain.
    Nothing here may fail the committed change: what fails is logged, and the sweeper publishes the row later."""
    from registry.tasks import deliver_webhook

    for pk in delivery_ids:
        task_id = str(uuid.uuid4())
        try:
            WebhookDelivery.objects.filter(pk=pk).update(celery_task_id=task_id)
            deliver_webhook.apply_async(args=[pk], task_id=task_id, retry=False,
                                        queue=settings.CELERY_TASK_DEFAULT_QUEUE)
        except Exception:  # broker or database down
            log.warning("could not publish webhook delivery %s; the sweeper will", pk, exc_info=True)
