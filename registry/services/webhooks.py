"""Webhooks: create, update, delete and test. A webhook on one model needs ownership or MANAGE of it; a
registry-wide one (every model, and `registered_model.created`) is for metastore admins. Target URLs must pass
registry.events.url_policy; secrets are stored encrypted and never shown. Every change is audited."""
from __future__ import annotations

import re
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from registry import audit, permissions
from registry.errors import InvalidParameter, PermissionDenied
from registry.events import names, secrets
from registry.events.delivery import send
from registry.events.outbox import body_json, publish
from registry.events.selectors import delivery_get, webhook_get
from registry.events.url_policy import check_url
from registry.models import Webhook, WebhookAttempt, WebhookDelivery
from registry.permissions import Action
from registry.selectors import model_get, model_not_found_message
from registry.services.core import authorize, require_authenticated, require_text, service

# MLflow's rule (mlflow.utils.validation._WEBHOOK_NAME_REGEX).
_NAME = re.compile(r"^(?=.{1,63}$)[a-z0-9]([a-z0-9._-]*[a-z0-9])?$", re.IGNORECASE)


def _name(value) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InvalidParameter(
            f"Webhook name {value!r} is invalid. It must start and end with a letter or digit, be less than 63 "
            "characters long, and contain only letters, digits, dots (.), underscores (_), and hyphens (-)."
        )
    return value


def _events(mlflow_events, explorer_events, *, registry_wide: bool) -> list[str]:
    if not isinstance(mlflow_events, list) or not mlflow_events:
        # MLflow's client cannot read a webhook without one of its own events, so one is required, as there.
        raise InvalidParameter(f"Webhook events must be a non-empty list of WebhookEvent objects: {mlflow_events}.")
    if not isinstance(explorer_events or [], list):
        raise InvalidParameter("explorer_events must be a list of event names.")
    events = [names.mlflow_event(e) for e in mlflow_events] + [names.explorer_event(e) for e in explorer_events or []]
    if not registry_wide and (wide := [e for e in events if e in names.REGISTRY_WIDE_ONLY]):
        raise InvalidParameter(f"{', '.join(wide)} is about models that do not exist yet: only a registry-wide "
                               "webhook (without model_name) can subscribe to it.")
    return list(dict.fromkeys(events))


def _status(value) -> str:
    if value not in Webhook.Status.values:
        raise InvalidParameter(f"Invalid webhook status {value!r}: must be ACTIVE or DISABLED.")
    return value


def _secret(value) -> str:
    return require_text(value, "secret", max_length=1000)


def _scope(actor, model_name):
    """The model a webhook watches (None: the whole registry), if `actor` may manage webhooks there."""
    if model_name is None:
        if not permissions.is_admin(actor):
            raise PermissionDenied("Permission denied: registry-wide webhooks are for metastore admins; "
                                   "give model_name to watch one model you manage.")
        return None
    model = model_get(actor=actor, name=model_name)
    authorize(actor, Action.MANAGE_GRANTS, model, not_found_message=model_not_found_message(model_name))
    return model


def _audit_params(hook: Webhook, **extra) -> dict:
    return {"name": hook.name, "url": hook.url, "events": hook.events, "status": hook.status,
            "model": hook.model.full_name if hook.model_id else None, "secret_set": bool(hook.secret_encrypted),
            **extra}


@service("webhook.create")
def webhook_create(*, actor, name: str, url: str, events: list, explorer_events: list | None = None,
                   description: str = "", secret: str = "", status: str | None = None,
                   model_name: str | None = None) -> Webhook:
    require_authenticated(actor)
    model = _scope(actor, model_name)
    hook = Webhook(
        name=_name(name), url=check_url(url),
        events=_events(events, explorer_events, registry_wide=model is None),
        description=require_text(description, "description", max_length=settings.REGISTRY_MAX_DESCRIPTION_LENGTH),
        secret_encrypted=secrets.encrypt(_secret(secret)), status=_status(status or Webhook.Status.ACTIVE),
        model=model, owner=actor,
    )
    hook.save()
    audit.record(actor=actor, action="webhook.create", obj=hook, params=_audit_params(hook))
    return hook


@service("webhook.update")
def webhook_update(*, actor, webhook_id: str, name: str | None = None, description: str | None = None,
                   url: str | None = None, events: list | None = None, explorer_events: list | None = None,
                   secret: str | None = None, status: str | None = None) -> Webhook:
    hook = webhook_get(actor=actor, webhook_id=webhook_id, for_update=True)
    changed = []
    if name is not None:
        hook.name = _name(name)
        changed.append("name")
    if description is not None:
        hook.description = require_text(description, "description",
                                        max_length=settings.REGISTRY_MAX_DESCRIPTION_LENGTH)
        changed.append("description")
    if url is not None:
        hook.url = check_url(url)
        changed.append("url")
    if events is not None or explorer_events is not None:
        current_mlflow = [names.mlflow_json(e) for e in hook.events if e in names.MLFLOW_EVENTS]
        current_ours = [e for e in hook.events if e in names.EXPLORER_EVENTS]
        hook.events = _events(events if events is not None else current_mlflow,
                              explorer_events if explorer_events is not None else current_ours,
                              registry_wide=hook.model_id is None)
        changed.append("events")
    if secret is not None:
        hook.secret_encrypted = secrets.encrypt(_secret(secret))
        changed.append("secret")
    if status is not None:
        hook.status = _status(status)
        changed.append("status")
    hook.save()
    audit.record(actor=actor, action="webhook.update", obj=hook, params=_audit_params(hook, changed=changed))
    return hook


@service("webhook.delete")
def webhook_delete(*, actor, webhook_id: str) -> None:
    hook = webhook_get(actor=actor, webhook_id=webhook_id, for_update=True)
    audit.record(actor=actor, action="webhook.delete", obj=hook, params=_audit_params(hook))
    # Deliveries not yet sent are skipped by the worker (the webhook is gone); the log stays with webhook=NULL.
    hook.delete()


def _example(event: str) -> dict:
    if event in names.MLFLOW_EVENTS:
        from mlflow.entities.webhook import WebhookEvent
        from mlflow.webhooks.types import get_example_payload_for_event

        return dict(get_example_payload_for_event(WebhookEvent.from_str(event)))
    data = {"name": "example_model", "version": "1"}
    if event == names.STAGE_TRANSITIONED:
        data.update(from_stage="Staging", to_stage="Production")
    elif event == names.VERSION_COPIED:
        data.update(source="models:/example_source_model/1")
    elif event in (names.VERSION_READY, names.VERSION_FAILED):
        data.update(status="READY" if event == names.VERSION_READY else "FAILED_REGISTRATION")
    return data


@service("webhook.test")
def webhook_test(*, actor, webhook_id: str, event: str | None = None) -> dict:
    """Send an example payload now (as MLflow's server does) and answer MLflow's WebhookTestResult. The test is
    logged as a delivery of its own, with its attempt."""
    hook = webhook_get(actor=actor, webhook_id=webhook_id)
    event = event or hook.events[0]
    body = body_json(event, _example(event))
    now = timezone.now()
    delivery = WebhookDelivery.objects.create(webhook=hook, event=event, body=body, model=hook.model, is_test=True,
                                              state=WebhookDelivery.State.RUNNING, attempts=1, next_attempt_at=now,
                                              give_up_at=now)
    outcome = send(hook.url, body, delivery_id=str(delivery.delivery_id),
                   secret=secrets.decrypt(hook.secret_encrypted) or None)
    WebhookAttempt.objects.create(delivery=delivery, number=1, started_at=now, latency_ms=outcome.latency_ms,
                                  status_code=outcome.status_code, response_excerpt=outcome.excerpt,
                                  error=outcome.error)
    delivery.state = WebhookDelivery.State.DELIVERED if outcome.delivered else WebhookDelivery.State.FAILED
    delivery.finished_at = timezone.now()
    delivery.last_error = outcome.error
    delivery.save(update_fields=["state", "finished_at", "last_error", "updated_at"])
    audit.record(actor=actor, action="webhook.test", obj=hook,
                 params={"event": event, "status_code": outcome.status_code})
    if outcome.status_code is None:
        return {"success": False, "error_message": f"Failed to test webhook: {outcome.error}"}
    # MLflow counts any answer below 400 as a success of the test.
    return {"success": outcome.status_code < 400, "response_status": outcome.status_code,
            "response_body": outcome.excerpt}


@service("webhook.redeliver")
def webhook_redeliver(*, actor, delivery_id: str) -> WebhookDelivery:
    """Send a logged delivery again: a new delivery (new id, fresh retry window) with the same event and the same
    body, through the outbox and the workers like any other. The worker checks again that the webhook is active
    and that its owner may read the model."""
    original = delivery_get(actor=actor, delivery_id=delivery_id)
    hook = webhook_get(actor=actor, webhook_id=original.webhook.webhook_id, for_update=True)
    if hook.status != Webhook.Status.ACTIVE:
        raise InvalidParameter("The webhook is disabled: enable it before redelivering.")
    now = timezone.now()
    again = WebhookDelivery.objects.create(
        webhook=hook, event=original.event, body=original.body, model=original.model, is_test=original.is_test,
        next_attempt_at=now, give_up_at=now + timedelta(seconds=settings.WEBHOOK_RETRY_WINDOW_SECONDS))
    audit.record(actor=actor, action="webhook.redeliver", obj=hook,
                 params={"delivery_id": str(original.delivery_id), "new_delivery_id": str(again.delivery_id),
                         "event": original.event})
    transaction.on_commit(lambda: publish([again.pk]), robust=True)
    return again
