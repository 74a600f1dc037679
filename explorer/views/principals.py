"""Admin pages for identities: groups (create, rename, delete, members), service principals (create, deactivate,
delete, tokens issued once, listed and revoked) and one page per principal (user, group or service principal)
with its groups, its direct grants and what it reaches. Metastore admins only: anyone else gets a 404, as for
the admin console."""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_POST

from explorer.views.common import ui_view
from registry.errors import NotFound, RegistryError
from registry.permissions import is_admin
from registry.principal_selectors import (
    direct_grants,
    group_members,
    principal_choices,
    principal_get,
    principal_groups,
    reach,
)
from registry.services.groups import (
    group_create,
    group_delete,
    group_list,
    group_member_add,
    group_member_remove,
    group_rename,
)
from registry.services.principals import (
    service_principal_create,
    service_principal_delete,
    service_principal_list,
    service_principal_token_create,
    service_principal_token_revoke,
    service_principal_tokens,
    service_principal_update,
)

User = get_user_model()


class NameForm(forms.Form):
    name = forms.CharField(max_length=150, label="Group name")


class DisplayNameForm(forms.Form):
    display_name = forms.CharField(max_length=255, label="Display name")


class MemberForm(forms.Form):
    member = forms.CharField(max_length=300, label="User or service principal",
                             widget=forms.TextInput(attrs={"list": "member-suggestions", "autocomplete": "off"}))


class SpTokenForm(forms.Form):
    name = forms.CharField(max_length=100, label="Comment", initial="automation")
    days = forms.IntegerField(min_value=0, max_value=3650, initial=90, label="Expires after (days, 0 = never)")


def _admin_only(request: HttpRequest) -> None:
    if not is_admin(request.user):
        raise Http404("No such page.")


def _crumbs(*extra) -> list[tuple[str, str]]:
    return list(extra)


def _error(request, exc: RegistryError) -> None:
    messages.error(request, exc.message)


# Groups ------------------------------------------------------------------------------------------------------

@ui_view
def groups(request: HttpRequest) -> HttpResponse:
    _admin_only(request)
    form = NameForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            group = group_create(actor=request.user, name=form.cleaned_data["name"])
        except RegistryError as exc:
            form.add_error("name", exc.message)
        else:
            messages.success(request, f"Group “{group.name}” created.")
            return HttpResponseRedirect(reverse("explorer:group", args=[group.pk]))
    return render(request, "explorer/principals/groups.html", {
        "form": form, "groups": group_list(actor=request.user),
        "breadcrumbs": _crumbs(("Groups", reverse("explorer:groups")))}, status=400 if form.errors else 200)


def _principal_context(request, principal) -> dict:
    reached = reach(principal)
    return {"principal": principal, "groups_of": principal_groups(principal), "grants": direct_grants(principal),
            "reach_sections": [("Catalogs", reached["catalogs"]), ("Schemas", reached["schemas"]),
                               ("Models", reached["models"])]}


def _group_name(group_id: int) -> str:
    name = Group.objects.filter(pk=group_id).values_list("name", flat=True).first()
    if name is None:
        raise NotFound("No such group.")
    return name


@ui_view
def group_page(request: HttpRequest, group_id: int) -> HttpResponse:
    _admin_only(request)
    principal = principal_get(actor=request.user, kind="group", name=_group_name(group_id))
    group = principal.group
    members = group_members(group)
    for m in members:
        sp = getattr(m, "service_principal", None)
        m.sp_label = sp.display_name if sp else ""
    member_names = {m.get_username() for m in members}
    return render(request, "explorer/principals/group.html", {
        **_principal_context(request, principal), "group": group, "members": members,
        "member_form": MemberForm(), "rename_form": NameForm(initial={"name": group.name}),
        "member_choices": [(n, label) for n, label in principal_choices()
                           if not label.startswith("group ") and n not in member_names],
        "breadcrumbs": _crumbs(("Groups", reverse("explorer:groups")),
                               (group.name, reverse("explorer:group", args=[group.pk])))})


def _group_post(request, group_id: int, action) -> HttpResponse:
    _admin_only(request)
    try:
        action(_group_name(group_id))
    except RegistryError as exc:
        _error(request, exc)
    if not Group.objects.filter(pk=group_id).exists():
        return HttpResponseRedirect(reverse("explorer:groups"))
    return HttpResponseRedirect(reverse("explorer:group", args=[group_id]))


@require_POST
@ui_view
def group_rename_view(request: HttpRequest, group_id: int) -> HttpResponse:
    def act(name: str):
        group = group_rename(actor=request.user, name=name, new_name=request.POST.get("name", "").strip())
        messages.success(request, f"Group renamed to “{group.name}”.")
    return _group_post(request, group_id, act)


@require_POST
@ui_view
def group_delete_view(request: HttpRequest, group_id: int) -> HttpResponse:
    def act(name: str):
        group_delete(actor=request.user, name=name)
        messages.success(request, f"Group “{name}” deleted.")
    return _group_post(request, group_id, act)


@require_POST
@ui_view
def group_member_add_view(request: HttpRequest, group_id: int) -> HttpResponse:
    def act(name: str):
        member = request.POST.get("member", "").strip()
        group_member_add(actor=request.user, name=name, user=member)
        messages.success(request, f"Added {_label_of(member)} to “{name}”.")
    return _group_post(request, group_id, act)


@require_POST
@ui_view
def group_member_remove_view(request: HttpRequest, group_id: int) -> HttpResponse:
    def act(name: str):
        member = request.POST.get("member", "")
        group_member_remove(actor=request.user, name=name, user=member)
        messages.success(request, f"Removed {_label_of(member)} from “{name}”.")
    return _group_post(request, group_id, act)


def _label_of(username: str) -> str:
    user = User.objects.filter(**{User.USERNAME_FIELD: username}).select_related("service_principal").first()
    sp = getattr(user, "service_principal", None) if user else None
    return f"service principal “{sp.display_name}”" if sp else f"“{username[:150]}”"


# Service principals ------------------------------------------------------------------------------------------

@ui_view
def service_principals(request: HttpRequest) -> HttpResponse:
    _admin_only(request)
    form = DisplayNameForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            sp = service_principal_create(actor=request.user, display_name=form.cleaned_data["display_name"])
        except RegistryError as exc:
            form.add_error("display_name", exc.message)
        else:
            messages.success(request, f"Service principal “{sp.display_name}” created: issue it a token below.")
            return HttpResponseRedirect(reverse("explorer:service_principal", args=[str(sp.application_id)]))
    now = timezone.now()
    rows = list(service_principal_list(actor=request.user).prefetch_related("user__groups", "user__tokens"))
    for sp in rows:
        sp.active_tokens = sum(1 for t in sp.user.tokens.all()
                               if t.revoked_at is None and (t.expires_at is None or t.expires_at > now))
    return render(request, "explorer/principals/service_principals.html", {
        "form": form, "service_principals": rows,
        "breadcrumbs": _crumbs(("Service principals", reverse("explorer:service_principals")))},
        status=400 if form.errors else 200)


@ui_view
def service_principal_page(request: HttpRequest, application_id: str) -> HttpResponse:
    _admin_only(request)
    principal = principal_get(actor=request.user, kind="service_principal", name=application_id)
    sp = principal.service_principal
    form = SpTokenForm(request.POST or None)
    secret, created = "", None
    if request.method == "POST" and form.is_valid():
        try:
            created, secret = service_principal_token_create(actor=request.user, key=application_id,
                                                             name=form.cleaned_data["name"],
                                                             days=form.cleaned_data["days"])
        except RegistryError as exc:
            form.add_error(None, exc.message)
        else:
            form = SpTokenForm()
    response = render(request, "explorer/principals/service_principal.html", {
        **_principal_context(request, principal), "sp": sp, "form": form, "secret": secret, "created": created,
        "tokens": service_principal_tokens(actor=request.user, key=application_id)[:200], "now": timezone.now(),
        "breadcrumbs": _crumbs(("Service principals", reverse("explorer:service_principals")),
                               (sp.display_name, reverse("explorer:service_principal", args=[application_id])))},
        status=400 if form.errors else 200)
    if secret:
        response["Cache-Control"] = "no-store"  # the secret must not linger in any cache
    return response


def _sp_post(request, application_id: str, action) -> HttpResponse:
    _admin_only(request)
    try:
        done = action()
    except RegistryError as exc:
        _error(request, exc)
        done = None
    if done == "deleted":
        return HttpResponseRedirect(reverse("explorer:service_principals"))
    return HttpResponseRedirect(reverse("explorer:service_principal", args=[application_id]))


@require_POST
@ui_view
def service_principal_active_view(request: HttpRequest, application_id: str) -> HttpResponse:
    def act():
        active = request.POST.get("active") == "true"
        sp = service_principal_update(actor=request.user, key=application_id, active=active)
        messages.success(request, f"“{sp.display_name}” {'activated' if active else 'deactivated: its tokens no longer work'}.")
    return _sp_post(request, application_id, act)


@require_POST
@ui_view
def service_principal_delete_view(request: HttpRequest, application_id: str) -> HttpResponse:
    def act():
        service_principal_delete(actor=request.user, key=application_id)
        messages.success(request, "Service principal deleted, with its tokens and grants.")
        return "deleted"
    return _sp_post(request, application_id, act)


@require_POST
@ui_view
def service_principal_token_revoke_view(request: HttpRequest, application_id: str, token_id: int) -> HttpResponse:
    def act():
        token = service_principal_token_revoke(actor=request.user, key=application_id, token_id=token_id)
        messages.success(request, f"Token “{token.name}” revoked.")
    return _sp_post(request, application_id, act)


# Users -------------------------------------------------------------------------------------------------------

USERS_PAGE = 100


@ui_view
def users(request: HttpRequest) -> HttpResponse:
    """People (service principals have their own list), with their groups; each links to its principal page."""
    _admin_only(request)
    from explorer.views.common import paginate

    people = (User.objects.filter(service_principal__isnull=True).prefetch_related("groups")
              .order_by(User.USERNAME_FIELD))
    q = request.GET.get("q", "").replace("\x00", "").strip()[:150]
    if q:
        people = people.filter(**{f"{User.USERNAME_FIELD}__icontains": q})
    return render(request, "explorer/principals/users.html", {
        "page": paginate(request, people, size=USERS_PAGE), "q": q,
        "breadcrumbs": _crumbs(("Users", reverse("explorer:users")))})

@ui_view
def user_page(request: HttpRequest, username: str) -> HttpResponse:
    _admin_only(request)
    try:
        principal = principal_get(actor=request.user, kind="user", name=username)
    except NotFound:  # a service principal's name leads to its own page
        sp = principal_get(actor=request.user, kind="service_principal", name=username)
        return HttpResponseRedirect(reverse("explorer:service_principal", args=[sp.name]))
    return render(request, "explorer/principals/user.html", {
        **_principal_context(request, principal),
        "breadcrumbs": _crumbs(("Users", reverse("explorer:users")), (principal.label, reverse("explorer:principal_user", args=[principal.name])))})


def principal_url(kind: str, name: str) -> str:
    """The admin's page of a principal named as grants name it."""
    if kind == "group":
        group_id = Group.objects.filter(name=name).values_list("pk", flat=True).first()
        return reverse("explorer:group", args=[group_id]) if group_id else ""
    return reverse("explorer:principal_user", args=[name])
