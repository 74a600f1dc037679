"""The catalog explorer: home, the lazy navigation tree, catalog and schema pages, and the header search."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import urlencode

from explorer.tabs import CATALOG_TABS, SCHEMA_TABS, render_tabs, tab_actions
from explorer.views.common import paginate, ui_view
from registry import selectors
from registry.errors import InvalidParameter, NotFound
from registry.lineage.selectors import table_search
from registry.permissions import Action, abilities

NAV_LIMIT = 100
SEARCH_LIMIT = 25


def catalog_crumbs(catalog) -> list[tuple[str, str]]:
    return [("Catalogs", reverse("explorer:home")), (catalog.name, reverse("explorer:catalog", args=[catalog.name]))]


def schema_crumbs(schema) -> list[tuple[str, str]]:
    return catalog_crumbs(schema.catalog) + [(schema.name, reverse("explorer:schema", args=[schema.full_name]))]


def model_crumbs(model) -> list[tuple[str, str]]:
    crumbs = schema_crumbs(model.schema) if model.schema_id else [
        ("Catalogs", reverse("explorer:home")), ("Workspace registry", reverse("explorer:workspace"))]
    return crumbs + [(model.name, reverse("explorer:model", args=[model.full_name]))]


def get_schema(actor, full_name: str):
    try:
        return selectors.schema_get(actor=actor, full_name=full_name)
    except InvalidParameter:
        raise NotFound(f"Schema '{full_name}' does not exist.") from None


def get_catalog(actor, name: str):
    try:
        return selectors.catalog_get(actor=actor, name=name)
    except InvalidParameter:
        raise NotFound(f"Catalog '{name}' does not exist.") from None


@ui_view
def home(request: HttpRequest) -> HttpResponse:
    catalogs = selectors.catalog_list_visible(actor=request.user).select_related("owner_user", "owner_group")
    page = paginate(request, catalogs.order_by("name"))
    workspace_count = selectors.model_list_visible(actor=request.user, kind="model").filter(schema__isnull=True).count()
    return render(request, "explorer/home.html", {"page": page, "workspace_count": workspace_count,
                                                  "breadcrumbs": [("Catalogs", reverse("explorer:home"))]})


@ui_view
def catalog_page(request: HttpRequest, catalog: str) -> HttpResponse:
    obj = get_catalog(request.user, catalog)
    schemas = selectors.schema_list_visible(actor=request.user, catalog=obj).select_related("owner_user", "owner_group")
    page = paginate(request, schemas.order_by("name"))
    return render(request, "explorer/catalog.html", {
        "object": obj, "kind": "Catalog", "page": page, "breadcrumbs": catalog_crumbs(obj),
        "tabs": render_tabs(CATALOG_TABS, actor=request.user, obj=obj, kwargs={"catalog": obj.name},
                            active="explorer:catalog"),
    })


@ui_view
def schema_page(request: HttpRequest, schema: str) -> HttpResponse:
    obj = get_schema(request.user, schema)
    models = selectors.model_list_visible(actor=request.user, schema=obj, kind="model")
    page = paginate(request, models.order_by("name"))
    allowed = abilities(request.user, obj, [Action.CREATE_MODEL, *tab_actions(SCHEMA_TABS)])
    return render(request, "explorer/schema.html", {
        "object": obj, "kind": "Schema", "page": page, "breadcrumbs": schema_crumbs(obj),
        "can_create_model": allowed[Action.CREATE_MODEL],
        "tabs": render_tabs(SCHEMA_TABS, actor=request.user, obj=obj, kwargs={"schema": obj.full_name},
                            active="explorer:schema", allowed=allowed),
    })


@ui_view
def workspace_page(request: HttpRequest) -> HttpResponse:
    models = selectors.model_list_visible(actor=request.user, kind="model").filter(schema__isnull=True)
    page = paginate(request, models.order_by("name"))
    return render(request, "explorer/workspace.html", {
        "page": page,
        "breadcrumbs": [("Catalogs", reverse("explorer:home")), ("Workspace registry", reverse("explorer:workspace"))],
    })


# Navigation tree: each level is loaded when its node is opened ------------------------------------------

@ui_view
def nav_catalog(request: HttpRequest, catalog: str) -> HttpResponse:
    obj = get_catalog(request.user, catalog)
    schemas = list(selectors.schema_list_visible(actor=request.user, catalog=obj).order_by("name")[:NAV_LIMIT + 1])
    return render(request, "explorer/partials/nav_schemas.html", {
        "catalog": obj, "schemas": schemas[:NAV_LIMIT], "more": len(schemas) > NAV_LIMIT})


@ui_view
def nav_schema(request: HttpRequest, schema: str) -> HttpResponse:
    obj = get_schema(request.user, schema)
    models = list(selectors.model_list_visible(actor=request.user, schema=obj, kind="model").order_by("name")[:NAV_LIMIT + 1])
    return render(request, "explorer/partials/nav_models.html", {
        "schema": obj, "models": models[:NAV_LIMIT], "more": len(models) > NAV_LIMIT,
        "more_url": reverse("explorer:schema", args=[obj.full_name])})


@ui_view
def nav_workspace(request: HttpRequest) -> HttpResponse:
    models = list(selectors.model_list_visible(actor=request.user, kind="model").filter(schema__isnull=True)
                  .order_by("name")[:NAV_LIMIT + 1])
    return render(request, "explorer/partials/nav_models.html", {
        "models": models[:NAV_LIMIT], "more": len(models) > NAV_LIMIT, "more_url": reverse("explorer:workspace")})


# Search: catalogs, schemas, models, versions by alias, experiments, runs and tables; one kind per tab ------------

SEARCH_TABS = (("all", "All"), ("catalogs", "Catalogs"), ("schemas", "Schemas"), ("models", "Models"),
               ("aliases", "Versions"), ("experiments", "Experiments"), ("runs", "Runs"), ("tables", "Tables"))


@ui_view
def search(request: HttpRequest) -> HttpResponse:
    from registry.search import site

    q = request.GET.get("q", "").replace("\x00", "").strip()[:site.MAX_QUERY]
    kind = request.GET.get("type", "all")
    kind = kind if kind in dict(SEARCH_TABS) else "all"
    results = {key: [] for key, _ in SEARCH_TABS[1:]}
    page = None
    if q:
        actor = request.user
        queries = {
            "catalogs": lambda: site.catalogs(actor, q, in_comments=True),
            "schemas": lambda: site.schemas(actor, q, in_comments=True),
            "models": lambda: site.models(actor, q, in_descriptions=True),
            "aliases": lambda: site.aliases(actor, q),
            "experiments": lambda: site.experiments(actor, q),
            "runs": lambda: site.runs(actor, q),
        }
        if kind == "all":
            for key, query in queries.items():
                results[key] = list(query()[:SEARCH_LIMIT])
            results["tables"] = table_search(actor=actor, text=q, limit=SEARCH_LIMIT)
        elif kind == "tables":
            results["tables"] = table_search(actor=actor, text=q, limit=200)
        else:
            page = paginate(request, queries[kind]())
            results[kind] = list(page.object_list)
    tabs = [{"key": key, "label": label, "active": key == kind,
             "url": "?" + urlencode({"q": q, **({"type": key} if key != "all" else {})})} for key, label in SEARCH_TABS]
    return render(request, "explorer/search.html", {
        "q": q, "kind": kind, "tabs": tabs, "results": results, "limit": SEARCH_LIMIT, "page": page,
        "total": sum(len(v) for v in results.values()),
        "breadcrumbs": [("Search", reverse("explorer:search"))]})
