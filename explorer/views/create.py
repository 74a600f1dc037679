"""The "Create" dialogs of the catalog explorer: a catalog (home page), a schema (catalog page) and a model (schema
page). Each goes through its registry service, which authorizes, validates and audits; the view only refuses early
(404 for a parent the user may not see, 403 for one they may not create in) and shows the service's errors."""
from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.urls import reverse

from explorer.forms import CreateCatalogForm, CreateModelForm, CreateSchemaForm, add_registry_error
from explorer.views.browse import get_catalog, get_schema
from explorer.views.common import dialog_done, render_dialog, require, ui_view
from registry import permissions
from registry.errors import AlreadyExists, InvalidParameter, RegistryError
from registry.names import validate_uc_part
from registry.permissions import Action
from registry.services.catalogs import catalog_create, schema_create
from registry.services.models import registered_model_create

# Catalogs have no parent securable to hold a privilege: `catalog_create` lets metastore admins create them, and
# so do these, through the same `permissions.is_admin`.
CATALOG_DENIED = "Permission denied: only metastore admins may create catalogs."


def may_create(actor, kind: str, parent=None) -> bool:
    """Whether to offer "Create <kind>" in `parent` (nothing for a catalog): the rules the services apply, asked
    in at most one query (none for an admin)."""
    if kind == "catalog":
        return permissions.is_admin(actor)
    action = {"schema": Action.CREATE_SCHEMA, "model": Action.CREATE_MODEL}[kind]
    return parent is not None and permissions.abilities(actor, parent, [action])[action]


def _show_error(form, exc: RegistryError, text_field: str) -> None:
    """A service error on the field it is about: the name (bad or taken), the comment/description, or the form."""
    if isinstance(exc, InvalidParameter) and exc.message.lower().startswith(f"{text_field} "):
        add_registry_error(form, exc, text_field)
    elif isinstance(exc, (AlreadyExists, InvalidParameter)):
        add_registry_error(form, exc, "name")
    else:
        add_registry_error(form, exc)


@ui_view
def create_catalog_dialog(request: HttpRequest) -> HttpResponse:
    if not may_create(request.user, "catalog"):
        raise PermissionDenied(CATALOG_DENIED)
    form = CreateCatalogForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            catalog = catalog_create(actor=request.user, name=form.cleaned_data["name"],
                                     comment=form.cleaned_data["comment"])
        except RegistryError as exc:
            _show_error(form, exc, "comment")
        else:
            return dialog_done(request, reverse("explorer:catalog", args=[catalog.name]))
    return render_dialog(request, "explorer/dialogs/create_catalog.html", {
        "form": form, "action_url": reverse("explorer:create_catalog")}, title="Create catalog")


@ui_view
def create_schema_dialog(request: HttpRequest, catalog: str) -> HttpResponse:
    parent = get_catalog(request.user, catalog)
    require(request.user, Action.CREATE_SCHEMA, parent)
    form = CreateSchemaForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            schema = schema_create(actor=request.user, catalog_name=parent.name, name=form.cleaned_data["name"],
                                   comment=form.cleaned_data["comment"])
        except RegistryError as exc:
            _show_error(form, exc, "comment")
        else:
            return dialog_done(request, reverse("explorer:schema", args=[schema.full_name]))
    return render_dialog(request, "explorer/dialogs/create_schema.html", {
        "object": parent, "form": form, "action_url": reverse("explorer:create_schema", args=[parent.name]),
    }, title=f"Create schema in {parent.name}")


@ui_view
def create_model_dialog(request: HttpRequest, schema: str) -> HttpResponse:
    parent = get_schema(request.user, schema)
    require(request.user, Action.CREATE_MODEL, parent)
    form = CreateModelForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        name = form.cleaned_data["name"]
        try:
            # The service parses the full three-level name; a period in the part typed here would otherwise be
            # reported as a malformed full name rather than as what it is.
            validate_uc_part(name, "Model")
            model = registered_model_create(actor=request.user, name=f"{parent.full_name}.{name}",
                                            description=form.cleaned_data["description"])
        except RegistryError as exc:
            _show_error(form, exc, "description")
        else:
            return dialog_done(request, reverse("explorer:model", args=[model.full_name]))
    return render_dialog(request, "explorer/dialogs/create_model.html", {
        "object": parent, "form": form, "action_url": reverse("explorer:create_model", args=[parent.full_name]),
    }, title=f"Create model in {parent.full_name}")
