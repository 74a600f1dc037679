"""The model page and its tabs: Overview, Details, Permissions, Lineage, History (each its own URL)."""
from __future__ import annotations

from django.conf import settings
from django.db.models import CharField, Q
from django.db.models.functions import Cast
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from explorer.tabs import MODEL_TABS, render_tabs, tab_actions
from explorer.views.browse import model_crumbs
from explorer.views.common import PAGE_SIZES, page_size, paginate, ui_view
from explorer.views.lineage import lineage_context
from explorer.views.permissions import permission_rows
from explorer.views.versions_table import ANY_ALIAS, STATUSES, filter_versions, jump_page, table_query, version_filters
from registry import selectors
from registry.errors import InvalidParameter, NotFound
from registry.migration_selectors import describe_upgrade_events, model_upgrade, upgrade_possible
from registry.models import AuditEvent, ModelVersion, ModelVersionTag, RegisteredModel, Run
from registry.permissions import Action, abilities
from registry.source_visibility import attach_provenance, mask_version_events

VERSIONS_PER_PAGE = 50


def get_model(actor, name: str) -> RegisteredModel:
    try:
        return selectors.model_get(actor=actor, name=name)
    except InvalidParameter:
        raise NotFound(selectors.model_not_found_message(name)) from None


# What the model and version pages offer, by the name their templates use (`can.modify`, ...).
MODEL_ACTIONS = {"modify": Action.MODIFY, "tag": Action.TAG, "delete": Action.DELETE, "manage": Action.MANAGE_GRANTS}


def model_abilities(actor, model: RegisteredModel, tabs=()) -> dict[Action, bool]:
    """Every action the page's buttons and `tabs` depend on, answered in one permission query."""
    return abilities(actor, model, [*MODEL_ACTIONS.values(), *tab_actions(tabs)])


def can_flags(allowed: dict[Action, bool]) -> dict[str, bool]:
    return {key: allowed[action] for key, action in MODEL_ACTIONS.items()}


def model_context(request: HttpRequest, model: RegisteredModel, active: str) -> dict:
    allowed = model_abilities(request.user, model, MODEL_TABS)
    return {
        "object": model, "model": model, "kind": "Model" if model.is_unity_catalog else "Workspace model",
        "breadcrumbs": model_crumbs(model), "can": can_flags(allowed),
        "can_upgrade": upgrade_possible(actor=request.user, model=model),
        "tabs": render_tabs(MODEL_TABS, actor=request.user, obj=model, kwargs={"name": model.full_name}, active=active,
                            allowed=allowed),
    }


@ui_view
def model_overview(request: HttpRequest, name: str) -> HttpResponse:
    model = get_model(request.user, name)
    if model.is_prompt:  # a prompt has its own page (explorer.views.prompts)
        return redirect("explorer:prompt", name=model.full_name)
    filters = version_filters(request)
    size = page_size(request, default=VERSIONS_PER_PAGE)
    versions = filter_versions(ModelVersion.objects.filter(model=model), filters).order_by("-version")
    jump, jump_error = request.GET.get("jump", "").strip(), ""
    if jump:
        number = int(jump) if jump.isascii() and jump.isdigit() and len(jump) <= 10 else None
        target = jump_page(versions, number, size) if number else None
        if target is not None:
            query = table_query(filters, size=size, default_size=VERSIONS_PER_PAGE, page=target)
            return redirect(f"{request.path}{query}#version-{number}")
        shown = jump[:20]
        jump_error = (f"Version {shown} is not among the versions shown; clear the filters to look for it."
                      if number and filters.active and ModelVersion.objects.filter(model=model, version=number).exists()
                      else f"{model.full_name} has no version {shown}.")
    page = paginate(request, versions.select_related("created_by").prefetch_related("tags"), size=size)
    aliases = selectors.aliases_by_version(model)
    listed = attach_provenance(actor=request.user, versions=page.object_list)  # sources as this user may see them
    # Source runs by name, only those the provenance shows (a run this user may not read has no id there).
    shown_runs = {mv.provenance.run_id for mv in listed if mv.provenance.run_id}
    run_names = dict(Run.objects.filter(run_id__in=shown_runs).values_list("run_id", "name")) if shown_runs else {}
    for mv in listed:  # None: not a run of this deployment (registered from another one), shown by id, unlinked
        run_id = mv.provenance.run_id
        mv.source_run_label = (run_names[run_id] or run_id) if run_id in run_names else None
    rows = [(mv, aliases.get(mv.version, [])) for mv in listed]
    alias_count = sum(len(v) for v in aliases.values())
    context = model_context(request, model, "explorer:model")
    context.update({
        "page": page, "rows": rows, "aliases": sorted((a, v) for v, names in aliases.items() for a in names),
        "alias_count": alias_count, "alias_limit": settings.REGISTRY_MAX_ALIASES_PER_MODEL,
        "model_tags": list(model.tags.order_by("key")),
        "filters": filters, "page_size": size, "page_sizes": PAGE_SIZES, "default_page_size": VERSIONS_PER_PAGE,
        "min_page_size": PAGE_SIZES[0], "jump": jump, "jump_error": jump_error,
        "statuses": list(STATUSES), "any_alias": ANY_ALIAS,
        # Compare needs two versions of the model, whether or not the filters show two.
        "version_total": ModelVersion.objects.filter(model=model).count() if filters.active else page.paginator.count,
        "tag_keys": list(ModelVersionTag.objects.filter(version__model=model).order_by("key")
                         .values_list("key", flat=True).distinct()[:100]),
    })
    context["upgraded"], context["upgrading"] = model_upgrade(actor=request.user, model=model)
    return render(request, "explorer/model_overview.html", context)


@ui_view
def model_details(request: HttpRequest, name: str) -> HttpResponse:
    model = get_model(request.user, name)
    context = model_context(request, model, "explorer:model_details")
    context["version_count"] = ModelVersion.objects.filter(model=model).count()
    return render(request, "explorer/model_details.html", context)


@ui_view
def model_permissions(request: HttpRequest, name: str) -> HttpResponse:
    model = get_model(request.user, name)
    if model.is_prompt:  # where the grant dialogs come back to
        return redirect("explorer:prompt_permissions", name=model.full_name)
    context = model_context(request, model, "explorer:model_permissions")
    context.update(permission_rows(model))
    context["securable_kind"] = "model"
    return render(request, "explorer/permissions.html", context)


@ui_view
def model_lineage(request: HttpRequest, name: str) -> HttpResponse:
    """The lineage of one version of the model (the latest unless ?version= picks another)."""
    model = get_model(request.user, name)
    context = model_context(request, model, "explorer:model_lineage")
    numbers = list(ModelVersion.objects.filter(model=model).order_by("-version").values_list("version", flat=True)[:200])
    if numbers:
        chosen = request.GET.get("version", "")
        number = int(chosen) if chosen.isdigit() and int(chosen) in numbers else numbers[0]
        context.update(lineage_context(request, f"model_version:{model.full_name}/{number}",
                                       f"Lineage of {model.full_name} version {number}"))
        context.update({"lineage_version_choices": numbers, "lineage_version": number})
    return render(request, "explorer/lineage.html", context)


def model_events(model: RegisteredModel):
    """Audit events on the model and on any of its current versions."""
    version_ids = ModelVersion.objects.filter(model=model).annotate(sid=Cast("pk", CharField())).values("sid")
    return AuditEvent.objects.filter(
        Q(object_type="registeredmodel", object_id=str(model.pk))
        | Q(object_type="modelversion", object_id__in=version_ids)
    ).order_by("-created_at", "-id")


@ui_view
def model_history(request: HttpRequest, name: str) -> HttpResponse:
    model = get_model(request.user, name)
    context = model_context(request, model, "explorer:model_history")
    context["page"] = paginate(request, model_events(model), size=50)
    context["page"].object_list = describe_upgrade_events(
        actor=request.user, events=mask_version_events(actor=request.user, events=context["page"].object_list))
    return render(request, "explorer/history.html", context)
