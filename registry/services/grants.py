"""Grants and ownership: who may do what on catalogs, schemas, models and experiments."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db.models import Model

from registry import audit
from registry.errors import InvalidParameter, NotFound
from registry.models import Catalog, Experiment, Grant, Privilege, RegisteredModel, Schema
from registry.permissions import Action
from registry.services.core import authorize, service

User = get_user_model()

_GRANT_FIELD = {Catalog: "catalog", Schema: "schema", RegisteredModel: "model", Experiment: "experiment"}
# Which privileges make sense where (Unity Catalog's securable/privilege matrix).
_APPLICABLE = {
    Catalog: set(Privilege.values),
    Schema: set(Privilege.values) - {Privilege.USE_CATALOG, Privilege.CREATE_SCHEMA},
    RegisteredModel: {Privilege.EXECUTE, Privilege.APPLY_TAG, Privilege.MANAGE, Privilege.ALL_PRIVILEGES},
    Experiment: {Privilege.EXECUTE, Privilege.MANAGE, Privilege.ALL_PRIVILEGES},
}


def parse_privilege(value: object) -> str:
    """Accepts 'USE CATALOG', 'use_catalog', 'Use Catalog'…; refuses anything else with the valid list."""
    if not isinstance(value, str):
        raise InvalidParameter("Privilege must be a string.")
    key = "_".join(value.strip().upper().replace("_", " ").split())
    if key not in Privilege.values:
        valid = ", ".join(p.label for p in Privilege)
        raise InvalidParameter(f"Unknown privilege {value[:100]!r}; valid privileges are: {valid}.")
    return key


def principal_resolve(name: object) -> User | Group:
    """A user or group by name. `group:<name>` / `user:<name>` force the kind when both exist."""
    if not isinstance(name, str) or not name.strip():
        raise InvalidParameter("Principal must be a non-empty user or group name.")
    if len(name) > 300 or any(ord(ch) < 32 or ord(ch) == 127 for ch in name):
        raise InvalidParameter("Principal must be a user or group name without control characters.")
    kind, sep, rest = name.partition(":")
    if sep and kind in ("user", "group"):
        name = rest
    else:
        kind = ""
    if kind in ("", "user"):
        user = User.objects.filter(**{User.USERNAME_FIELD: name}, is_active=True).first()
        if user:
            return user
    if kind in ("", "group"):
        group = Group.objects.filter(name=name).first()
        if group:
            return group
    raise InvalidParameter(f"Unknown principal {name[:150]!r}: no such user or group.")


def _principal_filter(principal) -> dict:
    return {"user": principal, "group": None} if isinstance(principal, User) else {"group": principal, "user": None}


def _principal_label(principal) -> str:
    return principal.get_username() if isinstance(principal, User) else principal.name


def _securable_label(securable: Model) -> str:
    return getattr(securable, "full_name", None) or getattr(securable, "name", str(securable))


def _check_applicable(securable: Model, privilege: str) -> None:
    if privilege not in _APPLICABLE[type(securable)]:
        raise InvalidParameter(
            f"Privilege {Privilege(privilege).label} cannot be granted on a {type(securable)._meta.verbose_name}."
        )


@service("grant.add")
def grant_add(*, actor, securable: Model, principal, privilege: str, statement: str = "") -> Grant:
    authorize(actor, Action.MANAGE_GRANTS, securable, not_found_message=f"{_securable_label(securable)} does not exist.")
    privilege = parse_privilege(privilege)
    _check_applicable(securable, privilege)
    field = _GRANT_FIELD[type(securable)]
    # Grants have no unique key (principal and securable are each one of several nullable columns), so
    # get_or_create alone would let two identical grants given at once both insert: grants on one securable
    # queue up on its row lock instead.
    list(type(securable).objects.select_for_update(no_key=True).filter(pk=securable.pk).values_list("pk"))
    grant, created = Grant.objects.get_or_create(
        privilege=privilege, **{field: securable}, **_principal_filter(principal), defaults={"granted_by": actor}
    )
    audit.record(actor=actor, action="grant.add", obj=securable,
                 params={"principal": _principal_label(principal), "privilege": privilege, "created": created,
                         "statement": statement})
    return grant


@service("grant.remove")
def grant_remove(*, actor, securable: Model, principal, privilege: str, statement: str = "") -> int:
    authorize(actor, Action.MANAGE_GRANTS, securable, not_found_message=f"{_securable_label(securable)} does not exist.")
    privilege = parse_privilege(privilege)
    field = _GRANT_FIELD[type(securable)]
    removed, _ = Grant.objects.filter(privilege=privilege, **{field: securable}, **_principal_filter(principal)).delete()
    audit.record(actor=actor, action="grant.remove", obj=securable,
                 params={"principal": _principal_label(principal), "privilege": privilege, "removed": removed,
                         "statement": statement})
    return removed


@service("owner.set")
def owner_set(*, actor, securable: Model, principal, statement: str = "") -> Model:
    authorize(actor, Action.MANAGE_GRANTS, securable, not_found_message=f"{_securable_label(securable)} does not exist.")
    previous = getattr(securable, "owner_name", "")
    if isinstance(principal, User):
        securable.owner_user, securable.owner_group = principal, None
    elif isinstance(principal, Group):
        securable.owner_user, securable.owner_group = None, principal
    else:
        raise NotFound("Unknown principal.")
    securable.save(update_fields=["owner_user", "owner_group", "updated_at"] if hasattr(securable, "updated_at")
                   else ["owner_user", "owner_group"])
    audit.record(actor=actor, action="owner.set", obj=securable,
                 params={"owner": _principal_label(principal), "previous_owner": previous, "statement": statement})
    return securable


def grants_on(securable: Model):
    """Direct grants on `securable` (callers show inherited ones from the parents' lists)."""
    field = _GRANT_FIELD[type(securable)]
    return Grant.objects.filter(**{field: securable}).select_related("user", "group").order_by("privilege", "id")
