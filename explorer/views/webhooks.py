"""The model page's Webhooks tab: the model's webhooks (for who may manage the model) with each one's recent
deliveries and every attempt's outcome. Webhooks are created and changed through the REST API for now."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from explorer.views.common import ui_view
from explorer.views.model import get_model, model_context
from registry.api.mlflow_webhooks import webhook_json
from registry.errors import NotFound
from registry.events.selectors import delivery_list, webhook_list_visible
from registry.permissions import Action, check
from registry.selectors import model_not_found_message

DELIVERIES_SHOWN = 20


@ui_view
def model_webhooks(request: HttpRequest, name: str) -> HttpResponse:
    model = get_model(request.user, name)
    if not check(request.user, Action.MANAGE_GRANTS, model):
        raise NotFound(model_not_found_message(name))  # the tab is not offered either
    context = model_context(request, model, "explorer:model_webhooks")
    hooks = list(webhook_list_visible(actor=request.user, model=model))
    context["webhooks"] = [
        {"hook": hook, "json": webhook_json(hook), "secret_set": bool(hook.secret_encrypted),
         "deliveries": list(delivery_list(webhook=hook)[:DELIVERIES_SHOWN])}
        for hook in hooks
    ]
    return render(request, "explorer/model_webhooks.html", context)
