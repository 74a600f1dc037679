"""The model page's Serving tab (legacy model serving): status and invocation URIs, Enable serving / Stop, a
request box that scores through the same path as `POST /model/<name>/<ref>/invocations`, model events, and per
version its logs and events; the settings of the model's pool. Every change goes through registry.serving.services;
every control also works as a plain form post."""
from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods, require_POST

from explorer import serving_view_data as data
from explorer.forms import add_registry_error
from explorer.serving_forms import ServingRequestForm, ServingSettingsForm, tag_lines
from explorer.views.common import dialog_done, render_dialog, require, ui_view
from explorer.views.model import get_model, model_context
from explorer.views.version import get_version
from registry.errors import InvalidParameter, NotFound, RegistryError
from registry.models import ServedModel, ServingDeployment
from registry.models.serving import ServingState
from registry.permissions import Action
from registry.serving.selectors import SERVED_STAGES, served_model_get, serving_status
from registry.serving.services import serving_disable, serving_enable, serving_settings_update

TAB = "explorer:model_serving"
POLL_SECONDS = 2
# Until a supervisor has answered for every version, the page asks again; a final state stops the polling.
_FINAL = {ServingState.READY.value, ServingState.FAILED.value, ServingState.DISABLED.value}
_SERVING_PART = "explorer/partials/serving_status.html"
_EVENTS_PART = "explorer/partials/serving_events.html"
_REQUEST_PART = "explorer/partials/serving_request.html"


def _tab_url(model) -> str:
    return reverse(TAB, args=[model.full_name])


def _polling(status: dict) -> bool:
    return status["state"] not in _FINAL or any(v["state"] == ServingDeployment.State.PENDING
                                                for v in status["versions"])


def _status_context(request: HttpRequest, model, served: ServedModel | None) -> dict:
    status = serving_status(actor=request.user, name=model.full_name)
    # Each served version with the absolute URIs that reach it (by number, then stages and aliases).
    versions = [{**entry, "uris": [{"uri": request.build_absolute_uri(uri), "reference": data.reference_of(uri)}
                                   for uri in entry["uris"]]} for entry in status["versions"]]
    return {
        "serving": status, "served": served, "served_versions": versions, "polling": _polling(status),
        "stages": [] if model.is_unity_catalog else [stage.value for stage in SERVED_STAGES],
        "poll_seconds": POLL_SECONDS, "model_events": data.model_events(served),
        "status_url": reverse("explorer:model_serving_status", args=[model.full_name]),
    }


def _settings_context(served: ServedModel | None) -> dict:
    defaults = ServedModel()  # the field defaults: what the pool will get if nothing is changed
    current = served or defaults
    return {"settings": {"workers": current.workers, "memory_limit_mb": current.memory_limit_mb,
                         "tags": sorted((current.tags or {}).items())}}


def _tab_context(request: HttpRequest, model) -> dict:
    served = served_model_get(model)
    context = model_context(request, model, TAB)
    context.update(_status_context(request, model, served))
    context.update(_settings_context(served))
    choices = data.request_choices(context["serving"])
    context.update({"choices": choices, "reference": choices[0].reference if choices else "", "payload": "",
                    "answer": None, "request_error": "",
                    "request_url": reverse("explorer:model_serving_request", args=[model.full_name])})
    return context


@ui_view
def model_serving(request: HttpRequest, name: str) -> HttpResponse:
    model = get_model(request.user, name)
    return render(request, "explorer/model_serving.html", _tab_context(request, model))


@ui_view
def model_serving_status(request: HttpRequest, name: str) -> HttpResponse:
    """The polled parts of the tab: the status (with URIs and versions), or with `?part=events` the model events."""
    model = get_model(request.user, name)
    context = model_context(request, model, TAB)
    context.update(_status_context(request, model, served_model_get(model)))
    template = _EVENTS_PART if request.GET.get("part") == "events" else _SERVING_PART
    return render(request, template, context)


@ui_view
@require_POST
def model_serving_enable(request: HttpRequest, name: str) -> HttpResponse:
    model = get_model(request.user, name)
    require(request.user, Action.MODIFY, model)
    try:
        serving_enable(actor=request.user, name=model.full_name)
    except RegistryError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "Serving enabled: every READY version that is not archived is being deployed.")
    return HttpResponseRedirect(_tab_url(model))


@ui_view
@require_http_methods(["GET", "POST"])
def model_serving_stop(request: HttpRequest, name: str) -> HttpResponse:
    model = get_model(request.user, name)
    require(request.user, Action.MODIFY, model)
    error = ""
    if request.method == "POST":
        try:
            serving_disable(actor=request.user, name=model.full_name)
        except RegistryError as exc:
            error = exc.message
        else:
            messages.success(request, "Serving stopped: every version of the model is being undeployed.")
            return dialog_done(request, _tab_url(model))
    return render_dialog(request, "explorer/dialogs/serving_stop.html", {
        "model": model, "error": error, "back_url": _tab_url(model),
        "action_url": reverse("explorer:model_serving_stop", args=[model.full_name]),
    }, title=f"Stop serving {model.full_name}")


@ui_view
@require_http_methods(["GET", "POST"])
def model_serving_settings(request: HttpRequest, name: str) -> HttpResponse:
    model = get_model(request.user, name)
    require(request.user, Action.MODIFY, model)
    current = served_model_get(model) or ServedModel()
    initial = {"workers": current.workers, "memory_limit_mb": current.memory_limit_mb, "tags": tag_lines(current.tags)}
    form = ServingSettingsForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        values = form.cleaned_data
        try:
            saved = serving_settings_update(actor=request.user, name=model.full_name, workers=values["workers"],
                                            memory_limit_mb=values["memory_limit_mb"], tags=values["tags"])
        except RegistryError as exc:
            add_registry_error(form, exc)
        else:
            replaced = (saved.workers, saved.memory_limit_mb) != (current.workers, current.memory_limit_mb)
            if replaced and saved.enabled:
                messages.success(request, "Settings saved. The pool is being replaced: the old one drains, then stops.")
            else:
                messages.success(request, "Settings saved.")
            return dialog_done(request, _tab_url(model))
    return render_dialog(request, "explorer/dialogs/serving_settings.html", {
        "model": model, "form": form, "back_url": _tab_url(model),
        "action_url": reverse("explorer:model_serving_settings", args=[model.full_name]),
    }, title=f"Serving settings of {model.full_name}")


@ui_view
@require_POST
def model_serving_request(request: HttpRequest, name: str) -> HttpResponse:
    """The request box: `do=example` fills in the chosen version's logged input example, `do=send` scores the
    payload as the session user (EXECUTE, as the REST endpoint requires) and shows the answer and its time."""
    model = get_model(request.user, name)
    form = ServingRequestForm(request.POST)
    reference, payload, answer, error = "", request.POST.get("payload", ""), None, ""
    if not form.is_valid():
        error = " ".join(str(e) for errors in form.errors.values() for e in errors)
    else:
        reference, payload = form.cleaned_data["reference"], form.cleaned_data["payload"]
        if request.POST.get("do") == "example":
            try:
                _version, payload = data.example_for_reference(model=model, reference=reference)
            except (InvalidParameter, NotFound) as exc:
                error = exc.message
        else:
            answer = data.send_request_answer(actor=request.user, name=model.full_name, reference=reference,
                                              payload=payload)
    if request.htmx:  # only the request box is swapped
        context = {"model": model,
                   "choices": data.request_choices(serving_status(actor=request.user, name=model.full_name))}
    else:
        context = _tab_context(request, model)
    context.update({"reference": reference or (context["choices"][0].reference if context["choices"] else ""),
                    "payload": payload, "answer": answer, "request_error": error,
                    "request_url": reverse("explorer:model_serving_request", args=[model.full_name])})
    template = _REQUEST_PART if request.htmx else "explorer/model_serving.html"
    return render(request, template, context)


@ui_view
def model_serving_version(request: HttpRequest, name: str, version: int) -> HttpResponse:
    """One served version: its deployment's state, its recent logs (for who may change the model: a pool's output
    can hold other callers' inputs) and its version events."""
    mv = get_version(request.user, name, version)
    model = mv.model
    served = served_model_get(model)
    context = model_context(request, model, TAB)
    deployment = data.latest_deployment(served, version)
    can_read_logs = context["can"]["modify"]
    context.update({
        "number": version, "deployment": deployment, "version_events": data.version_events(served, version),
        "logs": data.version_logs(deployment) if can_read_logs else "", "can_read_logs": can_read_logs,
        "tab_url": _tab_url(model),
    })
    return render(request, "explorer/model_serving_version.html", context)
