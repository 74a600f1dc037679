"""The model's Approvals tab (protected aliases, the approval switch for stage transitions, the requests), the
"Request change" dialog, and a request's page: the compare view of the alias's current and proposed versions,
with Approve / Reject (and Cancel for who opened it), each with a comment. Thin over registry.services.approvals."""
from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from explorer.forms import add_registry_error
from explorer.views.browse import model_crumbs
from explorer.views.common import dialog_done, render_dialog, ui_view
from explorer.views.compare import version_diff
from explorer.views.model import get_model, model_context
from registry import approval_selectors as sel
from registry import selectors
from registry.errors import NotFound, RegistryError
from registry.models import AliasChangeRequest, ModelVersion, RequestState, StageTransitionRequest
from registry.models.models import Stage
from registry.services import approvals as svc

STATE_CSS = {RequestState.PENDING: "pending", RequestState.APPROVED: "ok", RequestState.REJECTED: "failed",
             RequestState.CANCELLED: ""}


class RequestChangeForm(forms.Form):
    alias = forms.CharField(max_length=255, label="Alias",
                            widget=forms.TextInput(attrs={"list": "request-alias-suggestions", "autocomplete": "off",
                                                          "pattern": "[A-Za-z0-9_\\-]+"}))
    action = forms.ChoiceField(label="Change", choices=[("MOVE", "Move it to a version"), ("DELETE", "Delete it")],
                               widget=forms.RadioSelect, initial="MOVE")
    version = forms.IntegerField(min_value=1, required=False, label="To version")
    comment = forms.CharField(max_length=svc.MAX_COMMENT, required=False, label="Comment (why)",
                              widget=forms.Textarea(attrs={"rows": 3}))


class DecisionForm(forms.Form):
    comment = forms.CharField(max_length=svc.MAX_COMMENT, required=False, label="Comment",
                              widget=forms.Textarea(attrs={"rows": 3}))


class ProtectForm(forms.Form):
    alias = forms.CharField(max_length=255, label="Protect an alias",
                            widget=forms.TextInput(attrs={"autocomplete": "off", "pattern": "[A-Za-z0-9_\\-]+",
                                                          "placeholder": "e.g. Champion"}))


class TransitionRequestForm(forms.Form):
    version = forms.IntegerField(min_value=1, label="Version")
    stage = forms.ChoiceField(choices=[(st.value, st.value) for st in Stage], label="To stage")
    comment = forms.CharField(max_length=svc.MAX_COMMENT, required=False, label="Comment")


def _tab_url(model) -> str:
    return reverse("explorer:model_approvals", args=[model.full_name])


def _request_url(req: AliasChangeRequest) -> str:
    return reverse("explorer:alias_request", args=[req.model.full_name, req.pk])


def describe(req: AliasChangeRequest) -> str:
    if req.action == AliasChangeRequest.Action.DELETE:
        return f"Delete @{req.alias}"
    return f"Move @{req.alias} to version {req.version}"


@ui_view
def model_approvals(request: HttpRequest, name: str) -> HttpResponse:
    return _tab(request, get_model(request.user, name))


def _tab(request: HttpRequest, model, *, error: str = "", status: int = 200,
         transition_form: TransitionRequestForm | None = None) -> HttpResponse:
    context = model_context(request, model, "explorer:model_approvals")
    may_decide = svc.may_decide(request.user, model)
    requests = sel.alias_request_list_visible(actor=request.user).filter(model=model)
    pending = list(requests.filter(state=RequestState.PENDING).order_by("created_at", "id"))
    decided = list(requests.exclude(state=RequestState.PENDING)[:50])
    transitions = (sel.transition_request_list_visible(actor=request.user).filter(version__model=model)
                   .order_by("-created_at", "-id")[:50]) if not model.is_unity_catalog else []
    context.update({
        "protected": sel.protected_alias_names(model),
        "transitions_need_approval": sel.transitions_need_approval(model),
        "may_decide": may_decide,
        "pending": [(r, describe(r), _request_url(r)) for r in pending],
        "decided": [(r, describe(r), _request_url(r), STATE_CSS[r.state]) for r in decided],
        "transitions": [(t, STATE_CSS[t.state], _transition_actions(request.user, t, may_decide))
                        for t in transitions],
        "transition_form": transition_form or TransitionRequestForm(),
        "transition_url": reverse("explorer:transition_request_action", args=[model.full_name]),
        "protect_form": ProtectForm(),
        "request_url": reverse("explorer:alias_request_create", args=[model.full_name]),
        "settings_url": reverse("explorer:model_approval_settings", args=[model.full_name]),
        "error": error,
    })
    return render(request, "explorer/model_approvals.html", context, status=status)


@ui_view
@require_POST
def approval_settings(request: HttpRequest, name: str) -> HttpResponse:
    """Protect or unprotect an alias, or switch approvals of stage transitions (plain posts from the tab)."""
    model = get_model(request.user, name)
    op = request.POST.get("op", "")
    try:
        if op == "protect":
            form = ProtectForm(request.POST)
            if not form.is_valid():
                return _tab(request, model, error="Type the alias to protect (letters, digits, '_' and '-').",
                            status=400)
            svc.protected_alias_add(actor=request.user, name=model.full_name, alias=form.cleaned_data["alias"])
        elif op == "unprotect":
            svc.protected_alias_remove(actor=request.user, name=model.full_name, alias=request.POST.get("alias", ""))
        elif op == "transitions":
            svc.approval_policy_set(actor=request.user, name=model.full_name,
                                    transitions_need_approval=request.POST.get("transitions_need_approval") == "on")
        else:
            return _tab(request, model, error="Unknown change.", status=400)
    except RegistryError as exc:
        if isinstance(exc, NotFound) and "not protected" not in exc.message:
            raise
        return _tab(request, model, error=exc.message, status=403 if exc.error_code == "PERMISSION_DENIED" else 400)
    return redirect(_tab_url(model))


@ui_view
def alias_request_create_dialog(request: HttpRequest, name: str) -> HttpResponse:
    model = get_model(request.user, name)
    initial = {"alias": request.GET.get("alias", "")[:255], "action": "MOVE"}
    form = RequestChangeForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            req = svc.alias_request_create(actor=request.user, name=model.full_name, alias=data["alias"].strip(),
                                           action=data["action"], comment=data["comment"],
                                           version=data["version"] if data["action"] == "MOVE" else None)
        except RegistryError as exc:
            add_registry_error(form, exc)
        else:
            return dialog_done(request, _request_url(req))
    current = {a: v for v, names in selectors.aliases_by_version(model).items() for a in names}
    return render_dialog(request, "explorer/dialogs/alias_request.html", {
        "model": model, "form": form, "current": sorted(current.items()),
        "protected": sel.protected_alias_names(model),
        "action_url": reverse("explorer:alias_request_create", args=[model.full_name]),
    }, title=f"Request an alias change on {model.full_name}")


@ui_view
def alias_request_page(request: HttpRequest, name: str, request_id: int) -> HttpResponse:
    model = get_model(request.user, name)
    req = sel.alias_request_get(actor=request.user, request_id=request_id)
    if req.model_id != model.pk:
        raise NotFound(sel.alias_request_not_found_message(request_id))
    form = DecisionForm(request.POST or None)
    error = ""
    if request.method == "POST":
        decision = request.POST.get("decision", "")
        service = {"approve": svc.alias_request_approve, "reject": svc.alias_request_reject,
                   "cancel": svc.alias_request_cancel}.get(decision)
        if service is not None and form.is_valid():
            try:
                service(actor=request.user, request_id=req.pk, comment=form.cleaned_data["comment"])
            except RegistryError as exc:
                error = exc.message
            else:
                return redirect(_request_url(req))
        elif service is None:
            error = "Choose Approve, Reject or Cancel."
        req = sel.alias_request_get(actor=request.user, request_id=request_id)
    current = selectors.alias_lookup(model, req.alias).select_related("version").first()
    current_number = current.version.version if current else None
    # Pending: what approving would change now. Decided: what the request was about (from, to).
    left = current_number if req.is_pending else req.from_version
    existing = set(ModelVersion.objects.filter(model=model, version__in=[n for n in (left, req.version) if n])
                   .values_list("version", flat=True))
    numbers = [n for n in dict.fromkeys([left, req.version]) if n in existing]
    columns, sections = version_diff(request, model, numbers) if numbers else ([], [])
    context = model_context(request, model, "explorer:model_approvals")
    context["breadcrumbs"] = model_crumbs(model) + [("Approvals", _tab_url(model)), (f"Request {req.pk}", "")]
    own = req.requested_by_id == request.user.pk
    may_decide = req.is_pending and not own and svc.may_decide(request.user, model)
    context.update({
        "req": req, "summary": describe(req), "state_css": STATE_CSS[req.state], "form": form, "error": error,
        "stale": svc.alias_request_staleness(req) if req.is_pending else "",
        "current_number": current_number, "left": left, "columns": columns, "sections": sections,
        "may_decide": may_decide, "may_cancel": req.is_pending and (own or may_decide),
        "own": own, "protected": sel.protected_alias_get(model, req.alias) is not None,
    })
    return render(request, "explorer/alias_request.html", context, status=400 if error else 200)


def _transition_actions(actor, req: StageTransitionRequest, may_decide: bool) -> dict:
    own = req.requested_by_id == actor.pk
    pending = req.state == RequestState.PENDING
    return {"decide": pending and may_decide and not own, "cancel": pending and (own or may_decide)}


@ui_view
@require_POST
def transition_request_action(request: HttpRequest, name: str) -> HttpResponse:
    """Open, approve, reject or cancel a stage transition request from the Approvals tab (plain posts)."""
    model = get_model(request.user, name)
    op = request.POST.get("op", "")
    if op == "create":
        form = TransitionRequestForm(request.POST)
        if not form.is_valid():
            return _tab(request, model, error="Choose a version and a stage.", status=400, transition_form=form)
        data = form.cleaned_data
        call = lambda: svc.transition_request_create(  # noqa: E731
            actor=request.user, name=model.full_name, version=data["version"], stage=data["stage"],
            comment=data["comment"])
    else:
        version, stage = request.POST.get("version", ""), request.POST.get("stage", "")
        comment = request.POST.get("comment", "")
        calls = {
            "approve": lambda: svc.transition_request_approve(
                actor=request.user, name=model.full_name, version=version, stage=stage, comment=comment,
                archive_existing_versions=request.POST.get("archive_existing_versions") == "on"),
            "reject": lambda: svc.transition_request_reject(actor=request.user, name=model.full_name,
                                                            version=version, stage=stage, comment=comment),
            "cancel": lambda: svc.transition_request_cancel(actor=request.user, name=model.full_name,
                                                            version=version, stage=stage, comment=comment,
                                                            creator=request.POST.get("creator") or None),
        }
        if op not in calls:
            return _tab(request, model, error="Unknown change.", status=400)
        call = calls[op]
    try:
        call()
    except RegistryError as exc:  # the model is readable: any refusal is said on the tab
        return _tab(request, model, error=exc.message, status=403 if exc.error_code == "PERMISSION_DENIED" else 400)
    return redirect(_tab_url(model) + "#transitions-h")


@ui_view
def requests_inbox(request: HttpRequest) -> HttpResponse:
    """Pending requests across the models the user may read: those they may decide, and their own."""
    rows = sel.requests_to_decide(actor=request.user)
    rows = {key: list(qs) for key, qs in rows.items()}
    mine = sel.alias_request_list_visible(actor=request.user).filter(requested_by=request.user)[:50]
    return render(request, "explorer/requests_inbox.html", {
        "breadcrumbs": [("Requests", "")],
        "to_decide": [(r, describe(r), _request_url(r)) for r in rows["alias"]],
        "transitions_to_decide": rows["transition"], "total": len(rows["alias"]) + len(rows["transition"]),
        "mine": [(r, describe(r), _request_url(r), STATE_CSS[r.state]) for r in mine],
    })
