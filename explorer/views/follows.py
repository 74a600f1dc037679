"""Follow a model or a schema: a dialog to choose the events to be emailed about, or to unfollow
(registry.services.follows). Anyone who may read the object may follow it."""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from explorer.templatetags.explorer_tags import object_url
from explorer.views.common import dialog_done, render_dialog, ui_view
from explorer.views.model import get_model
from registry.errors import InvalidParameter, NotFound, RegistryError
from registry.events.emails import event_label
from registry.events.names import followable
from registry.selectors import schema_get
from registry.services.follows import DEFAULT_EVENTS, follow_delete, follow_get, follow_set


class FollowForm(forms.Form):
    events = forms.MultipleChoiceField(label="Email me when", widget=forms.CheckboxSelectMultiple, required=False)

    def __init__(self, *args, schema: bool, **kwargs):
        super().__init__(*args, **kwargs)
        choices = [e for e in followable() if schema or e != "registered_model.created"]
        self.fields["events"].choices = [(e, event_label(e)) for e in choices]


def _target(request: HttpRequest, kind: str, name: str):
    if kind == "model":
        return get_model(request.user, name)
    if kind == "schema":
        try:
            return schema_get(actor=request.user, full_name=name)
        except InvalidParameter:
            raise NotFound(f"Schema '{name}' does not exist.") from None
    raise NotFound("Not found.")


@ui_view
@require_http_methods(["GET", "POST"])
def follow_dialog(request: HttpRequest, kind: str, name: str) -> HttpResponse:
    target = _target(request, kind, name)
    is_schema = kind == "schema"
    current = follow_get(actor=request.user, model=None if is_schema else target, schema=target if is_schema else None)
    initial = current.events if current else [*DEFAULT_EVENTS, *(["registered_model.created"] if is_schema else [])]
    form = FollowForm(request.POST or None, initial={"events": initial}, schema=is_schema)
    back = object_url(target)
    key = {"schema": target.full_name} if is_schema else {"name": target.full_name}
    if request.method == "POST":
        try:
            if "unfollow" in request.POST:
                follow_delete(actor=request.user, **key)
                messages.success(request, f"You no longer follow {target.full_name}.")
                return dialog_done(request, back)
            if form.is_valid():
                follow_set(actor=request.user, events=form.cleaned_data["events"], **key)
                messages.success(request, f"You follow {target.full_name}: emails go to "
                                          f"{request.user.email or '(no address on your account)'}.")
                return dialog_done(request, back)
        except RegistryError as exc:
            form.add_error("events", exc.message)
    return render_dialog(request, "explorer/dialogs/follow.html", {
        "form": form, "target": target, "follow": current, "back_url": back, "is_schema": is_schema,
        "action_url": reverse("explorer:follow", args=[kind, target.full_name])}, title=f"Follow {target.full_name}")
