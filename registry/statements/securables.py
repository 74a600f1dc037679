"""Securables by type and name, and who holds what on them: direct grants (the permissions API, SHOW GRANTS)
and effective privileges up the catalog -> schema -> model chain, with ownership, for one principal or all."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Model, Q

from registry import permissions
from registry.errors import InvalidParameter
from registry.models import Catalog, Grant, Privilege, RegisteredModel, Schema
from registry.names import validate_uc_part
from registry.selectors import catalog_get, model_get, schema_get
from registry.services.grants import grants_on

User = get_user_model()

# Securable types of the permissions API path: models are FUNCTION securables in Unity Catalog.
API_TYPES = {"catalog": "catalog", "schema": "schema", "function": "model", "registered_model": "model"}
_PARTS = {"catalog": 1, "schema": 2, "model": 3}
_KIND_OF = {Catalog: "catalog", Schema: "schema", RegisteredModel: "model"}
OBJECT_TYPE = {"catalog": "CATALOG", "schema": "SCHEMA", "model": "FUNCTION"}
OWN = "OWN"  # how Databricks' SHOW GRANTS names ownership


def privilege_label(key: str) -> str:
    return Privilege(key).label


def securable_get(*, actor, kind: str, parts: tuple[str, ...] | list[str]) -> Model:
    """The catalog, schema or (three-level) model `actor` may see, by its name parts; NotFound otherwise."""
    labels = ("Catalog", "Schema", "Model")
    if len(parts) != _PARTS[kind]:
        raise InvalidParameter(f"A {kind} name has {_PARTS[kind]} part(s), got {len(parts)}: "
                               f"{'.'.join(parts)[:300]!r}.")
    # Each part on its own: a backquoted `a.b` is one name holding a period, which no name may hold.
    clean = [validate_uc_part(part, labels[i]) for i, part in enumerate(parts)]
    full_name = ".".join(clean)
    if kind == "catalog":
        return catalog_get(actor=actor, name=full_name)
    if kind == "schema":
        return schema_get(actor=actor, full_name=full_name)
    return model_get(actor=actor, name=full_name)


def securable_from_path(*, actor, securable_type: str, full_name: str) -> Model:
    kind = API_TYPES.get((securable_type or "").lower())
    if kind is None:
        raise InvalidParameter(f"Unsupported securable type {securable_type[:50]!r}: expected one of "
                               f"{', '.join(API_TYPES)}.")
    return securable_get(actor=actor, kind=kind, parts=full_name.split("."))


def kind_of(securable: Model) -> str:
    return _KIND_OF[type(securable)]


def _chain(securable: Model) -> list[Model]:
    if isinstance(securable, RegisteredModel):
        return [securable, securable.schema, securable.schema.catalog]
    if isinstance(securable, Schema):
        return [securable, securable.catalog]
    return [securable]


def _principal_q(principal, *, with_groups: bool) -> Q:
    if isinstance(principal, Group):
        return Q(group=principal)
    q = Q(user=principal)
    if with_groups:
        q |= Q(group__in=principal.groups.all())
    return q


def _name(principal) -> str:
    return principal.name if isinstance(principal, Group) else principal.get_username()


def _owned_by(obj: Model, principal, *, with_groups: bool) -> Group | User | None:
    """Who among `principal` (and its groups) owns `obj`, if anyone."""
    if isinstance(principal, Group):
        return principal if obj.owner_group_id == principal.pk else None
    if obj.owner_user_id == principal.pk:
        return principal
    if with_groups and obj.owner_group_id and principal.groups.filter(pk=obj.owner_group_id).exists():
        return obj.owner_group
    return None


def privilege_assignments(securable: Model, principal=None) -> list[dict]:
    """Direct grants on `securable`, one entry per principal: the permissions API's PermissionsList, privileges
    spelled as the Databricks API spells them (`USE_CATALOG`)."""
    grants = grants_on(securable)
    if principal is not None:
        grants = grants.filter(_principal_q(principal, with_groups=False))
    by_principal: dict[str, list[str]] = {}
    for grant in grants:
        by_principal.setdefault(grant.principal_name, []).append(grant.privilege)
    return [{"principal": name, "privileges": sorted(privs)} for name, privs in sorted(by_principal.items())]


def _relevant(securable: Model) -> set[str]:
    """Privileges that mean something for `securable` when held on it or on a parent."""
    from registry.services.grants import _APPLICABLE

    return set(_APPLICABLE[type(securable)]) | {Privilege.USE_CATALOG, Privilege.USE_SCHEMA}


def effective_assignments(securable: Model, principal=None) -> list[dict]:
    """What each principal holds on `securable` and where it comes from: grants here or on a parent
    (`inherited_from_type`/`inherited_from_name`), grants to a group the user belongs to (`via_group`),
    ownership of the object or a parent (privilege `OWN`), and metastore admin (`via_metastore_admin`)."""
    relevant = _relevant(securable)
    entries: dict[str, list[dict]] = {}

    def add(principal_name: str, entry: dict) -> None:
        bucket = entries.setdefault(principal_name, [])
        if entry not in bucket:
            bucket.append(entry)

    for level in _chain(securable):
        where = {} if level is securable else {"inherited_from_type": OBJECT_TYPE[kind_of(level)],
                                               "inherited_from_name": level.full_name}
        grants = grants_on(level).filter(privilege__in=relevant)
        if principal is not None:
            grants = grants.filter(_principal_q(principal, with_groups=True))
        for grant in grants:
            entry = {"privilege": grant.privilege, **where}
            if principal is not None and isinstance(principal, User) and grant.group_id:
                entry["via_group"] = grant.group.name
            add(_name(principal) if principal is not None else grant.principal_name, entry)
        if principal is None:
            owner_name = level.owner_name
            if owner_name:
                add(owner_name, {"privilege": OWN, **where})
        else:
            holder = _owned_by(level, principal, with_groups=True)
            if holder is not None:
                entry = {"privilege": OWN, **where}
                if holder is not principal:
                    entry["via_group"] = _name(holder)
                add(_name(principal), entry)
    if isinstance(principal, User) and permissions.is_admin(principal):
        add(_name(principal), {"privilege": Privilege.ALL_PRIVILEGES.value, "via_metastore_admin": True})
    return [{"principal": name, "privileges": privs} for name, privs in sorted(entries.items())]


SHOW_COLUMNS = ["principal", "action_type", "object_type", "object_key"]


def _row(principal: str, action: str, obj: Model) -> dict:
    return {"principal": principal, "action_type": action, "object_type": OBJECT_TYPE[kind_of(obj)],
            "object_key": obj.full_name}


def show_grants_rows(*, actor, securable: Model | None, principal=None, limit: int = 1000) -> list[dict]:
    """SHOW GRANTS: on one securable, the grants and owners on it and its parents; without one, every grant the
    actor may see (on catalogs, schemas and three-level models it may read). Optionally for one principal."""
    rows: list[dict] = []
    if securable is not None:
        for level in _chain(securable):
            grants = grants_on(level)
            if principal is not None:
                grants = grants.filter(_principal_q(principal, with_groups=False))
            owner = level.owner_name
            if owner and (principal is None or _owned_by(level, principal, with_groups=False)):
                rows.append(_row(owner, OWN, level))
            rows.extend(_row(g.principal_name, privilege_label(g.privilege), level) for g in grants)
        return rows[:limit]
    visible = (
        Q(catalog__in=permissions.restrict(actor, Catalog.objects.all()).values("pk"))
        | Q(schema__in=permissions.restrict(actor, Schema.objects.all()).values("pk"))
        | Q(model__in=permissions.restrict(actor, RegisteredModel.objects.filter(schema__isnull=False)).values("pk"))
    )
    grants = Grant.objects.filter(visible).select_related(
        "user", "group", "catalog", "schema__catalog", "model__schema__catalog")
    if principal is not None:
        grants = grants.filter(_principal_q(principal, with_groups=False))
    for grant in grants.order_by("catalog__name", "schema__catalog__name", "schema__name", "model__name", "privilege",
                                 "id")[:limit]:
        target = grant.catalog or grant.schema or grant.model
        rows.append(_row(grant.principal_name, privilege_label(grant.privilege), target))
    return rows
