"""Webhooks in the browser: the model page's Webhooks tab (for who may manage the model) and the registry-wide
webhooks page (metastore admins). Create (the secret shown once), edit, enable or disable, Test, delete, and the
delivery log (each attempt's status, latency and answer) with Redeliver; all through registry.services.webhooks."""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from explorer.forms import add_registry_error
from explorer.views.common import dialog_done, render_dialog, ui_view
from explorer.views.model import get_model, model_context
from explorer.webhook_forms import WebhookForm, initial_of
from registry import permissions
from registry.api.mlflow_webhooks import webhook_json
from registry.errors import NotFound, RegistryError
from registry.events.selectors import delivery_get, delivery_list, webhook_get, webhook_list_visible
from registry.models import RegisteredModel, Webhook
from registry.permissions import Action, check
from registry.selectors import model_not_found_message
from registry.services.webhooks import (webhook_create, webhook_delete, webhook_redeliver, webhook_test,
                                        webhook_update)

DELIVERIES_SHOWN = 20


def _rows(hooks) -> list[dict]:
    rows = []
    for hook in hooks:
        deliveries = list(delivery_list(webhook=hook)[:DELIVERIES_SHOWN])
        rows.append({"hook": hook, "json": webhook_json(hook), "secret_set": bool(hook.secret_encrypted),
                     "deliveries": deliveries, "last": deliveries[0] if deliveries else None})
    return rows


def _managed_model(request: HttpRequest, name: str) -> RegisteredModel:
    model = get_model(request.user, name)
    if not check(request.user, Action.MANAGE_GRANTS, model):
        raise NotFound(model_not_found_message(name))  # the tab is not offered either
    return model


def _require_admin(request: HttpRequest) -> None:
    if not permissions.is_admin(request.user):
        raise NotFound("Page not found.")  # as for any page this user may not see


def _hooks_url(hook_model: RegisteredModel | None) -> str:
    if hook_model is not None:
        return reverse("explorer:model_webhooks", args=[hook_model.full_name])
    return reverse("explorer:webhooks_admin")


@ui_view
def model_webhooks(request: HttpRequest, name: str) -> HttpResponse:
    model = _managed_model(request, name)
    context = model_context(request, model, "explorer:model_webhooks")
    context["webhooks"] = _rows(webhook_list_visible(actor=request.user, model=model))
    context["create_url"] = reverse("explorer:model_webhook_create", args=[model.full_name])
    return render(request, "explorer/model_webhooks.html", context)


@ui_view
def webhooks_admin(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    hooks = webhook_list_visible(actor=request.user).filter(model__isnull=True)
    return render(request, "explorer/webhooks_admin.html", {
        "webhooks": _rows(hooks), "create_url": reverse("explorer:webhook_create"),
        "model_hooks": webhook_list_visible(actor=request.user).filter(model__isnull=False).count(),
        "breadcrumbs": [("Webhooks", "")],
    })


def _created(request: HttpRequest, hook: Webhook, secret: str | None, *, verb: str) -> HttpResponse:
    """After a save: the secret, if one was made, shown this once; otherwise back to the list."""
    back = _hooks_url(hook.model)
    if not secret:
        messages.success(request, f"Webhook {hook.name} {verb}.")
        return dialog_done(request, back)
    return render_dialog(request, "explorer/dialogs/webhook_secret.html", {
        "hook": hook, "secret": secret, "back_url": back, "verb": verb}, title=f"Webhook {hook.name} {verb}")


def _create(request: HttpRequest, model: RegisteredModel | None) -> HttpResponse:
    form = WebhookForm(request.POST or None, registry_wide=model is None,
                       initial={"new_secret": True, "mlflow_events": ["model_version.created"]})
    if request.method == "POST" and form.is_valid():
        secret = form.secret()
        try:
            hook = webhook_create(actor=request.user, name=form.cleaned_data["name"], url=form.cleaned_data["url"],
                                  description=form.cleaned_data["description"], secret=secret or "",
                                  model_name=model.full_name if model is not None else None, **form.service_events())
        except RegistryError as exc:
            add_registry_error(form, exc)
        else:
            return _created(request, hook, secret, verb="created")
    action = (reverse("explorer:model_webhook_create", args=[model.full_name]) if model is not None
              else reverse("explorer:webhook_create"))
    title = f"New webhook on {model.full_name}" if model is not None else "New registry-wide webhook"
    return render_dialog(request, "explorer/dialogs/webhook_form.html", {
        "form": form, "model": model, "action_url": action, "back_url": _hooks_url(model), "submit": "Create",
        "registry_wide": model is None}, title=title)


@ui_view
@require_http_methods(["GET", "POST"])
def model_webhook_create(request: HttpRequest, name: str) -> HttpResponse:
    return _create(request, _managed_model(request, name))


@ui_view
@require_http_methods(["GET", "POST"])
def webhook_create_dialog(request: HttpRequest) -> HttpResponse:
    _require_admin(request)
    return _create(request, None)


@ui_view
@require_http_methods(["GET", "POST"])
def webhook_edit_dialog(request: HttpRequest, webhook_id: str) -> HttpResponse:
    hook = webhook_get(actor=request.user, webhook_id=webhook_id)
    form = WebhookForm(request.POST or None, registry_wide=hook.model_id is None, editing=True,
                       initial=initial_of(hook))
    if request.method == "POST" and form.is_valid():
        secret = form.secret()
        try:
            hook = webhook_update(actor=request.user, webhook_id=webhook_id, name=form.cleaned_data["name"],
                                  url=form.cleaned_data["url"], description=form.cleaned_data["description"],
                                  status=form.cleaned_data["status"], secret=secret, **form.service_events())
        except RegistryError as exc:
            add_registry_error(form, exc)
        else:
            return _created(request, hook, secret, verb="saved")
    return render_dialog(request, "explorer/dialogs/webhook_form.html", {
        "form": form, "model": hook.model, "hook": hook, "back_url": _hooks_url(hook.model), "submit": "Save",
        "action_url": reverse("explorer:webhook_edit", args=[hook.webhook_id]),
        "registry_wide": hook.model_id is None}, title=f"Edit webhook {hook.name}")


@ui_view
@require_http_methods(["GET", "POST"])
def webhook_delete_dialog(request: HttpRequest, webhook_id: str) -> HttpResponse:
    hook = webhook_get(actor=request.user, webhook_id=webhook_id)
    back, error = _hooks_url(hook.model), ""
    if request.method == "POST":
        try:
            webhook_delete(actor=request.user, webhook_id=webhook_id)
        except RegistryError as exc:
            error = exc.message
        else:
            messages.success(request, f"Webhook {hook.name} deleted.")
            return dialog_done(request, back)
    return render_dialog(request, "explorer/dialogs/webhook_delete.html", {
        "hook": hook, "back_url": back, "error": error,
        "action_url": reverse("explorer:webhook_delete", args=[hook.webhook_id])}, title=f"Delete webhook {hook.name}")


def _back(hook: Webhook, anchor: str = "") -> HttpResponseRedirect:
    return HttpResponseRedirect(_hooks_url(hook.model) + (f"#{anchor}" if anchor else f"#webhook-{hook.webhook_id}"))


@ui_view
@require_POST
def webhook_status(request: HttpRequest, webhook_id: str) -> HttpResponse:
    hook = webhook_get(actor=request.user, webhook_id=webhook_id)
    wanted = Webhook.Status.DISABLED if hook.status == Webhook.Status.ACTIVE else Webhook.Status.ACTIVE
    try:
        hook = webhook_update(actor=request.user, webhook_id=webhook_id, status=wanted)
    except RegistryError as exc:
        messages.error(request, exc.message)
    else:
        done = "enabled" if wanted == Webhook.Status.ACTIVE else "disabled"
        messages.success(request, f"Webhook {hook.name} {done}.")
    return _back(hook)


@ui_view
@require_POST
def webhook_test_view(request: HttpRequest, webhook_id: str) -> HttpResponse:
    hook = webhook_get(actor=request.user, webhook_id=webhook_id)
    event = request.POST.get("event") or None
    if event not in hook.events:
        event = None  # the webhook's first event, as MLflow's test does
    try:
        result = webhook_test(actor=request.user, webhook_id=webhook_id, event=event)
    except RegistryError as exc:
        messages.error(request, f"Test failed: {exc.message}")
    else:
        if result["success"]:
            messages.success(request, f"Test delivered to {hook.url}: HTTP {result['response_status']}.")
        elif "response_status" in result:
            messages.error(request, f"Test failed: {hook.url} answered HTTP {result['response_status']}.")
        else:
            messages.error(request, result["error_message"])
    return _back(hook)


@ui_view
@require_POST
def webhook_redeliver_view(request: HttpRequest, delivery_id: str) -> HttpResponse:
    delivery = delivery_get(actor=request.user, delivery_id=delivery_id)
    try:
        again = webhook_redeliver(actor=request.user, delivery_id=delivery_id)
    except RegistryError as exc:
        messages.error(request, f"Not redelivered: {exc.message}")
    else:
        messages.success(request, f"Redelivery queued as {again.delivery_id}.")
    return _back(delivery.webhook)
