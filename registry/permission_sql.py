"""The permission rules of registry.permissions rendered as raw SQL text, for conditions that hot read paths put
inside a query of their own (what the caller may see of a version's run, logged model and copy source).

`permissions.restrict` compiles a rule into Django Q objects (Exists subqueries over grants); building and
resolving those trees costs about 10 ms of CPU per condition, far more than the SQL then costs to run. The
formulas are the same ones (`permissions._formula`); only their rendering differs, into text that depends on
the securable's class, the action and the table alias, with the actor as parameters.
tests/registry/test_permission_sql.py holds both renderings equal for every class and action over a matrix of
owners, groups and grants."""
from __future__ import annotations

from django.contrib.auth.models import Group
from django.db import connection
from django.db.models import BooleanField, Model, QuerySet
from django.db.models.expressions import RawSQL

from registry import permissions
from registry.models import Grant, ModelVersion, RegisteredModel
from registry.permission_formulas import And, GrantAt, Or, OwnerAt, Where

# The plain row conditions of the rules, as SQL over the row's alias `{t}`.
_CONDITIONS = {
    id(permissions._OPEN): "{t}.open_to_all",
    id(permissions._IS_WORKSPACE): "{t}.schema_id IS NULL",
    id(permissions._IS_THREE_LEVEL): "{t}.schema_id IS NOT NULL",
}


def rule_sql(actor, cls: type[Model], action, alias: str) -> tuple[str, list]:
    """(SQL condition, parameters): whether `actor` may do `action` on the row of `cls` at `alias` (a quoted table
    name or alias of the enclosing query)."""
    if permissions.is_admin(actor):
        return "(1 = 1)", []
    if permissions.anonymous_or_inactive(actor):
        return "(1 = 0)", []
    renderer = _Renderer(actor.pk, cls, alias)
    return renderer.render(permissions._formula(cls, action)), renderer.params


def _quote(name: str) -> str:
    return connection.ops.quote_name(name)


class _Renderer:
    def __init__(self, actor_pk: int, cls: type[Model], alias: str):
        self.actor_pk, self.cls, self.alias, self.params = actor_pk, cls, alias, []
        self._aliases = 0

    def _next_alias(self) -> str:
        self._aliases += 1
        return f"perm_{self._aliases}"

    def _groups(self) -> str:
        self.params.append(self.actor_pk)
        return f"SELECT m.group_id FROM {_quote(Group.user_set.through._meta.db_table)} m WHERE m.user_id = %s"

    def _target(self, path: str) -> tuple[type[Model], str]:
        """The class of the securable `path` reaches from the row, and SQL for its id."""
        cls, expr = self.cls, f"{self.alias}.id"
        for i, step in enumerate(path.split("__") if path else ()):
            field = cls._meta.get_field(step)
            if i == 0:
                expr = f"{self.alias}.{_quote(field.column)}"
            else:
                hop = self._next_alias()
                expr = f"(SELECT {hop}.{_quote(field.column)} FROM {_quote(cls._meta.db_table)} {hop} WHERE {hop}.id = {expr})"
            cls = field.related_model
        return cls, expr

    def render(self, formula) -> str:
        if isinstance(formula, (And, Or)):
            if not formula.items:
                return "(1 = 1)" if isinstance(formula, And) else "(1 = 0)"
            joiner = " AND " if isinstance(formula, And) else " OR "
            return "(" + joiner.join(self.render(item) for item in formula.items) + ")"
        if isinstance(formula, OwnerAt):
            return self._owner(formula.path)
        if isinstance(formula, GrantAt):
            return self._grant(formula)
        if isinstance(formula, Where):
            return "(" + _CONDITIONS[id(formula.rule)].format(t=self.alias) + ")"  # KeyError: a new condition
        raise TypeError(f"not a permission formula: {formula!r}")

    def _owner(self, path: str) -> str:
        if not path:
            self.params.append(self.actor_pk)
            user = f"{self.alias}.owner_user_id = %s"
            return f"({user} OR {self.alias}.owner_group_id IN ({self._groups()}))"
        cls, target_id = self._target(path)
        owner = self._next_alias()
        sql = f"EXISTS (SELECT 1 FROM {_quote(cls._meta.db_table)} {owner} WHERE {owner}.id = {target_id} AND "
        self.params.append(self.actor_pk)
        sql += f"({owner}.owner_user_id = %s OR {owner}.owner_group_id IN ({self._groups()})))"
        return sql

    def _grant(self, atom: GrantAt) -> str:
        _, target_id = self._target(atom.path)
        grant = self._next_alias()
        sql = (f"EXISTS (SELECT 1 FROM {_quote(Grant._meta.db_table)} {grant} "
               f"WHERE {grant}.{_quote(atom.level + '_id')} = {target_id}")
        if atom.privileges is not None:
            privileges = sorted(atom.privileges)
            sql += f" AND {grant}.privilege IN ({', '.join(['%s'] * len(privileges))})"
            self.params.extend(privileges)
        self.params.append(self.actor_pk)
        sql += f" AND ({grant}.user_id = %s OR {grant}.group_id IN ({self._groups()})))"
        return sql


def restrict_outer(actor, queryset: QuerySet, action=None) -> QuerySet:
    """`permissions.restrict(actor, queryset, action)` for a queryset that runs as the outer query, never inside
    another one (the condition names the queryset's table, which a subquery would alias): the searches and lists
    of the MLflow API and the browser."""
    action = permissions.Action.READ if action is None else action
    cls = queryset.model
    if permissions.is_admin(actor) or permissions.anonymous_or_inactive(actor):
        return permissions.restrict(actor, queryset, action)  # no condition to build
    table = _quote(cls._meta.db_table)
    if cls is ModelVersion:  # a version is what its model allows
        rule, params = rule_sql(actor, RegisteredModel, action, "pm")
        sql = (f"EXISTS (SELECT 1 FROM {_quote(RegisteredModel._meta.db_table)} pm "
               f"WHERE pm.id = {table}.{_quote(cls._meta.get_field('model').column)} AND {rule})")
    else:
        sql, params = rule_sql(actor, cls, action, table)
    return queryset.alias(**{f"permitted_{action.value}": RawSQL(sql, params, output_field=BooleanField())}).filter(
        **{f"permitted_{action.value}": True})
