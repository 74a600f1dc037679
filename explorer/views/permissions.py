"""Permissions tabs (catalog, schema, model) and the grant / revoke dialogs. Everyone who may see an object
sees who holds what on it, directly or inherited; only owners, MANAGE holders and admins may change it."""
from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth.models import Group
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import NoReverseMatch, reverse

from explorer.forms import GrantForm, OwnerForm, RevokeForm, add_registry_error
from explorer.tabs import CATALOG_TABS, SCHEMA_TABS, render_tabs
from explorer.views.common import dialog_done, render_dialog, require, ui_view
from registry import selectors
from registry.errors import InvalidParameter, NotFound, RegistryError
from registry.models import Catalog, Privilege, RegisteredModel, Schema, ServicePrincipal
from registry.principal_selectors import principal_choices
from registry.permissions import Action, check
from registry.services.grants import _APPLICABLE, grant_add, grant_remove, grants_on, owner_set, principal_resolve

PRINCIPAL_SUGGESTIONS = 200


@dataclass
class Row:
    principal: str
    principal_type: str
    privilege: str
    privilege_label: str
    inherited_from: str  # "" when granted directly
    inherited_url: str
    principal_label: str = ""  # a service principal's display name (grants name it by its application id)
    type_label: str = ""
    principal_url: str = ""  # its page, which only admins may open


def _url_of(securable) -> str:
    if isinstance(securable, Catalog):
        return reverse("explorer:catalog", args=[securable.name])
    if isinstance(securable, Schema):
        return reverse("explorer:schema", args=[securable.full_name])
    return reverse("explorer:model", args=[securable.full_name])


def _chain(securable) -> list:
    if isinstance(securable, RegisteredModel):
        return [securable] + ([securable.schema, securable.schema.catalog] if securable.schema_id else [])
    if isinstance(securable, Schema):
        return [securable, securable.catalog]
    return [securable]


def _reverse_or_blank(name: str, arg) -> str:
    try:
        return reverse(name, args=[arg]) if arg is not None else ""
    except NoReverseMatch:  # a user name no URL can hold: shown without a link
        return ""


def permission_rows(securable) -> dict:
    """Grants on the object and on its parents (inherited), and the owners along the chain."""
    rows, owners = [], []
    for level, obj in enumerate(_chain(securable)):
        label = "" if level == 0 else f"{type(obj).__name__.lower()} {obj.full_name}"
        url = "" if level == 0 else _url_of(obj)
        for grant in grants_on(obj):
            rows.append(Row(grant.principal_name, grant.principal_type, grant.privilege,
                            Privilege(grant.privilege).label, label, url))
    # Service principals among the grantees: one query for the whole table.
    names = {sp.user.get_username(): sp.display_name for sp in ServicePrincipal.objects.select_related("user")
             .filter(user__username__in={r.principal for r in rows if r.principal_type == "user"})}
    group_ids = dict(Group.objects.filter(name__in={r.principal for r in rows if r.principal_type == "group"})
                     .values_list("name", "pk"))
    for row in rows:
        service = row.principal_type == "user" and row.principal in names
        row.principal_label = names[row.principal] if service else row.principal
        row.type_label = "service principal" if service else row.principal_type
        if service:
            row.principal_url = _reverse_or_blank("explorer:service_principal", row.principal)
        elif row.principal_type == "group":
            row.principal_url = _reverse_or_blank("explorer:group", group_ids.get(row.principal))
        else:
            row.principal_url = _reverse_or_blank("explorer:principal_user", row.principal)
        if obj.owner_name:
            owners.append((obj.owner_name, label, url))
    return {"grant_rows": rows, "owners": owners}


def _securable_tabs(request, obj, active_kind: str):
    if isinstance(obj, Catalog):
        return render_tabs(CATALOG_TABS, actor=request.user, obj=obj, kwargs={"catalog": obj.name}, active=active_kind)
    return render_tabs(SCHEMA_TABS, actor=request.user, obj=obj, kwargs={"schema": obj.full_name}, active=active_kind)


def _permissions_page(request: HttpRequest, obj, *, kind: str, crumbs, active: str) -> HttpResponse:
    context = {"object": obj, "kind": kind.capitalize(), "breadcrumbs": crumbs, "securable_kind": kind,
               "can": {"manage": check(request.user, Action.MANAGE_GRANTS, obj).allowed},
               "tabs": _securable_tabs(request, obj, active)}
    context.update(permission_rows(obj))
    return render(request, "explorer/permissions.html", context)


@ui_view
def catalog_permissions(request: HttpRequest, catalog: str) -> HttpResponse:
    from explorer.views.browse import get_catalog, catalog_crumbs

    obj = get_catalog(request.user, catalog)
    return _permissions_page(request, obj, kind="catalog", crumbs=catalog_crumbs(obj),
                             active="explorer:catalog_permissions")


@ui_view
def schema_permissions(request: HttpRequest, schema: str) -> HttpResponse:
    from explorer.views.browse import get_schema, schema_crumbs

    obj = get_schema(request.user, schema)
    return _permissions_page(request, obj, kind="schema", crumbs=schema_crumbs(obj),
                             active="explorer:schema_permissions")


def securable_get(actor, kind: str, name: str):
    try:
        if kind == "catalog":
            return selectors.catalog_get(actor=actor, name=name)
        if kind == "schema":
            return selectors.schema_get(actor=actor, full_name=name)
        if kind == "model":
            return selectors.model_get(actor=actor, name=name)
    except InvalidParameter:
        pass
    raise NotFound(f"{kind} '{name}' does not exist.")


def principal_suggestions() -> list[tuple[str, str]]:
    """(name to type, what it is) for groups, service principals (named by application id) and users."""
    return principal_choices()


@ui_view
def grant_dialog(request: HttpRequest, kind: str, name: str) -> HttpResponse:
    obj = securable_get(request.user, kind, name)
    require(request.user, Action.MANAGE_GRANTS, obj)
    applicable = [p for p in Privilege.values if p in _APPLICABLE[type(obj)]]
    form = GrantForm(request.POST or None, applicable=applicable)
    back = _url_of(obj).rstrip("/") + "/permissions/"
    if request.method == "POST" and form.is_valid():
        try:
            principal = principal_resolve(form.cleaned_data["principal"].strip())
            for privilege in form.cleaned_data["privileges"]:
                grant_add(actor=request.user, securable=obj, principal=principal, privilege=privilege)
        except InvalidParameter as exc:
            add_registry_error(form, exc, "principal")
        except RegistryError as exc:
            add_registry_error(form, exc)
        else:
            return dialog_done(request, back)
    return render_dialog(request, "explorer/dialogs/grant.html", {
        "form": form, "object": obj, "kind": kind, "suggestions": principal_suggestions(),
        "action_url": reverse("explorer:grant", args=[kind, name])}, title=f"Grant privileges on {obj.full_name}")


@ui_view
def revoke_dialog(request: HttpRequest, kind: str, name: str) -> HttpResponse:
    obj = securable_get(request.user, kind, name)
    require(request.user, Action.MANAGE_GRANTS, obj)
    form = RevokeForm(request.POST or request.GET or None)
    back = _url_of(obj).rstrip("/") + "/permissions/"
    if request.method == "POST" and form.is_valid():
        try:
            principal = principal_resolve(form.cleaned_data["principal"])
            grant_remove(actor=request.user, securable=obj, principal=principal,
                         privilege=form.cleaned_data["privilege"])
        except RegistryError as exc:
            add_registry_error(form, exc)
        else:
            return dialog_done(request, back)
    if request.method == "GET" and not form.is_valid():
        raise NotFound("no such grant")
    return render_dialog(request, "explorer/dialogs/revoke.html", {
        "form": form, "object": obj, "action_url": reverse("explorer:revoke", args=[kind, name]),
        "privilege_label": Privilege(form.cleaned_data["privilege"]).label if form.is_valid() else "",
    }, title="Revoke privilege")


@ui_view
def owner_dialog(request: HttpRequest, kind: str, name: str) -> HttpResponse:
    obj = securable_get(request.user, kind, name)
    require(request.user, Action.MANAGE_GRANTS, obj)
    form = OwnerForm(request.POST or None, initial={"principal": obj.owner_name})
    if request.method == "POST" and form.is_valid():
        try:
            principal = principal_resolve(form.cleaned_data["principal"].strip())
            owner_set(actor=request.user, securable=obj, principal=principal)
        except RegistryError as exc:
            add_registry_error(form, exc, "principal")
        else:
            # The new owner may be someone else entirely: the old owner may no longer see the object.
            target = _url_of(obj) if check(request.user, Action.READ, obj) else reverse("explorer:home")
            return dialog_done(request, target)
    return render_dialog(request, "explorer/dialogs/owner.html", {
        "form": form, "object": obj, "suggestions": principal_suggestions(),
        "action_url": reverse("explorer:owner", args=[kind, name])}, title=f"Transfer ownership of {obj.full_name}")
