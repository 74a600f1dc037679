"""Jobs in the browser: the jobs page (yours; everything for admins) and the copy-version dialog that starts one.
Unfinished jobs are polled with htmx; the poll stops by itself once every job shown has ended."""
from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from explorer.views.common import dialog_done, paginate, render_dialog, ui_view
from explorer.views.tracking import model_name_suggestions
from explorer.views.version import get_version
from registry.errors import RegistryError
from registry.job_selectors import job_get, job_list_visible
from registry.models import Job
from registry.permissions import is_admin
from registry.permissions import Action
from registry.services.copy import model_version_copy, model_version_copy_effect

_UNFINISHED = (Job.State.QUEUED, Job.State.RUNNING)


@ui_view
def jobs_page(request: HttpRequest) -> HttpResponse:
    show_all = request.GET.get("all") == "1" and is_admin(request.user)
    jobs = job_list_visible(actor=request.user).select_related("model__schema__catalog", "model_version", "created_by")
    if not show_all:
        jobs = jobs.filter(created_by=request.user)
    page = paginate(request, jobs.order_by("-created_at", "-id"), size=25)
    context = {"page": page, "show_all": show_all, "is_admin": is_admin(request.user),
               "polling": any(job.state in _UNFINISHED for job in page.object_list),
               "breadcrumbs": [("Jobs", reverse("explorer:jobs"))]}
    template = "explorer/partials/jobs_table.html" if request.htmx else "explorer/jobs.html"
    return render(request, template, context)


@ui_view
def job_status(request: HttpRequest, job_id: int) -> HttpResponse:
    """The progress line of one job (polled by a pending version's banner); reloads the page when it ends."""
    job = job_get(actor=request.user, job_id=job_id)
    response = render(request, "explorer/partials/job_status.html", {"job": job, "polling": job.state in _UNFINISHED})
    if request.htmx and job.state not in _UNFINISHED:
        response["HX-Refresh"] = "true"  # the version's status changed with it: show the whole page anew
    return response


class CopyForm(forms.Form):
    destination = forms.CharField(max_length=800, label="Destination model",
                                  help_text="A three-level name such as prod.ml_team.fraud_detection")
    create_destination = forms.BooleanField(required=False, initial=True, label="Create the model if it does not exist")

    def __init__(self, *args, hint_url: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        # Both fields ask the server what the copy would do (registry.services.copy.model_version_copy_effect).
        live = {"hx-get": hint_url, "hx-target": "#copy-hint", "hx-swap": "outerHTML",
                "hx-include": "#id_destination, #id_create_destination"}
        self.fields["destination"].widget.attrs.update({
            **live, "list": "copy-destinations", "autocomplete": "off", "aria-describedby": "copy-hint",
            "hx-trigger": "input changed delay:250ms"})
        self.fields["create_destination"].widget.attrs.update({**live, "hx-trigger": "change"})


def _copy_effect(request: HttpRequest, data) -> tuple[str, str]:
    return model_version_copy_effect(actor=request.user, destination_name=(data.get("destination") or "")[:800],
                                     create_destination=bool(data.get("create_destination")))


@ui_view
def copy_dialog(request: HttpRequest, name: str, version: int) -> HttpResponse:
    mv = get_version(request.user, name, version)
    action_url = reverse("explorer:version_copy", args=[mv.model.full_name, mv.version])
    if request.method == "GET" and "hint" in request.GET:
        level, hint = _copy_effect(request, request.GET)
        return render(request, "explorer/partials/copy_hint.html", {"hint": hint, "level": level})
    form = CopyForm(request.POST or None, hint_url=f"{action_url}?hint=1")
    if request.method == "POST" and form.is_valid():
        try:
            copied = model_version_copy(actor=request.user, source_name=mv.model.full_name, source_version=mv.version,
                                        destination_name=form.cleaned_data["destination"].strip(),
                                        create_destination=form.cleaned_data["create_destination"])
        except RegistryError as exc:
            form.add_error("destination", exc.message)
        else:
            return dialog_done(request, reverse("explorer:version", args=[copied.model.full_name, copied.version]))
    level, hint = _copy_effect(request, request.POST if request.method == "POST" else {"create_destination": True})
    if form.errors:  # the field's error says it; the hint would repeat it
        level, hint = _copy_effect(request, {})
    return render_dialog(request, "explorer/dialogs/copy_version.html", {
        "version": mv, "model": mv.model, "form": form, "ready": mv.status == "READY",
        "destinations": model_name_suggestions(request.user, Action.MODIFY), "hint": hint, "level": level,
        "action_url": action_url},
        title=f"Copy {mv.model.full_name} version {mv.version}", status=400 if form.errors else 200)
