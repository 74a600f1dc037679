"""What a principal (user, service principal or group) is and holds, for the admin's principal page and API:
its groups, its direct grants, and the catalogs, schemas and models it reaches through grants or ownership, each
with where that comes from (granted here, inherited from a parent, through a group, as owner)."""
from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Q

from registry import permissions
from registry.errors import NotFound
from registry.models import Catalog, Grant, Privilege, RegisteredModel, Schema, ServicePrincipal
from registry.services.groups import _require_admin

User = get_user_model()
REACH_LIMIT = 200


@dataclass
class Principal:
    kind: str  # "user", "service_principal" or "group"
    name: str  # what grants name it by
    label: str  # what people call it
    user: object = None
    group: Group | None = None
    service_principal: ServicePrincipal | None = None

    @property
    def is_admin(self) -> bool:
        return self.user is not None and permissions.is_admin(self.user)


@dataclass
class Reached:
    kind: str  # catalog, schema, model
    obj: object
    privileges: list[str] = field(default_factory=list)  # labels
    sources: list[str] = field(default_factory=list)  # "granted on catalog prod to group ml-team", "owner"


def principal_get(*, actor, kind: str, name: str) -> Principal:
    _require_admin(actor, "read principals")
    if kind == "group":
        group = Group.objects.filter(name=name).first()
        if group is None:
            raise NotFound(f"Group '{name[:150]}' does not exist.")
        return Principal("group", group.name, group.name, group=group)
    if kind in ("user", "service_principal"):
        user = User.objects.filter(**{User.USERNAME_FIELD: name}).select_related("service_principal").first() \
            if isinstance(name, str) and len(name) <= 150 else None
        sp = getattr(user, "service_principal", None) if user is not None else None
        if user is None or (kind == "service_principal") != (sp is not None):
            raise NotFound(f"{'Service principal' if kind == 'service_principal' else 'User'} "
                           f"'{str(name)[:150]}' does not exist.")
        label = sp.display_name if sp else user.get_username()
        return Principal("service_principal" if sp else "user", user.get_username(), label, user=user,
                         service_principal=sp)
    raise NotFound("No such kind of principal.")


def principal_groups(principal: Principal) -> list[Group]:
    if principal.user is None:
        return []
    return list(principal.user.groups.order_by("name"))


def group_members(group: Group) -> list:
    """Members with their service-principal rows (to show display names)."""
    return list(group.user_set.select_related("service_principal").order_by(User.USERNAME_FIELD))


def _holders(principal: Principal) -> tuple[Q, dict[int, str]]:
    """A Grant filter for the principal and the groups it inherits from, and {group id: name} of those groups."""
    if principal.group is not None:
        return Q(group=principal.group), {principal.group.pk: principal.group.name}
    groups = {g.pk: g.name for g in principal_groups(principal)}
    return Q(user=principal.user) | Q(group_id__in=list(groups)), groups


def direct_grants(principal: Principal) -> list[Grant]:
    where = Q(group=principal.group) if principal.group is not None else Q(user=principal.user)
    return list(Grant.objects.filter(where).select_related("catalog", "schema__catalog", "model__schema__catalog",
                                                            "experiment").order_by("privilege", "id"))


def _via(grant: Grant, groups: dict[int, str], principal: Principal) -> str:
    if grant.group_id and principal.group is None:
        return f" through group {groups.get(grant.group_id, '')}"
    return ""


def reach(principal: Principal) -> dict[str, list[Reached]]:
    """Catalogs, schemas and models the principal holds any privilege on, or owns, directly or inherited from a
    parent, at most REACH_LIMIT of each (metastore admins reach everything: the caller says so instead)."""
    holders, groups = _holders(principal)
    grants = list(Grant.objects.filter(holders).filter(experiment__isnull=True)
                  .select_related("catalog", "schema__catalog", "model__schema__catalog"))
    if principal.group is not None:
        owner_q = Q(owner_group=principal.group)
    else:
        owner_q = Q(owner_user=principal.user) | Q(owner_group_id__in=list(groups))
    owned_catalogs = set(Catalog.objects.filter(owner_q).values_list("pk", flat=True))
    owned_schemas = set(Schema.objects.filter(owner_q).values_list("pk", flat=True))
    owned_models = set(RegisteredModel.objects.filter(owner_q).values_list("pk", flat=True))
    by_catalog: dict[int, list[Grant]] = {}
    by_schema: dict[int, list[Grant]] = {}
    by_model: dict[int, list[Grant]] = {}
    for g in grants:
        target = by_catalog if g.catalog_id else by_schema if g.schema_id else by_model
        target.setdefault(g.catalog_id or g.schema_id or g.model_id, []).append(g)

    catalogs = Catalog.objects.filter(Q(pk__in=list(by_catalog)) | Q(pk__in=list(owned_catalogs))).order_by("name")
    schemas = (Schema.objects.filter(Q(pk__in=list(by_schema)) | Q(catalog_id__in=list(by_catalog))
                                     | Q(pk__in=list(owned_schemas)) | Q(catalog_id__in=list(owned_catalogs)))
               .select_related("catalog").order_by("catalog__name", "name"))
    models = (RegisteredModel.objects.filter(
        Q(pk__in=list(by_model)) | Q(schema_id__in=list(by_schema)) | Q(schema__catalog_id__in=list(by_catalog))
        | Q(pk__in=list(owned_models)) | Q(schema_id__in=list(owned_schemas))
        | Q(schema__catalog_id__in=list(owned_catalogs)))
        .select_related("schema__catalog").order_by("schema__catalog__name", "schema__name", "name"))

    def describe(obj, chain) -> Reached:
        row = Reached(type(obj).__name__.lower().replace("registeredmodel", "model"), obj)
        privileges: set[str] = set()
        for level, node, owned, by in chain:
            where = "here" if node is obj else f"inherited from {level} {node.full_name}"
            if node.pk in owned:
                row.sources.append(f"owner ({where})" if node is not obj else "owner")
            for g in by.get(node.pk, []):
                privileges.add(g.privilege)
                row.sources.append(f"{Privilege(g.privilege).label} {where}{_via(g, groups, principal)}")
        row.privileges = [Privilege(p).label for p in Privilege.values if p in privileges]
        return row

    result = {"catalogs": [], "schemas": [], "models": []}
    for c in catalogs[:REACH_LIMIT]:
        result["catalogs"].append(describe(c, [("catalog", c, owned_catalogs, by_catalog)]))
    for s in schemas[:REACH_LIMIT]:
        result["schemas"].append(describe(s, [("schema", s, owned_schemas, by_schema),
                                              ("catalog", s.catalog, owned_catalogs, by_catalog)]))
    for m in models[:REACH_LIMIT]:
        chain = [("model", m, owned_models, by_model)]
        if m.schema_id:
            chain += [("schema", m.schema, owned_schemas, by_schema),
                      ("catalog", m.schema.catalog, owned_catalogs, by_catalog)]
        result["models"].append(describe(m, chain))
    return result


def principal_choices() -> list[tuple[str, str]]:
    """(name to grant to, label) of every group, active user and active service principal, for pickers."""
    groups = [(name, f"group {name}") for name in Group.objects.order_by("name").values_list("name", flat=True)[:200]]
    users = User.objects.filter(is_active=True).select_related("service_principal").order_by(User.USERNAME_FIELD)[:400]
    people, sps = [], []
    for u in users:
        sp = getattr(u, "service_principal", None)
        if sp is not None:
            sps.append((u.get_username(), f"service principal {sp.display_name}"))
        else:
            people.append((u.get_username(), f"user {u.get_username()}"))
    return groups + sps + people
