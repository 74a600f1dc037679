"""Editors and dialogs on models and versions: aliases, tags, descriptions (with Generate), rename, delete and
stage transitions. Each is a partial for the htmx modal shell and also a plain form post; every change goes
through a registry service."""
from __future__ import annotations

import json

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse

from explorer.forms import (
    AliasDeleteForm,
    AliasForm,
    DeleteForm,
    DescriptionForm,
    RenameForm,
    StageForm,
    TagDeleteForm,
    TagForm,
    add_registry_error,
)
from explorer.description_facts import facts_for, facts_rows, remembered_facts
from explorer.generators import Draft, chat_configured, generate_drafts
from explorer.markdown import render_markdown
from explorer.views.common import dialog_done, render_dialog, require, ui_view
from explorer.views.model import get_model
from explorer.views.version import artifact_root, get_version
from registry import storage
from registry.approval_selectors import protected_alias_get
from registry.errors import RegistryError
from registry.models import ModelAlias, ModelVersion, ModelVersionTag
from registry.names import validate_alias
from registry.permissions import Action
from registry.selectors import alias_to_set
from registry.services.aliases import alias_delete, alias_set
from registry.services.models import registered_model_delete, registered_model_rename, registered_model_update
from registry.services.tags import model_tag_delete, model_tag_set, version_tag_delete, version_tag_set
from registry.services.versions import model_version_delete, model_version_transition_stage, model_version_update

SIZE_WALK_LIMIT = 10_000


def _model_url(model) -> str:
    return reverse("explorer:model", args=[model.full_name])


def _version_url(mv) -> str:
    return reverse("explorer:version", kwargs={"name": mv.model.full_name, "version": mv.version})


# Aliases ------------------------------------------------------------------------------------------------

def alias_effect(model, alias: str, number: int | None) -> tuple[str, str, ModelAlias | None]:
    """What saving `alias` on version `number` would do, as (level, message, alias it would move): asked of the
    alias service's own rule (selectors.alias_to_set), so the dialog never warns about one alias and saves
    another. Levels: "" (adds or keeps), "warn" (moves it from another version), "error" (refused)."""
    alias = (alias or "").strip()
    try:
        number = int(number)
    except (TypeError, ValueError):
        number = None
    if not alias:
        return "", "Letters, digits, “_” and “-”; not “latest” or “v<number>”.", None
    try:
        existing = alias_to_set(model, validate_alias(alias))
    except RegistryError as exc:
        return "error", exc.message, None
    protected = protected_alias_get(model, alias)
    if protected is not None:  # said before anything is typed further (the service refuses it too)
        return ("error", f"'{protected.alias}' is protected: it moves only through an approved request "
                         "(Approvals tab, Request change).", None)
    if existing is None:
        return "", f"Adds the alias '{alias}'" + (f" to version {number}." if number else "."), None
    spelled = f"'{alias}' is the alias '{existing.alias}', which" if existing.alias != alias else f"'{alias}'"
    if existing.version.version == number:
        return "", f"{spelled} is already on version {number}.", existing
    return ("warn", f"{spelled} is on version {existing.version.version}; adding it here moves it from version "
                    f"{existing.version.version} to version {number}.", existing)


def _with_live_hint(form: AliasForm, hint_url: str) -> AliasForm:
    """The alias field asks the server what saving would do as the user types (the version select does too)."""
    form.fields["alias"].widget.attrs.update({
        "aria-describedby": "alias-hint", "hx-get": hint_url, "hx-trigger": "input changed delay:200ms",
        # Only the two fields: the form's CSRF token does not belong in a URL.
        "hx-include": "next [name=version]", "hx-target": "#alias-hint", "hx-swap": "outerHTML"})
    return form


def _move_token(existing: ModelAlias, number: int) -> str:
    """What a "Move alias" confirmation agreed to: this alias, from its version, to this one."""
    return f"{existing.pk}:{existing.version.version}:{number}"


@ui_view
def alias_dialog(request: HttpRequest, name: str) -> HttpResponse:
    model = get_model(request.user, name)
    require(request.user, Action.MODIFY, model)
    action_url = reverse("explorer:aliases", args=[model.full_name])
    hint_url = f"{action_url}?hint=1"
    if request.method == "GET" and "hint" in request.GET:
        level, hint, _ = alias_effect(model, request.GET.get("alias", "")[:300], request.GET.get("version"))
        return render(request, "explorer/partials/alias_hint.html", {"hint": hint, "level": level})
    versions = list(ModelVersion.objects.filter(model=model).order_by("-version").values_list("version", flat=True)[:200])
    try:
        preset = int(request.GET.get("version", "") or (versions[0] if versions else 1))
    except ValueError:
        preset = versions[0] if versions else 1
    form = _with_live_hint(AliasForm(initial={"version": preset}), hint_url)
    delete_form = AliasDeleteForm()
    confirm_move, move_token, saved = "", "", ""
    if request.method == "POST" and request.POST.get("op") == "delete":
        delete_form = AliasDeleteForm(request.POST)
        if delete_form.is_valid():
            try:
                alias_delete(actor=request.user, name=model.full_name, alias=delete_form.cleaned_data["alias"])
            except RegistryError as exc:
                add_registry_error(delete_form, exc)
            else:
                if not request.htmx:
                    return HttpResponseRedirect(action_url)
                saved = f"Removed the alias '{delete_form.cleaned_data['alias']}'."
    elif request.method == "POST":
        form = _with_live_hint(AliasForm(request.POST), hint_url)
        if form.is_valid():
            alias, number = form.cleaned_data["alias"].strip(), form.cleaned_data["version"]
            level, message, existing = alias_effect(model, alias, number)
            if level == "error":
                form.add_error("alias", message)
            elif level == "warn" and request.POST.get("confirm_move") != _move_token(existing, number):
                confirm_move, move_token = message, _move_token(existing, number)
            else:
                try:
                    alias_set(actor=request.user, name=model.full_name, alias=alias, version=number)
                except RegistryError as exc:
                    add_registry_error(form, exc, "alias")
                else:
                    if not request.htmx:
                        return HttpResponseRedirect(action_url)
                    # The dialog stays open for the next alias, with the list as it now is.
                    saved = f"'{alias}' is now on version {number}."
                    form = _with_live_hint(AliasForm(initial={"version": number}), hint_url)
    limit = settings.REGISTRY_MAX_ALIASES_PER_MODEL
    current = list(ModelAlias.objects.filter(model=model).select_related("version").order_by("alias"))
    level, hint, _ = alias_effect(model, form["alias"].value() or "", form["version"].value())
    if confirm_move or level == "error":  # said by the confirmation or by the field's error instead
        level, hint, _ = alias_effect(model, "", None)
    return render_dialog(request, "explorer/dialogs/aliases.html", {
        "model": model, "form": form, "delete_form": delete_form, "current": current, "versions": versions,
        "confirm_move": confirm_move, "move_token": move_token, "limit": limit, "at_limit": len(current) >= limit,
        "hint": hint, "level": level, "action_url": action_url, "hint_url": hint_url, "saved": saved,
    }, title=f"Aliases of {model.full_name}")


# Tags ---------------------------------------------------------------------------------------------------

def _tag_dialog(request: HttpRequest, *, target, tags, suggestions: dict[str, str], set_tag, delete_tag,
                back: str, action_url: str, title: str) -> HttpResponse:
    """`tags`: a callable listing the object's tags, asked after any change so the dialog shows them as saved.
    A save or a removal keeps the dialog open for the next one (a plain post comes back to the dialog's page)."""
    form, delete_form, saved = TagForm(), TagDeleteForm(), ""
    back_param = "model" if (request.POST.get("back") or request.GET.get("back")) == "model" else ""
    here = action_url + ("?back=model" if back_param else "")
    if request.method == "POST" and request.POST.get("op") == "delete":
        delete_form = TagDeleteForm(request.POST)
        if delete_form.is_valid():
            try:
                delete_tag(delete_form.cleaned_data["key"])
            except RegistryError as exc:
                add_registry_error(delete_form, exc)
            else:
                if not request.htmx:
                    return HttpResponseRedirect(here)
                saved = f"Removed the tag '{delete_form.cleaned_data['key']}'."
    elif request.method == "POST":
        form = TagForm(request.POST)
        if form.is_valid():
            try:
                set_tag(form.cleaned_data["key"], form.cleaned_data["value"])
            except RegistryError as exc:
                add_registry_error(form, exc)
            else:
                if not request.htmx:
                    return HttpResponseRedirect(here)
                saved, form = f"Saved the tag '{form.cleaned_data['key']}'.", TagForm()
    tags = tags()
    limit = settings.REGISTRY_MAX_TAGS_PER_OBJECT
    return render_dialog(request, "explorer/dialogs/tags.html", {
        "target": target, "tags": tags, "form": form, "delete_form": delete_form, "limit": limit,
        "at_limit": len(tags) >= limit, "suggestions": sorted(suggestions.items()),
        # The value field is pre-filled only from the object's own tags; siblings' values are examples.
        "own_tags_json": json.dumps({tag.key: tag.value for tag in tags}),
        "suggestions_json": json.dumps(suggestions), "action_url": action_url,
        "max_value": settings.REGISTRY_MAX_TAG_VALUE_LENGTH, "back_param": back_param, "saved": saved,
        "back_url": back,  # where Close goes on the dialog's own page
    }, title=title)


@ui_view
def model_tags_dialog(request: HttpRequest, name: str) -> HttpResponse:
    model = get_model(request.user, name)
    require(request.user, Action.TAG, model)
    full = model.full_name
    return _tag_dialog(
        request, target=model, tags=lambda: list(model.tags.order_by("key")), suggestions={},
        set_tag=lambda k, v: model_tag_set(actor=request.user, name=full, key=k, value=v),
        delete_tag=lambda k: model_tag_delete(actor=request.user, name=full, key=k),
        back=_model_url(model), action_url=reverse("explorer:model_tags", args=[full]), title=f"Tags of {full}")


@ui_view
def version_tags_dialog(request: HttpRequest, name: str, version: int) -> HttpResponse:
    mv = get_version(request.user, name, version)
    require(request.user, Action.TAG, mv.model)
    full = mv.model.full_name
    # Keys already used on sibling versions, with their most recent value as an example, to keep tagging
    # consistent (offered as key suggestions and a placeholder, never as the value typed into).
    suggestions: dict[str, str] = {}
    rows = (ModelVersionTag.objects.filter(version__model=mv.model).exclude(version=mv)
            .order_by("-version__version").values_list("key", "value")[:500])
    for key, value in rows:
        suggestions.setdefault(key, value[:200])
    back = _model_url(mv.model) if (request.POST.get("back") or request.GET.get("back")) == "model" else _version_url(mv)
    return _tag_dialog(
        request, target=mv, tags=lambda: list(mv.tags.order_by("key")), suggestions=dict(list(suggestions.items())[:100]),
        set_tag=lambda k, v: version_tag_set(actor=request.user, name=full, version=mv.version, key=k, value=v),
        delete_tag=lambda k: version_tag_delete(actor=request.user, name=full, version=mv.version, key=k),
        back=back, action_url=reverse("explorer:version_tags", kwargs={"name": full, "version": mv.version}),
        title=f"Tags of {full} version {mv.version}")


# Descriptions -------------------------------------------------------------------------------------------

def _description_dialog(request: HttpRequest, *, obj, save, back: str, action_url: str, title: str) -> HttpResponse:
    """States: write (default), preview, draft (the generated drafts side by side, with the facts they were built
    from, each for Accept / Edit; Cancel). Only `save` and `accept` change anything."""
    op = request.POST.get("op", "") if request.method == "POST" else ""
    form = DescriptionForm(request.POST if op in ("save", "preview", "write") else None,
                           initial={"description": obj.description})
    state, draft, error, drafts = "write", "", "", []
    verb, _, picked = op.partition(":")
    built_from = []
    if op == "generate":
        with remembered_facts():
            drafts = generate_drafts(obj, actor=request.user)
            built_from = facts_rows(facts_for(obj, actor=request.user))
        state = "draft"
    elif verb in ("edit", "accept"):
        # The drafts travel as hidden fields; `op` says which one was picked ("accept" alone: the first).
        texts, labels = request.POST.getlist("draft"), request.POST.getlist("draft_label")
        index = int(picked) if picked.isdigit() else 0
        draft = texts[index] if index < len(texts) else None
        if draft is None:
            pass  # no such draft: the editor again, nothing changed
        elif verb == "edit":
            form = DescriptionForm(initial={"description": draft})
        else:
            try:
                save(draft)
            except RegistryError as exc:
                state, error = "draft", exc.message
                label = labels[index] if index < len(labels) else "Draft"
                drafts = [Draft("accepted", label[:100], text=draft)]
                built_from = facts_rows(facts_for(obj, actor=request.user))
            else:
                return dialog_done(request, back)
    elif op == "save" and form.is_valid():
        try:
            save(form.cleaned_data["description"])
        except RegistryError as exc:
            add_registry_error(form, exc, "description")
        else:
            return dialog_done(request, back)
    elif op == "preview" and form.is_valid():
        state = "preview"
    text = form["description"].value() or ""
    if op == "generate" or verb == "accept":
        # What the user had typed travels with the draft, so "Back to my text" (and the unsaved-text warning)
        # can still reach it.
        text = request.POST.get("description", text)
    return render_dialog(request, "explorer/dialogs/description.html", {
        "object": obj, "form": form, "state": state, "drafts": _shown_drafts(drafts),
        "chat_configured": chat_configured() or any(d.key == "chat" for d in drafts),
        "built_from": built_from,
        "preview_html": render_markdown(text) if state == "preview" else "", "text": text,
        "original": obj.description, "error": error, "action_url": action_url,
    }, title=title)


def _shown_drafts(drafts: list[Draft]) -> list[dict]:
    """Drafts for the template; `index` numbers those with a text, in the order of their hidden fields."""
    shown, index = [], 0
    for draft in drafts:
        row = {"key": draft.key, "label": draft.label, "text": draft.text, "error": draft.error, "index": None,
               "html": render_markdown(draft.text) if draft.text else ""}
        if draft.text and not draft.error:
            row["index"], index = index, index + 1
        shown.append(row)
    return shown


@ui_view
def model_description_dialog(request: HttpRequest, name: str) -> HttpResponse:
    model = get_model(request.user, name)
    require(request.user, Action.MODIFY, model)
    full = model.full_name
    return _description_dialog(
        request, obj=model, save=lambda text: registered_model_update(actor=request.user, name=full, description=text),
        back=_model_url(model), action_url=reverse("explorer:model_description", args=[full]),
        title=f"Description of {full}")


@ui_view
def version_description_dialog(request: HttpRequest, name: str, version: int) -> HttpResponse:
    mv = get_version(request.user, name, version)
    require(request.user, Action.MODIFY, mv.model)
    full = mv.model.full_name
    return _description_dialog(
        request, obj=mv,
        save=lambda text: model_version_update(actor=request.user, name=full, version=mv.version, description=text),
        back=_version_url(mv), action_url=reverse("explorer:version_description", kwargs={"name": full, "version": mv.version}),
        title=f"Description of {full} version {mv.version}")


# Rename, delete, stage ----------------------------------------------------------------------------------

@ui_view
def rename_dialog(request: HttpRequest, name: str) -> HttpResponse:
    model = get_model(request.user, name)
    require(request.user, Action.MODIFY, model)
    prefix = f"{model.schema.full_name}." if model.schema_id else ""
    form = RenameForm(request.POST or None, initial={"new_name": model.name})
    if request.method == "POST" and form.is_valid():
        try:
            renamed = registered_model_rename(actor=request.user, name=model.full_name,
                                              new_name=prefix + form.cleaned_data["new_name"].strip())
        except RegistryError as exc:
            add_registry_error(form, exc, "new_name")
        else:
            return dialog_done(request, _model_url(renamed))
    return render_dialog(request, "explorer/dialogs/rename.html", {
        "model": model, "form": form, "prefix": prefix,
        "action_url": reverse("explorer:model_rename", args=[model.full_name])}, title=f"Rename {model.full_name}")


def _stored_size(location: str | None) -> tuple[int, bool]:
    """Bytes stored under `location` (counting at most SIZE_WALK_LIMIT files), and whether it was cut short."""
    if not location:
        return 0, False
    total = 0
    try:
        for count, (_, size) in enumerate(storage.walk_files(location)):
            if count >= SIZE_WALK_LIMIT:
                return total, True
            total += size
    except RegistryError:
        return 0, False
    return total, False


@ui_view
def model_delete_dialog(request: HttpRequest, name: str) -> HttpResponse:
    model = get_model(request.user, name)
    require(request.user, Action.DELETE, model)
    form = DeleteForm(request.POST or None, expected=model.full_name)
    if request.method == "POST" and form.is_valid():
        try:
            registered_model_delete(actor=request.user, name=model.full_name)
        except RegistryError as exc:
            add_registry_error(form, exc)
        else:
            target = (reverse("explorer:schema", args=[model.schema.full_name]) if model.schema_id
                      else reverse("explorer:workspace"))
            return dialog_done(request, target)
    size, partial = _stored_size(f"registry/{model.uid.hex}") if model.is_unity_catalog else (0, False)
    return render_dialog(request, "explorer/dialogs/delete_model.html", {
        "model": model, "form": form, "version_count": model.versions.count(),
        "alias_count": ModelAlias.objects.filter(model=model).count(), "size": size, "size_partial": partial,
        "action_url": reverse("explorer:model_delete", args=[model.full_name])}, title=f"Delete {model.full_name}")


@ui_view
def version_delete_dialog(request: HttpRequest, name: str, version: int) -> HttpResponse:
    mv = get_version(request.user, name, version)
    require(request.user, Action.DELETE, mv.model)
    expected = f"{mv.model.full_name}/{mv.version}"
    form = DeleteForm(request.POST or None, expected=expected)
    if request.method == "POST" and form.is_valid():
        try:
            model_version_delete(actor=request.user, name=mv.model.full_name, version=mv.version)
        except RegistryError as exc:
            add_registry_error(form, exc)
        else:
            return dialog_done(request, _model_url(mv.model))
    managed = mv.model.is_unity_catalog
    size, partial = _stored_size(artifact_root(mv)) if managed else (0, False)
    return render_dialog(request, "explorer/dialogs/delete_version.html", {
        "version": mv, "model": mv.model, "form": form, "expected": expected, "managed": managed,
        "aliases": list(ModelAlias.objects.filter(version=mv).values_list("alias", flat=True)),
        "tag_count": mv.tags.count(), "size": size, "size_partial": partial,
        "action_url": reverse("explorer:version_delete", kwargs={"name": mv.model.full_name, "version": mv.version}),
    }, title=f"Delete version {mv.version} of {mv.model.full_name}")


@ui_view
def stage_dialog(request: HttpRequest, name: str, version: int) -> HttpResponse:
    mv = get_version(request.user, name, version)
    require(request.user, Action.MODIFY, mv.model)
    form = StageForm(request.POST or None, initial={"stage": mv.current_stage})
    if request.method == "POST" and form.is_valid():
        try:
            model_version_transition_stage(
                actor=request.user, name=mv.model.full_name, version=mv.version, stage=form.cleaned_data["stage"],
                archive_existing_versions=form.cleaned_data["archive_existing_versions"])
        except RegistryError as exc:
            add_registry_error(form, exc)
        else:
            return dialog_done(request, _version_url(mv))
    return render_dialog(request, "explorer/dialogs/stage.html", {
        "version": mv, "model": mv.model, "form": form,
        "action_url": reverse("explorer:version_stage", kwargs={"name": mv.model.full_name, "version": mv.version}),
    }, title=f"Transition version {mv.version} of {mv.model.full_name}")
