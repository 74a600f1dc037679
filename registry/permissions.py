"""The one place that decides "may principal P do action A on securable S".

Every rule compiles to a Q expression over the securable's table, so the same rule answers a single question
(`check`), restricts a list in SQL (`restrict`) and answers all of a page's questions in one query (`abilities`):
a list, a search, a count, a button and an error can never disagree about what a principal may do. Denials come
with a reason the UI can show."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from django.contrib.auth.models import AnonymousUser, Group
from django.db import connection
from django.db.models import BooleanField, Case, Exists, Model, OuterRef, Q, QuerySet, Value, When
from django.db.models.expressions import RawSQL

from registry.query_helpers import only_row
from registry.models import Catalog, Experiment, Grant, ModelVersion, Privilege, RegisteredModel, Schema
from registry.permission_formulas import And, GrantAt, Or, OwnerAt, Where, all_of, any_of, atoms, evaluate


class Action(StrEnum):
    READ = "read"  # see, get, list, load
    MODIFY = "modify"  # new version, aliases, rename, description, comment; on an experiment: any of its runs
    CREATE_RUN = "create_run"  # on an experiment: new runs and logged models (then writable by their owner)
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


def anonymous_or_inactive(actor) -> bool:
    """Nobody, an anonymous visitor or a deactivated user: no grant counts for them, so no rule needs building."""
    return actor is None or not actor.is_authenticated or not actor.is_active


def _groups(actor):
    # The membership table alone: the group's own row adds nothing to "which groups is the actor in".
    return Group.user_set.through.objects.filter(user_id=actor.pk).values("group_id")


def _prefixed(path: str, field: str) -> str:
    return f"{path}__{field}" if path else field


def _covering(privilege: str) -> list[str]:
    # ALL PRIVILEGES covers every privilege but MANAGE, as in Unity Catalog.
    return [privilege] if privilege == Privilege.MANAGE else [privilege, Privilege.ALL_PRIVILEGES]


# Rules are written as formulas (`registry.permission_formulas`) and compiled to Q here -----------------------

def _atom_q(atom, actor, groups=None) -> Q:
    """The atom as a Q; `groups` (the actor's groups subquery) can be shared by all the atoms of one formula."""
    groups = _groups(actor) if groups is None else groups
    if isinstance(atom, OwnerAt):
        return (Q(**{_prefixed(atom.path, "owner_user"): actor})
                | Q(**{_prefixed(atom.path, "owner_group__in"): groups}))
    if isinstance(atom, GrantAt):
        grants = Grant.objects.filter(**{atom.level: OuterRef(atom.path or "pk")})
        if atom.privileges is not None:
            grants = grants.filter(privilege__in=sorted(atom.privileges))
        return Q(Exists(grants.filter(Q(user=actor) | Q(group__in=groups))))
    return atom.rule.condition


def _compile(formula, actor, groups=None) -> Q:
    """The formula as a Q over the securable's table."""
    groups = _groups(actor) if groups is None else groups
    if isinstance(formula, And):
        q = Q()
        for item in formula.items:
            q &= _compile(item, actor, groups)
        return q
    if isinstance(formula, Or):
        if not formula.items:
            return Q(pk__in=[])
        q = _compile(formula.items[0], actor, groups)
        for item in formula.items[1:]:
            q |= _compile(item, actor, groups)
        return q
    return _atom_q(formula, actor, groups)


# Rules ---------------------------------------------------------------------------------------------------

class Rule:
    description = ""

    def formula(self, chain: list[tuple[str, str]]):  # pragma: no cover - abstract
        """The rule over a securable whose own level and ancestors are `chain` ((grant column, path) pairs)."""
        raise NotImplementedError

    def q(self, actor, cls: type[Model]) -> Q:
        return _compile(self.formula(_CHAINS[cls]), actor)


class Owner(Rule):
    """Owns the securable or any of its ancestors (owners of a parent manage everything below it)."""

    def __init__(self, from_level: str | None = None):
        self.from_level = from_level
        self.description = "requires ownership"

    def formula(self, chain):
        return any_of(OwnerAt(path) for level, path in _chain(chain, self.from_level))


class Has(Rule):
    """Holds a privilege (directly, through a group, or inherited from a parent), or owns the object or a parent."""

    def __init__(self, privilege: str, at: str | None = None):
        self.privilege, self.at = privilege, at
        label = Privilege(privilege).label
        self.description = f"requires {label} on the {_LEVEL_LABEL.get(at or '', 'object')}" if at else f"requires {label}"

    def formula(self, chain):
        covering = frozenset(_covering(self.privilege))
        granted = [GrantAt(level, path, covering) for level, path in _chain(chain, self.at)]
        return any_of([*granted, Owner(self.at).formula(chain)])


class AnyGrantHere(Rule):
    """Holds any privilege on exactly this object (what makes a catalog or schema visible)."""

    description = "requires a privilege on the object"

    def formula(self, chain):
        level, _ = chain[0]
        return GrantAt(level, "", None)


class Condition(Rule):
    """A plain condition on the row: `q` in SQL, and `test` the same condition on a loaded row (for `allows`)."""

    def __init__(self, q: Q, description: str = "", *, test):
        self.condition, self.description, self.test = q, description, test

    def formula(self, chain):
        return Where(self)


class AnyOf(Rule):
    def __init__(self, *rules: Rule, description: str = ""):
        self.rules = rules
        self.description = description or " or ".join(r.description for r in rules if r.description)

    def formula(self, chain):
        return any_of(rule.formula(chain) for rule in self.rules)


class AllOf(Rule):
    def __init__(self, *rules: Rule):
        self.rules = rules
        self.description = "; ".join(r.description for r in rules if r.description)

    def formula(self, chain):
        return all_of(rule.formula(chain) for rule in self.rules)


def _chain(chain, from_level):
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
_OPEN = Condition(Q(open_to_all=True), "", test=lambda row: bool(row.open_to_all))
_EXPERIMENT_RULES = {
    Action.READ: AnyOf(_OPEN, Has(Privilege.EXECUTE), Has(Privilege.MANAGE), description="requires EXECUTE on the experiment"),
    # "Open to all" (the Default experiment) lets anyone read it and start runs in it; writing to a run is for
    # the run's owner (registry.tracking_selectors.run_list_writable) or for who may modify the experiment.
    Action.CREATE_RUN: AnyOf(_OPEN, Owner(), Has(Privilege.MANAGE), description="requires ownership or MANAGE on the experiment"),
    Action.MODIFY: AnyOf(Owner(), Has(Privilege.MANAGE), description="requires ownership or MANAGE on the experiment"),
    Action.DELETE: AnyOf(Owner(), Has(Privilege.MANAGE)),
    Action.MANAGE_GRANTS: AnyOf(Owner(), Has(Privilege.MANAGE)),
}


# A workspace-registry model has no parents, so its rules look at its own row only.
_WORKSPACE_MODEL_CHAIN = [("model", "")]
_IS_WORKSPACE = Condition(Q(schema__isnull=True), test=lambda row: row.schema_id is None)
_IS_THREE_LEVEL = Condition(Q(schema__isnull=False), test=lambda row: row.schema_id is not None)


def _formula(cls: type[Model], action: Action, *, workspace: bool | None = None):
    """`action`'s rule on rows of `cls` (for models: workspace ones, three-level ones, or either when None)."""
    if cls is RegisteredModel:
        ws = all_of([Where(_IS_WORKSPACE), _rule(cls, action, True).formula(_WORKSPACE_MODEL_CHAIN)])
        uc = all_of([Where(_IS_THREE_LEVEL), _rule(cls, action, False).formula(_CHAINS[cls])])
        return ws if workspace is True else uc if workspace is False else any_of([ws, uc])
    return _rule(cls, action, None).formula(_CHAINS[cls])


def _rule_q(actor, cls: type[Model], action: Action, *, workspace: bool | None = None) -> Q:
    """The SQL condition under which `actor` may do `action` on rows of `cls`."""
    if _is_admin(actor):
        return Q()
    if anonymous_or_inactive(actor):
        return Q(pk__in=[])
    return _compile(_formula(cls, action, workspace=workspace), actor)


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
    """May `actor` do `action` on `obj`? Decided by `allows` (one small query); a denial then asks SQL which
    requirement is missing, so it can say so."""
    cls = type(obj)
    workspace = (obj.schema_id is None) if cls is RegisteredModel else None
    if allows(actor, action, obj):
        return Decision(True)
    if actor is None or not getattr(actor, "is_authenticated", False):
        return Decision(False, "authentication required")
    rule = _rule(cls, action, workspace)
    chain = _WORKSPACE_MODEL_CHAIN if workspace else _CHAINS[cls]
    parts = rule.rules if isinstance(rule, AllOf) else (rule,)
    for part in parts:
        if not cls.objects.filter(pk=obj.pk).filter(_compile(part.formula(chain), actor)).exists():
            return Decision(False, part.description or rule.description)
    return Decision(False, rule.description)


def abilities(actor, obj: Model, actions: Iterable[Action]) -> dict[Action, bool]:
    """May `actor` do each of `actions` on `obj`? Answers `check(actor, action, obj).allowed` for all of them in
    one query, from the same rules: every distinct condition (atom) of their formulas becomes a boolean column of
    `obj`'s row, and each action's formula is then evaluated over that row. No query at all for an admin (every
    action on an existing object) or an anonymous or inactive actor (none)."""
    actions = list(dict.fromkeys(Action(a) for a in actions))
    # The same two shortcuts as `_rule_q`, so these answers match `check` without a query.
    if not actions or _is_admin(actor):
        return dict.fromkeys(actions, True)
    if anonymous_or_inactive(actor):
        return dict.fromkeys(actions, False)
    cls = type(obj)
    workspace = (obj.schema_id is None) if cls is RegisteredModel else None
    formulas = {action: _formula(cls, action, workspace=workspace) for action in actions}  # ValueError as in check
    needed = list(dict.fromkeys(atom for formula in formulas.values() for atom in atoms(formula)))
    groups = _groups(actor)
    columns = {f"atom_{i}": Case(When(_atom_q(atom, actor, groups), then=Value(True)), default=Value(False),
                                 output_field=BooleanField()) for i, atom in enumerate(needed)}
    row = cls.objects.filter(pk=obj.pk).annotate(**columns).values(*columns).first() if columns else {}
    if row is None:  # deleted meanwhile: nothing is allowed on it, as `check` would say
        return dict.fromkeys(actions, False)
    values = {atom: bool(row[f"atom_{i}"]) for i, atom in enumerate(needed)}
    return {action: evaluate(formula, values) for action, formula in formulas.items()}


def allows(actor, action: Action, obj: Model) -> bool:
    """`check(actor, action, obj).allowed`, decided from the same formulas in Python over `obj` as loaded (with
    its parents: a model's `schema.catalog`, a schema's `catalog`, select_related by the caller) and the actor's
    grants on those securables, annotated on the row by `first_allowed` or fetched in one small query (and one
    more only when a parent is owned by a group).
    For the read paths that already hold the row: compiling a rule to SQL costs more than the query itself."""
    if _is_admin(actor):
        return True
    if anonymous_or_inactive(actor):
        return False
    cls = type(obj)
    workspace = (obj.schema_id is None) if cls is RegisteredModel else None
    formula = _formula(cls, action, workspace=workspace)
    chain = _WORKSPACE_MODEL_CHAIN if workspace else _CHAINS[cls]
    securables = {level: _follow(obj, path) for level, path in chain}
    held = _privileges_held(actor, obj, securables)
    group_ids = None

    def atom_true(atom) -> bool:
        nonlocal group_ids
        if isinstance(atom, OwnerAt):
            target = _follow(obj, atom.path)
            if target.owner_user_id == actor.pk:
                return True
            if target.owner_group_id is None:
                return False
            if group_ids is None:
                group_ids = set(_groups(actor).values_list("group_id", flat=True))
            return target.owner_group_id in group_ids
        if isinstance(atom, GrantAt):
            privileges = held.get(atom.level, set())
            return bool(privileges) if atom.privileges is None else not privileges.isdisjoint(atom.privileges)
        return atom.rule.test(obj)

    return evaluate(formula, {atom: atom_true(atom) for atom in dict.fromkeys(atoms(formula))})


def first_allowed(actor, queryset: QuerySet, action: Action = Action.READ) -> tuple[Model | None, bool]:
    """(the first row of `queryset` if `actor` may do `action` on it, whether a row exists at all): a single-object
    lookup by its key, with the rule decided by `allows` rather than compiled into the query."""
    if _is_admin(actor) or anonymous_or_inactive(actor):
        row = only_row(queryset)
    else:  # the actor's grants on the row's chain come with the row
        row = only_row(queryset.annotate(**{_HELD: RawSQL(*_held_sql(actor, queryset.model))}))
        if row is not None:
            setattr(row, _HELD_FOR, actor.pk)
    if row is None:
        return None, False
    return (row if allows(actor, action, row) else None), True


def _follow(obj: Model, path: str) -> Model:
    for step in path.split("__") if path else ():
        obj = getattr(obj, step)
    return obj


def _privileges_held(actor, obj: Model, securables: dict[str, Model]) -> dict[str, set[str]]:
    """{grant level: privileges the actor holds there, directly or through a group} for `securables` (`obj`'s
    chain): from the `held_privileges` annotation when the lookup added it (`first_allowed`), else one query."""
    # The annotation holds the grants of the actor it was made for (first_allowed): another actor's check of the
    # same row must not read them.
    # A NULL annotation means "no grants", not "not annotated": only a missing annotation costs a query.
    annotated = getattr(obj, _HELD_FOR, None) == actor.pk
    held = getattr(obj, _HELD, None) if annotated else None
    if not annotated:
        sql, params = _held_sql(actor, type(obj))
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {sql} FROM {connection.ops.quote_name(type(obj)._meta.db_table)} WHERE id = %s",
                           [*params, obj.pk])
            row = cursor.fetchone()
        held = row[0] if row else None
    found: dict[str, set[str]] = {}
    for item in (held or "").split(","):
        level, _, privilege = item.partition(":")
        if level in securables and privilege:
            found.setdefault(level, set()).add(privilege)
    return found


# The id of each securable of a row's chain, as SQL over the row's own table (`{t}`).
_CHAIN_IDS = {
    Catalog: {"catalog": "{t}.id"},
    Schema: {"schema": "{t}.id", "catalog": "{t}.catalog_id"},
    RegisteredModel: {"model": "{t}.id", "schema": "{t}.schema_id",
                      "catalog": "(SELECT s.catalog_id FROM {schemas} s WHERE s.id = {t}.schema_id)"},
    Experiment: {"experiment": "{t}.id"},
}
_HELD = "held_privileges"
_HELD_FOR = "_held_privileges_of"  # the pk of the actor whose grants `_HELD` holds


def _held_sql(actor, cls: type[Model]) -> tuple[str, list]:
    """A correlated subquery over rows of `cls`: the actor's grants on the row's chain as 'level:PRIVILEGE,...'.
    Raw SQL on purpose: it replaces a compiled rule, and compiling costs more than running it."""
    quote = connection.ops.quote_name
    table = quote(cls._meta.db_table)
    ids = {level: expr.format(t=table, schemas=quote(Schema._meta.db_table)) for level, expr in _CHAIN_IDS[cls].items()}
    label = "CASE " + " ".join(f"WHEN g.{level}_id = {expr} THEN '{level}'" for level, expr in ids.items()) + " END"
    on_chain = " OR ".join(f"g.{level}_id = {expr}" for level, expr in ids.items())
    aggregate = "string_agg({}, ',')" if connection.vendor == "postgresql" else "group_concat({}, ',')"
    memberships = Group.user_set.through._meta.db_table
    item = label + " || ':' || g.privilege"
    sql = (f"(SELECT {aggregate.format(item)} FROM {quote(Grant._meta.db_table)} g "
           f"WHERE ({on_chain}) AND (g.user_id = %s OR g.group_id IN "
           f"(SELECT m.group_id FROM {quote(memberships)} m WHERE m.user_id = %s)))")
    return sql, [actor.pk, actor.pk]


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


__all__ = ["Action", "Decision", "check", "allows", "first_allowed", "abilities", "restrict", "is_admin", "effective_privileges", "AnonymousUser"]
