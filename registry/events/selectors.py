"""Reading webhooks and their delivery log, as one principal may: metastore admins see every webhook; others see
the webhooks of the models they may manage (ownership or MANAGE). Anything else is "not found"."""
from __future__ import annotations

import uuid

from django.db.models import QuerySet

from registry import permissions
from registry.errors import NotFound
from registry.models import RegisteredModel, Webhook, WebhookDelivery
from registry.permissions import Action


def webhook_not_found_message(webhook_id) -> str:
    return f"Webhook with ID {webhook_id} not found."  # MLflow's words (sqlalchemy_store._get_webhook_by_id)


def webhook_list_visible(*, actor, model: RegisteredModel | None = None) -> QuerySet[Webhook]:
    hooks = Webhook.objects.select_related("model__schema__catalog", "owner")
    if model is not None:
        hooks = hooks.filter(model=model)
    if permissions.is_admin(actor):
        return hooks
    managed = permissions.restrict(actor, RegisteredModel.objects.all(), Action.MANAGE_GRANTS)
    return hooks.filter(model__in=managed.values("pk"))


def webhook_get(*, actor, webhook_id, for_update: bool = False) -> Webhook:
    try:
        uid = uuid.UUID(str(webhook_id))
    except ValueError:
        raise NotFound(webhook_not_found_message(webhook_id)) from None
    hooks = webhook_list_visible(actor=actor).filter(webhook_id=uid)
    hook = (hooks.select_for_update(of=("self",)) if for_update else hooks).first()
    if hook is None:
        raise NotFound(webhook_not_found_message(webhook_id))
    return hook


def delivery_list(*, webhook: Webhook) -> QuerySet[WebhookDelivery]:
    """A visible webhook's deliveries, newest first, with their attempts."""
    return WebhookDelivery.objects.filter(webhook=webhook).prefetch_related("attempt_log")


def delivery_get(*, actor, delivery_id) -> WebhookDelivery:
    """One delivery of a webhook `actor` may see (by its delivery id); NotFound otherwise."""
    try:
        uid = uuid.UUID(str(delivery_id))
    except ValueError:
        raise NotFound(f"Webhook delivery {delivery_id} not found.") from None
    hooks = webhook_list_visible(actor=actor)
    delivery = (WebhookDelivery.objects.filter(delivery_id=uid, webhook__in=hooks.values("pk"))
                .select_related("webhook", "model").first())
    if delivery is None:
        raise NotFound(f"Webhook delivery {delivery_id} not found.")
    return delivery
