"""The one place that decides "may principal P do action A on securable S".

Every rule is a Q expression over the securable's table, so the same rule both answers a single question
(`check`) and restricts a list in SQL (`restrict`): a list, a search, a count and an error can never
disagree about what a principal may see. Denials come with a reason the UI can show."""
from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.contrib.auth.models import AnonymousUser, Group
from django.db.models import Exists, Model, OuterRef, Q, QuerySet

from registry.models import Catalog, Experiment, Grant, ModelVersion, Privilege, RegisteredModel, Schema


class Action(StrEnum):
    READ = "read"  # see, get, list, load
    MODIFY = "modify"  # new version, aliases, rename, description, comment
    TAG = "tag"
    DELETE = "delete"
    MANAGE_GRANTS = "manage_grants"  # grant, revoke, transfer ownership
    CREATE_SCHEMA = "create_schema"  # on a catalog
    CREATE_MODEL = "create_model"  # on a schema


# Where each kind of securable finds itself and its ancestors: (grant column, path from the row).
_CHAINS: dict[type[Model], list[tuple[str, str]]] = {
    Catalog: [("catalog", "")],
    Schema: [("schema", ""), ("catalog", "catalog")],
    RegisteredModel: [("model", ""), ("schema", "schema"), ("catalog", "schema__catalog")],
    Experiment: [("experiment", "")],
}
_LEVEL_LABEL = {"catalog": "catalog", "schema": "schema", "model": "model", "experiment": "experiment"}


def _is_admin(actor) -> bool:
    return bool(actor and actor.is_authenticated and actor.is_active and actor.is_superuser)


def _groups(actor):
    return Group.objects.filter(user=actor).values("pk")


def _prefixed(path: str, field: str) -> str:
    return f"{path}__{field}" if path else field


def _covering(privilege: str) -> list[str]:
    # ALL PRIVILEGES covers every privilege but MANAGE, as in Unity Catalog.
    return [privilege] if privilege == Privilege.MANAGE else [privilege, Privilege.ALL_PRIVILEGES]


class Rule:
    description = ""

    def q(self, actor, cls: type[Model]) -> Q:  # pragma: no cover - abstract
        raise NotImplementedError


class Owner(Rule):
    """Owns the securable or any of its ancestors (owners of a parent manage everything below it)."""

    def __init__(self, from_level: str | None = None):
        self.from_level = from_level
        self.description = "requires ownership"

    def q(self, actor, cls):
        q = Q(pk__in=[])
        for level, path in _chain(cls, self.from_level):
            q |= Q(**{_prefixed(path, "owner_user"): actor}) | Q(**{_prefixed(path, "owner_group__in"): _groups(actor)})
        return q


class Has(Rule):
    """Holds a privilege (directly, through a group, or inherited from a parent), or owns the object or a parent."""

    def __init__(self, privilege: str, at: str | None = None):
        self.privilege, self.at = privilege, at
        label = Privilege(privilege).label
        self.description = f"requires {label} on the {_LEVEL_LABEL.get(at or '', 'object')}" if at else f"requires {label}"

    def q(self, actor, cls):
        granted = Q(pk__in=[])
        for level, path in _chain(cls, self.at):
            grants = Grant.objects.filter(privilege__in=_covering(self.privilege), **{level: OuterRef(path or "pk")})
            grants = grants.filter(Q(user=actor) | Q(group__in=_groups(actor)))
            granted |= Q(Exists(grants))
        return granted | Owner(self.at).q(actor, cls)


class AnyGrantHere(Rule):
    """Holds any privilege on exactly this object (what makes a catalog or schema visible)."""

    description = "requires a privilege on the object"

    def q(self, actor, cls):
        level, _ = _CHAINS[cls][0]
        grants = Grant.objects.filter(**{level: OuterRef("pk")}).filter(Q(user=actor) | Q(group__in=_groups(actor)))
        return Q(Exists(grants))


class Condition(Rule):
    def __init__(self, q: Q, description: str = ""):
        self._q, self.description = q, description

    def q(self, actor, cls):
        return self._q


class AnyOf(Rule):
    def __init__(self, *rules: Rule, description: str = ""):
        self.rules = rules
        self.description = description or " or ".join(r.description for r in rules if r.description)

    def q(self, actor, cls):
        q = Q(pk__in=[])
        for rule in self.rules:
            q |= rule.q(actor, cls)
        return q


class AllOf(Rule):
    def __init__(self, *rules: Rule):
        self.rules = rules
        self.description = "; ".join(r.description for r in rules if r.description)

    def q(self, actor, cls):
        q = Q()
        for rule in self.rules:
            q &= rule.q(actor, cls)
        return q


def _chain(cls, from_level):
    chain = _CHAINS[cls]
    if from_level is None:
        return chain
    levels = [level for level, _ in chain]
    return chain[levels.index(from_level):]


_USE_CATALOG = Has(Privilege.USE_CATALOG, at="catalog")
_USE_SCHEMA = Has(Privilege.USE_SCHEMA, at="schema")

_CATALOG_RULES = {
    Action.READ: AnyOf(Owner(), AnyGrantHere(), description="requires a privilege on the catalog"),
    Action.CREATE_SCHEMA: AllOf(_USE_CATALOG, Has(Privilege.CREATE_SCHEMA)),
    Action.MODIFY: AnyOf(Owner(), Has(Privilege.MANAGE)),
    Action.TAG: AnyOf(Owner(), Has(Privilege.APPLY_TAG), Has(Privilege.MANAGE)),
    Action.DELETE: AnyOf(Owner(), Has(Privilege.MANAGE)),
    Action.MANAGE_GRANTS: AnyOf(Owner(), Has(Privilege.MANAGE)),
}
_SCHEMA_RULES = {
    Action.READ: AllOf(_USE_CATALOG, AnyOf(_USE_SCHEMA, AnyGrantHere(), description="requires a privilege on the schema")),
    Action.CREATE_MODEL: AllOf(_USE_CATALOG, _USE_SCHEMA, Has(Privilege.CREATE_MODEL, at="schema")),
    Action.MODIFY: AllOf(_USE_CATALOG, AnyOf(Owner(), Has(Privilege.MANAGE))),
    Action.TAG: AllOf(_USE_CATALOG, AnyOf(Owner(), Has(Privilege.APPLY_TAG), Has(Privilege.MANAGE))),
    Action.DELETE: AllOf(_USE_CATALOG, AnyOf(Owner(), Has(Privilege.MANAGE))),
    Action.MANAGE_GRANTS: AllOf(_USE_CATALOG, AnyOf(Owner(), Has(Privilege.MANAGE))),
}
_MODEL_UC_RULES = {
    Action.READ: AllOf(_USE_CATALOG, _USE_SCHEMA, AnyOf(Has(Privilege.EXECUTE), Has(Privilege.MANAGE))),
    Action.MODIFY: AllOf(_USE_CATALOG, _USE_SCHEMA, AnyOf(Owner(), Has(Privilege.MANAGE))),
    Action.TAG: AllOf(_USE_CATALOG, _USE_SCHEMA, AnyOf(Owner(), Has(Privilege.APPLY_TAG), Has(Privilege.MANAGE))),
    Action.DELETE: AllOf(_USE_CATALOG, _USE_SCHEMA, AnyOf(Owner(), Has(Privilege.MANAGE))),
    Action.MANAGE_GRANTS: AllOf(_USE_CATALOG, _USE_SCHEMA, AnyOf(Owner(), Has(Privilege.MANAGE))),
}
# Workspace-registry models have no parents: the creator owns; others need EXECUTE to read, MANAGE to change.
_MODEL_WS_RULES = {
    Action.READ: AnyOf(Has(Privilege.EXECUTE), Has(Privilege.MANAGE)),
    Action.MODIFY: AnyOf(Owner(), Has(Privilege.MANAGE)),
    Action.TAG: AnyOf(Owner(), Has(Privilege.APPLY_TAG), Has(Privilege.MANAGE)),
    Action.DELETE: AnyOf(Owner(), Has(Privilege.MANAGE)),
    Action.MANAGE_GRANTS: AnyOf(Owner(), Has(Privilege.MANAGE)),
}
_OPEN = Condition(Q(open_to_all=True), "")
_EXPERIMENT_RULES = {
    Action.READ: AnyOf(_OPEN, Has(Privilege.EXECUTE), Has(Privilege.MANAGE), description="requires EXECUTE on the experiment"),
    Action.MODIFY: AnyOf(_OPEN, Owner(), Has(Privilege.MANAGE), description="requires ownership or MANAGE on the experiment"),
    Action.DELETE: AnyOf(Owner(), Has(Privilege.MANAGE)),
    Action.MANAGE_GRANTS: AnyOf(Owner(), Has(Privilege.MANAGE)),
}


def _rule_q(actor, cls: type[Model], action: Action, *, workspace: bool | None = None) -> Q:
    """The SQL condition under which `actor` may do `action` on rows of `cls`."""
    if _is_admin(actor):
        return Q()
    if actor is None or not actor.is_authenticated or not actor.is_active:
        return Q(pk__in=[])
    if cls is RegisteredModel:
        ws = Q(schema__isnull=True) & _rule(cls, action, True).q(actor, cls)
        uc = Q(schema__isnull=False) & _rule(cls, action, False).q(actor, cls)
        if workspace is True:
            return ws
        if workspace is False:
            return uc
        return ws | uc
    return _rule(cls, action, None).q(actor, cls)


def _rule(cls, action: Action, workspace: bool | None) -> Rule:
    table = {
        Catalog: _CATALOG_RULES,
        Schema: _SCHEMA_RULES,
        Experiment: _EXPERIMENT_RULES,
        RegisteredModel: _MODEL_WS_RULES if workspace else _MODEL_UC_RULES,
    }[cls]
    try:
        return table[action]
    except KeyError:
        raise ValueError(f"{action} does not apply to {cls.__name__}") from None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""

    def __bool__(self) -> bool:
        return self.allowed


def check(actor, action: Action, obj: Model) -> Decision:
    """May `actor` do `action` on `obj`? One query; a denial says which requirement is missing."""
    cls = type(obj)
    workspace = (obj.schema_id is None) if cls is RegisteredModel else None
    q = _rule_q(actor, cls, action, workspace=workspace)
    if cls.objects.filter(pk=obj.pk).filter(q).exists():
        return Decision(True)
    if actor is None or not getattr(actor, "is_authenticated", False):
        return Decision(False, "authentication required")
    rule = _rule(cls, action, workspace)
    parts = rule.rules if isinstance(rule, AllOf) else (rule,)
    for part in parts:
        if not cls.objects.filter(pk=obj.pk).filter(part.q(actor, cls)).exists():
            return Decision(False, part.description or rule.description)
    return Decision(False, rule.description)


def restrict(actor, queryset: QuerySet, action: Action = Action.READ) -> QuerySet:
    """`queryset` narrowed, in SQL, to rows on which `actor` may do `action`."""
    cls = queryset.model
    if cls is ModelVersion:
        return queryset.filter(model__in=restrict(actor, RegisteredModel.objects.all(), action).values("pk"))
    return queryset.filter(_rule_q(actor, cls, action))


def is_admin(actor) -> bool:
    return _is_admin(actor)


def effective_privileges(actor, obj: Model) -> list[str]:
    """The privileges `actor` holds on `obj` (directly, through groups, inherited or by ownership)."""
    cls = type(obj)
    return [
        p.value
        for p in Privilege
        if p != Privilege.ALL_PRIVILEGES
        and (_is_admin(actor) or cls.objects.filter(pk=obj.pk).filter(Has(p).q(actor, cls)).exists())
    ]


__all__ = ["Action", "Decision", "check", "restrict", "is_admin", "effective_privileges", "AnonymousUser"]
