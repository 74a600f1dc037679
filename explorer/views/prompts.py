"""Prompts, their own kind beside models: the Prompts list (everywhere, and per schema), a prompt's page with its
versions' templates, a line diff between two versions, its permissions and history (each tab its own URL)."""
from __future__ import annotations

import re

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from explorer.tabs import PROMPT_TABS, SCHEMA_TABS, render_tabs, tab_actions
from explorer.views.browse import get_schema, schema_crumbs
from explorer.views.common import paginate, ui_view
from explorer.views.model import can_flags, get_model, model_abilities, model_events
from explorer.views.permissions import permission_rows
from registry import selectors
from registry.errors import NotFound
from registry.models import ModelVersion, RegisteredModel
from registry.models.models import ModelKind
from registry.permissions import Action, abilities
from registry.prompts import TYPE_TAG, is_system_tag, template_diff, template_text
from registry.source_visibility import mask_version_events

VERSIONS_PER_PAGE = 20
# {{ variable }} as MLflow's PromptVersion.format fills them (mlflow.prompt.constants).
_VARIABLE = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*(?:\.[a-zA-Z_][a-zA-Z0-9_]*)*)\s*\}\}")


def get_prompt(actor, name: str) -> RegisteredModel:
    """The prompt `name` if `actor` may see it; a model of that name is no prompt (not found, like a hidden one)."""
    prompt = get_model(actor, name)
    if not prompt.is_prompt:
        raise NotFound(f"Prompt with name={name} not found")
    return prompt


def prompt_crumbs(prompt: RegisteredModel) -> list[tuple[str, str]]:
    crumbs = (schema_crumbs(prompt.schema) + [("Prompts", reverse("explorer:schema_prompts", args=[prompt.schema.full_name]))]
              if prompt.schema_id else [("Prompts", reverse("explorer:prompts"))])
    return crumbs + [(prompt.name, reverse("explorer:prompt", args=[prompt.full_name]))]


def _rows(prompts) -> list[dict]:
    """Each prompt of a page with its latest version number, aliases and user tags (three queries in all)."""
    from django.db.models import Max, prefetch_related_objects

    prompts = list(prompts)
    prefetch_related_objects(prompts, "tags", "aliases__version", "owner_user", "owner_group")
    latest = dict(ModelVersion.objects.filter(model__in=prompts).values_list("model").annotate(Max("version")))
    return [{"prompt": p, "latest": latest.get(p.pk),
             "aliases": sorted((a.alias, a.version.version) for a in p.aliases.all()),
             "tags": [t for t in sorted(p.tags.all(), key=lambda t: t.key) if not is_system_tag(t.key)][:5]}
            for p in prompts]


def _list_context(request: HttpRequest, prompts) -> dict:
    q = request.GET.get("q", "").strip()[:200]
    if q:  # the prompt's own name contains it (of a three-level name typed whole, its last part)
        prompts = prompts.filter(name__icontains=q.rsplit(".", 1)[-1])
    page = paginate(request, prompts.order_by("schema__catalog__name", "schema__name", "name", "pk"))
    return {"page": page, "rows": _rows(page.object_list), "q": q}


@ui_view
def prompts_list(request: HttpRequest) -> HttpResponse:
    context = _list_context(request, selectors.model_list_visible(actor=request.user, kind=ModelKind.PROMPT))
    context["any_prompt"] = bool(context["rows"]) or selectors.model_list_visible(
        actor=request.user, kind=ModelKind.PROMPT).exists()
    context["breadcrumbs"] = [("Prompts", reverse("explorer:prompts"))]
    return render(request, "explorer/prompts_list.html", context)


@ui_view
def schema_prompts(request: HttpRequest, schema: str) -> HttpResponse:
    obj = get_schema(request.user, schema)
    visible = selectors.model_list_visible(actor=request.user, schema=obj, kind=ModelKind.PROMPT)
    context = _list_context(request, visible)
    context["any_prompt"] = bool(context["rows"]) or visible.exists()
    allowed = abilities(request.user, obj, [Action.CREATE_MODEL, *tab_actions(SCHEMA_TABS)])
    context.update({
        "object": obj, "kind": "Schema", "breadcrumbs": schema_crumbs(obj), "schema": obj,
        "can_create_prompt": allowed[Action.CREATE_MODEL],
        "tabs": render_tabs(SCHEMA_TABS, actor=request.user, obj=obj, kwargs={"schema": obj.full_name},
                            active="explorer:schema_prompts", allowed=allowed),
    })
    return render(request, "explorer/schema_prompts.html", context)


def prompt_context(request: HttpRequest, prompt: RegisteredModel, active: str) -> dict:
    allowed = model_abilities(request.user, prompt, PROMPT_TABS)
    return {
        "object": prompt, "prompt": prompt, "kind": "Prompt" if prompt.is_unity_catalog else "Workspace prompt",
        "breadcrumbs": prompt_crumbs(prompt), "can": can_flags(allowed),
        "tabs": render_tabs(PROMPT_TABS, actor=request.user, obj=prompt, kwargs={"name": prompt.full_name},
                            active=active, allowed=allowed),
    }


def _version_view(mv: ModelVersion, aliases: list[str]) -> dict:
    tags = {t.key: t.value for t in mv.tags.all()}
    text = template_text(tags)
    return {"version": mv, "template": text, "chat": tags.get(TYPE_TAG) == "chat", "aliases": aliases,
            "variables": list(dict.fromkeys(_VARIABLE.findall(text))),
            "tags": [(k, v) for k, v in sorted(tags.items()) if not is_system_tag(k)]}


@ui_view
def prompt_overview(request: HttpRequest, name: str) -> HttpResponse:
    prompt = get_prompt(request.user, name)
    versions = ModelVersion.objects.filter(model=prompt).order_by("-version")
    page = paginate(request, versions.select_related("created_by").prefetch_related("tags"), size=VERSIONS_PER_PAGE)
    aliases = selectors.aliases_by_version(prompt)
    numbers = list(versions.values_list("version", flat=True)[:500])
    context = prompt_context(request, prompt, "explorer:prompt")
    context.update({
        "page": page, "versions": [_version_view(mv, aliases.get(mv.version, [])) for mv in page.object_list],
        "aliases": sorted((a, v) for v, names in aliases.items() for a in names),
        "prompt_tags": [t for t in prompt.tags.order_by("key") if not is_system_tag(t.key)],
        "numbers": numbers, "diff_from": numbers[1] if len(numbers) > 1 else None,
        "diff_to": numbers[0] if numbers else None,
        "load_uri": f"prompts:/{prompt.full_name}/{numbers[0]}" if numbers else "",
    })
    return render(request, "explorer/prompt_overview.html", context)


def _number(value: str) -> int | None:
    value = (value or "").strip()
    return int(value) if value.isascii() and value.isdigit() and 0 < len(value) <= 10 else None


@ui_view
def prompt_diff(request: HttpRequest, name: str) -> HttpResponse:
    prompt = get_prompt(request.user, name)
    context = prompt_context(request, prompt, "explorer:prompt_diff")
    numbers = list(ModelVersion.objects.filter(model=prompt).order_by("-version").values_list("version", flat=True)[:500])
    old_n = _number(request.GET.get("from", "")) or (numbers[1] if len(numbers) > 1 else None)
    new_n = _number(request.GET.get("to", "")) or (numbers[0] if numbers else None)
    context.update({"numbers": numbers, "diff_from": old_n, "diff_to": new_n, "error": "", "rows": []})
    found = {mv.version: mv for mv in ModelVersion.objects.filter(model=prompt, version__in=[n for n in (old_n, new_n) if n])
             .prefetch_related("tags")}
    if len(numbers) < 2:
        context["error"] = "A diff needs two versions; this prompt has " + ("one." if numbers else "none.")
    elif old_n not in found or new_n not in found:
        missing = old_n if old_n not in found else new_n
        context["error"] = f"{prompt.full_name} has no version {missing if missing else 'of that number'}."
    else:
        old, new = (_version_view(found[n], []) for n in (old_n, new_n))
        rows = template_diff(old["template"], new["template"])
        context.update({"old": old, "new": new, "rows": rows,
                        "added": sum(r["op"] == "insert" for r in rows),
                        "removed": sum(r["op"] == "delete" for r in rows)})
    return render(request, "explorer/prompt_diff.html", context)


@ui_view
def prompt_permissions(request: HttpRequest, name: str) -> HttpResponse:
    prompt = get_prompt(request.user, name)
    context = prompt_context(request, prompt, "explorer:prompt_permissions")
    context.update(permission_rows(prompt))
    context["securable_kind"] = "model"  # a prompt is a registered model: the same grants, the same dialogs
    return render(request, "explorer/permissions.html", context)


@ui_view
def prompt_history(request: HttpRequest, name: str) -> HttpResponse:
    prompt = get_prompt(request.user, name)
    context = prompt_context(request, prompt, "explorer:prompt_history")
    context["page"] = paginate(request, model_events(prompt), size=50)
    context["page"].object_list = mask_version_events(actor=request.user, events=context["page"].object_list)
    return render(request, "explorer/history.html", context)
