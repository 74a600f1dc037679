"""The "Upgrade to Unity Catalog" dialog of a workspace model: a three-level destination with a live hint of what
starting would do (and whether the user may), the stage -> alias mapping shown and editable, then the MIGRATE job,
which the model's Overview follows. The work is registry.services.migration.model_migrate's."""
from __future__ import annotations

from django import forms
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from explorer.views.common import dialog_done, render_dialog, ui_view
from explorer.views.model import get_model
from registry.errors import InvalidParameter, NotFound, RegistryError
from registry.migration_selectors import creatable_schemas, upgrade_destinations, upgrade_possible
from registry.models import ModelVersion
from registry.models.models import Stage
from registry.names import parse_model_name, validate_alias
from registry.selectors import model_get
from registry.services.copy import model_version_copy_effect
from registry.services.migration import DEFAULT_STAGE_ALIASES, model_migrate

# The order the mapping is shown in: the stages that usually carry an alias first.
STAGES = (Stage.PRODUCTION, Stage.STAGING, Stage.ARCHIVED, Stage.NONE)


def _alias_field(stage: str) -> str:
    return f"alias_{stage.lower()}"


class UpgradeForm(forms.Form):
    destination = forms.CharField(max_length=800, label="Destination model",
                                  help_text="A three-level name catalog.schema.model: a new model, or one you own.")

    def __init__(self, *args, hint_url: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["destination"].widget.attrs.update({
            "list": "upgrade-destinations", "autocomplete": "off", "aria-describedby": "register-hint",
            "hx-get": hint_url, "hx-trigger": "input changed delay:250ms", "hx-target": "#register-hint",
            "hx-swap": "outerHTML"})
        for stage in STAGES:
            self.fields[_alias_field(stage)] = forms.CharField(
                max_length=255, required=False, label=f"Alias for {stage}",
                widget=forms.TextInput(attrs={"autocomplete": "off", "pattern": "[A-Za-z0-9_\\-]+"}))

    def clean_destination(self) -> str:
        return self.cleaned_data["destination"].strip()

    def stage_alias_map(self) -> dict[str, str]:
        """Every stage, with "" for "no alias": the service then maps exactly what the user saw."""
        return {stage.value: self.cleaned_data[_alias_field(stage)].strip() for stage in STAGES}

    def clean(self):
        data = super().clean()
        for stage in STAGES:
            alias = (data.get(_alias_field(stage)) or "").strip()
            if alias:
                try:
                    validate_alias(alias)
                except RegistryError as exc:
                    self.add_error(_alias_field(stage), exc.message)
        return data


def upgrade_hint(actor, destination: str, version_count: int) -> str:
    """What starting the upgrade into `destination` would do, or why it would be refused, said as the user types.
    The destination takes versions as a copy's does, so the refusals are the copy's own
    (`model_version_copy_effect`): a model or schema the user may not see reads as missing."""
    destination = destination.strip()
    versions = f"{version_count} version{'s' if version_count != 1 else ''}"
    if not destination:
        return "Type catalog.schema.model: a new model, or a three-level model you own."
    if destination.count(".") == 0:
        return "The destination must be a three-level name <catalog>.<schema>.<model>."
    level, said = model_version_copy_effect(actor=actor, destination_name=destination, create_destination=True)
    if level == "error":
        return said
    try:
        existing = model_get(actor=actor, name=destination)
    except NotFound:
        return f"Creates the three-level model {parse_model_name(destination).full_name}, then copies the {versions} into it in order."
    return (f"Copies the {versions} into the existing model {existing.full_name}"
            + (f", from version {existing.last_version_number + 1} on." if version_count else "."))


def _stage_rows(model, form: UpgradeForm) -> list[dict]:
    """Each stage with its versions and the one that will hold the alias (the newest: versions go in order)."""
    by_stage: dict[str, list[int]] = {}
    for number, stage in ModelVersion.objects.filter(model=model).order_by("version").values_list("version", "current_stage"):
        by_stage.setdefault(stage, []).append(number)
    return [{"stage": stage.value, "field": form[_alias_field(stage)], "versions": by_stage.get(stage.value, [])}
            for stage in STAGES]


def _suggested_destination(actor, model) -> str:
    schemas = creatable_schemas(actor=actor, limit=1)
    if not schemas:
        return ""
    try:
        return parse_model_name(f"{schemas[0]}.{model.name.lower().replace(' ', '_')}").full_name
    except InvalidParameter:
        return ""


@ui_view
def upgrade_dialog(request: HttpRequest, name: str) -> HttpResponse:
    model = get_model(request.user, name)
    if not upgrade_possible(actor=request.user, model=model):
        if model.is_unity_catalog:
            raise NotFound(f"{model.full_name} is already a Unity Catalog model.")
        raise PermissionDenied("Permission denied: you may not create a model in any schema, nor add versions to "
                               "a three-level model.")
    version_count = ModelVersion.objects.filter(model=model).count()
    url = reverse("explorer:model_upgrade", args=[model.full_name])
    if request.method == "GET" and "hint" in request.GET:
        return render(request, "explorer/partials/register_hint.html",
                      {"hint": upgrade_hint(request.user, request.GET.get("destination", "")[:800], version_count)})
    initial = {"destination": _suggested_destination(request.user, model),
               **{_alias_field(stage): DEFAULT_STAGE_ALIASES.get(stage.value, "") for stage in STAGES}}
    form = UpgradeForm(request.POST or None, initial=initial, hint_url=f"{url}?hint=1")
    if request.method == "POST" and form.is_valid():
        try:
            model_migrate(actor=request.user, source_name=model.full_name,
                          destination_name=form.cleaned_data["destination"], stage_alias_map=form.stage_alias_map())
        except RegistryError as exc:
            form.add_error("destination", exc.message)
        else:
            return dialog_done(request, reverse("explorer:model", args=[model.full_name]))
    return render_dialog(request, "explorer/dialogs/upgrade_model.html", {
        "model": model, "form": form, "stage_rows": _stage_rows(model, form), "version_count": version_count,
        "suggestions": upgrade_destinations(actor=request.user),
        "hint": upgrade_hint(request.user, form["destination"].value() or "", version_count), "action_url": url,
    }, title=f"Upgrade {model.full_name} to Unity Catalog", status=400 if form.errors else 200)
