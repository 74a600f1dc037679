"""Parsed registry filters and order_by clauses turned into SQL (Q objects and order expressions) for
registered models and model versions, with MLflow's rules for which keys and comparators are valid.

Names: a three-level model answers to its full name `catalog.schema.model`, matched lower-case (as it is
stored); a workspace-registry model to its name as stored, case-sensitively."""
from __future__ import annotations

from django.db.models import Case, CharField, Exists, F, OuterRef, Q, Value, When
from django.db.models.functions import Coalesce, Concat
from django.db.models.lookups import In

from registry.errors import InvalidParameter
from registry.models import ModelVersionTag, RegisteredModelTag
from registry.search.grammar import Comparison, invalid
from registry.search.like import ILike, Like

IS_PROMPT_TAG = "mlflow.prompt.is_prompt"
_NOTHING = Q(pk__in=[])
_STRING_OPS = ("=", "!=", "LIKE", "ILIKE", "IN", "NOT IN")
_TAG_OPS = ("=", "!=", "LIKE", "ILIKE", "IS NULL", "IS NOT NULL")
_NUMBER_OPS = ("=", "!=", "<", ">", "<=", ">=", "IN", "NOT IN")
_NUMBER_LOOKUP = {"=": "exact", "<": "lt", ">": "gt", "<=": "lte", ">=": "gte"}


def _three_level_name(prefix: str):
    return Concat(F(f"{prefix}schema__catalog__name"), Value("."), F(f"{prefix}schema__name"), Value("."),
                  F(f"{prefix}name"), output_field=CharField())


def full_name_expression(prefix: str = ""):
    """The model's full name: `catalog.schema.model`, or the workspace name as stored."""
    return Case(When(**{f"{prefix}schema__isnull": True}, then=F(f"{prefix}name")),
                default=_three_level_name(prefix), output_field=CharField())


def _name_equals(value: str, prefix: str) -> Q:
    if "." not in value:
        return Q(**{f"{prefix}schema__isnull": True, f"{prefix}name": value})
    parts = value.lower().split(".")
    if len(parts) != 3:
        return _NOTHING  # no model has such a name: workspace names have no dot, full names exactly two
    catalog, schema, name = parts
    return Q(**{f"{prefix}schema__catalog__name": catalog, f"{prefix}schema__name": schema, f"{prefix}name": name})


def _name_like(pattern: str, lookup, prefix: str) -> Q:
    # Three-level names are stored lower-case, so they are matched against the lower-cased pattern.
    return (Q(**{f"{prefix}schema__isnull": True}) & Q(lookup(F(f"{prefix}name"), pattern))) | (
        Q(**{f"{prefix}schema__isnull": False}) & Q(lookup(_three_level_name(prefix), pattern.lower()))
    )


def _string_q(op: str, value, equals, is_in, like) -> Q:
    if op == "=":
        return equals(value)
    if op == "!=":
        return ~equals(value)
    if op == "IN":
        return is_in(value)
    if op == "NOT IN":
        return ~is_in(value)
    return like(value, Like if op == "LIKE" else ILike)


def _name_in(values: list[str], prefix: str) -> Q:
    # One IN per kind of name rather than a chain of ORs (SQLite limits expression depth).
    flat = [v for v in values if "." not in v]
    three_level = [v.lower() for v in values if v.count(".") == 2]
    q = Q(**{f"{prefix}schema__isnull": True, f"{prefix}name__in": flat}) if flat else _NOTHING
    if three_level:
        q |= Q(**{f"{prefix}schema__isnull": False}) & Q(In(_three_level_name(prefix), three_level))
    return q


def _field_like(field: str):
    return lambda pattern, lookup: Q(lookup(F(field), pattern))


def _require_strings(source: str, c: Comparison) -> None:
    values = c.value if c.value_kind == "list" else [c.value]
    if c.value_kind == "none" or any(not isinstance(v, str) for v in values):
        raise invalid(source, f"expected a quoted string value for {_label(c)} (e.g. 'my-value'), got {c.value!r}")


def _label(c: Comparison) -> str:
    return f"tags.`{c.key}`" if c.entity == "tag" else f"'{c.key}'"


def _check_op(source: str, c: Comparison, allowed: tuple[str, ...]) -> None:
    if c.op not in allowed:
        raise invalid(source, f"invalid comparator '{c.op}' for {_label(c)}; valid comparators are {', '.join(allowed)}")


def _tag_q(source: str, c: Comparison, tag_model, fk: str) -> Q:
    _check_op(source, c, _TAG_OPS)
    if c.op not in ("IS NULL", "IS NOT NULL"):
        _require_strings(source, c)
    tags = tag_model.objects.filter(**{fk: OuterRef("pk")}, key=c.key)
    present = Exists(tags)
    if c.op == "IS NULL":
        return ~Q(present)
    if c.op == "IS NOT NULL":
        return Q(present)
    if c.op == "=":
        q = Q(Exists(tags.filter(value=c.value)))
    elif c.op == "!=":
        q = Q(Exists(tags.exclude(value=c.value)))
    else:
        q = Q(Exists(tags.filter((Like if c.op == "LIKE" else ILike)(F("value"), c.value))))
    # Models without the prompt tag are not prompts: MLflow's client appends
    # `tags.`mlflow.prompt.is_prompt` != 'true'` to every model search and expects them to match.
    if c.key == IS_PROMPT_TAG and (c.op, c.value) in (("=", "false"), ("!=", "true")):
        q |= ~Q(present)
    return q


def _queries_prompts(comparisons: list[Comparison]) -> bool:
    for c in comparisons:
        if c.entity == "tag" and c.key == IS_PROMPT_TAG and isinstance(c.value, str):
            return (c.op, c.value.lower()) in (("=", "true"), ("!=", "false"))
    return False


def _exclude_prompts(comparisons: list[Comparison], tag_model, fk: str) -> Q:
    """Prompts (MLflow keeps them in the registry tagged is_prompt=true) stay out unless asked for."""
    if _queries_prompts(comparisons):
        return Q()
    return ~Q(Exists(tag_model.objects.filter(**{fk: OuterRef("pk")}, key=IS_PROMPT_TAG, value="true")))


def model_filter_q(source: str, comparisons: list[Comparison]) -> Q:
    q = Q()
    for c in comparisons:
        if c.entity == "tag":
            q &= _tag_q(source, c, RegisteredModelTag, "model")
        elif c.key == "name":
            _check_op(source, c, _STRING_OPS)
            _require_strings(source, c)
            q &= _string_q(c.op, c.value, lambda v: _name_equals(v, ""), lambda vs: _name_in(vs, ""),
                           lambda p, lk: _name_like(p, lk, ""))
        else:
            raise invalid(source, f"invalid attribute key '{c.key}'; registered models can be filtered by "
                                  "'name' and tags.<key>")
    return q & _exclude_prompts(comparisons, RegisteredModelTag, "model")


def _version_number(source: str, value) -> int:
    if isinstance(value, bool) or isinstance(value, float):
        raise invalid(source, f"version_number must be an integer, got {value!r}")
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise invalid(source, f"version_number must be an integer, got {value!r}") from None
    if abs(number) > 2**31:
        raise invalid(source, f"version_number {number} is out of range")
    return number


def version_filter_q(source: str, comparisons: list[Comparison]) -> Q:
    q = Q()
    for c in comparisons:
        if c.entity == "tag":
            q &= _tag_q(source, c, ModelVersionTag, "version")
        elif c.key == "name":
            _check_op(source, c, _STRING_OPS)
            _require_strings(source, c)
            q &= _string_q(c.op, c.value, lambda v: _name_equals(v, "model__"), lambda vs: _name_in(vs, "model__"),
                           lambda p, lk: _name_like(p, lk, "model__"))
        elif c.key in ("run_id", "source_path"):
            field = "run_id" if c.key == "run_id" else "source"
            _check_op(source, c, _STRING_OPS if c.key == "run_id" else ("=", "!=", "LIKE", "ILIKE"))
            _require_strings(source, c)
            q &= _string_q(c.op, c.value, lambda v, f=field: Q(**{f: v}), lambda vs, f=field: Q(**{f"{f}__in": vs}),
                           _field_like(field))
        elif c.key == "version_number":
            _check_op(source, c, _NUMBER_OPS)
            if c.op in ("IN", "NOT IN"):
                numbers = [_version_number(source, v) for v in c.value]
                q &= Q(version__in=numbers) if c.op == "IN" else ~Q(version__in=numbers)
            elif c.op == "!=":
                q &= ~Q(version=_version_number(source, c.value))
            else:
                q &= Q(**{f"version__{_NUMBER_LOOKUP[c.op]}": _version_number(source, c.value)})
        else:
            raise invalid(source, f"invalid attribute key '{c.key}'; model versions can be filtered by 'name', "
                                  "'run_id', 'source_path', 'version_number' and tags.<key>")
    return q & _exclude_prompts(comparisons, ModelVersionTag, "version")


# order_by -------------------------------------------------------------------------------------------------

MODEL_ORDER_KEYS = {"name": "name", "timestamp": "created_at", "creation_timestamp": "created_at",
                    "last_updated_timestamp": "updated_at"}
# The browser UI also sorts by owner; API clients keep MLflow's keys.
UI_MODEL_ORDER_KEYS = {**MODEL_ORDER_KEYS, "owner": "owner"}


def owner_name_expression():
    """The name the models list shows as owner: the owning group, else the owning user, else the creator."""
    return Coalesce(F("owner_group__name"), F("owner_user__username"), F("created_by__username"), Value(""),
                    output_field=CharField())
VERSION_ORDER_KEYS = {"name": "name", "version_number": "version", "creation_timestamp": "created_at",
                      "last_updated_timestamp": "updated_at"}
DEFAULT_VERSION_ORDER = ["last_updated_timestamp DESC", "name ASC", "version_number DESC"]


def _parse_order_clause(clause, valid: dict[str, str]) -> tuple[str, bool]:
    if not isinstance(clause, str) or not clause.strip():
        raise InvalidParameter(f"Invalid order_by clause {str(clause)[:100]!r}: expected '<key> [ASC|DESC]'.")
    words = clause.split()
    if len(words) > 2:
        raise InvalidParameter(f"Invalid order_by clause '{clause[:200]}'. Could not be parsed.")
    key = words[0].strip("`")
    if key.lower().startswith("attribute."):
        key = key[len("attribute."):].strip("`")
    ascending = True
    if len(words) == 2:
        direction = words[1].lower()
        if direction not in ("asc", "desc"):
            raise InvalidParameter(f"Invalid ordering key in order_by clause '{clause[:200]}': use ASC or DESC.")
        ascending = direction == "asc"
    if key not in valid:
        raise InvalidParameter(f"Invalid order_by key '{key[:100]}' specified. Valid keys are {sorted(valid)}.")
    return valid[key], ascending


def order_expressions(order_by, *, valid: dict[str, str], name_expression, default: list[str] | None = None,
                      tiebreak: list[tuple[str, bool]]) -> list:
    """ORDER BY expressions for `order_by` (a string or list of strings), then the tiebreak keys not yet
    used, then the primary key so that pages follow a stable order. `name` sorts by `name_expression`,
    `owner` by `owner_name_expression()`, any other field by its column."""
    clauses = order_by if isinstance(order_by, list) else ([order_by] if order_by else [])
    if len(clauses) > 10:
        raise InvalidParameter("Invalid order_by: at most 10 clauses are allowed.")
    parsed = [_parse_order_clause(c, valid) for c in (clauses or default or [])]
    fields = [field for field, _ in parsed]
    if len(set(fields)) != len(fields):
        raise InvalidParameter(f"`order_by` contains duplicate fields: {clauses}")
    parsed += [(field, asc) for field, asc in tiebreak if field not in fields]
    result = []
    for field, ascending in parsed:
        expression = name_expression if field == "name" else owner_name_expression() if field == "owner" else F(field)
        result.append(expression.asc() if ascending else expression.desc())
    result.append(F("pk").asc())
    return result
