"""MLflow's search grammar for experiments, runs and logged models, translated to SQL (Django Q objects).

`metrics.acc > 0.9 AND params.C = '1.0' AND tags.`team name` LIKE 'ml%' AND attributes.status = 'FINISHED'`:
comparisons joined by AND; `=`, `!=`, `<`, `>`, `<=`, `>=`, LIKE, ILIKE, IN, NOT IN, IS [NOT] NULL. Metrics compare
a run's latest value. The grammar itself is `registry.search.grammar`, shared with registry searches."""
from __future__ import annotations

import math

from django.db.models import Exists, F, OuterRef, Q, Subquery

from registry.errors import InvalidParameter
from registry.models import ExperimentTag, LoggedModelParam, LoggedModelTag, Metric, Param, RunInput, RunTag
from registry.search import grammar
from registry.search.grammar import Comparison
from registry.search.like import ILike, Like
from registry.search.pages import keyset_page

_ENTITY = {
    "metric": "metric", "metrics": "metric",
    "param": "param", "params": "param", "parameter": "param", "parameters": "param",
    "tag": "tag", "tags": "tag",
    "attribute": "attribute", "attributes": "attribute", "attr": "attribute", "run": "attribute",
    "dataset": "dataset", "datasets": "dataset",
}


def parse_filter(text) -> list[Comparison]:
    """The comparisons of a filter string (an empty filter has none), in the registry's grammar."""
    return grammar.parse_filter(text or None, entities=_ENTITY)


def parse_order_by(clause) -> tuple[str, str, bool]:
    """`metrics.acc DESC` -> ("metric", "acc", False)."""
    if not isinstance(clause, str) or not clause.strip():
        raise InvalidParameter(f"Invalid order_by clause {str(clause)[:100]!r}.")
    tokens = grammar.tokenize(clause)
    ascending = True
    if len(tokens) == 2 and tokens[1].kind == "ident" and tokens[1].text.upper() in ("ASC", "DESC"):
        ascending = tokens[1].text.upper() == "ASC"
        tokens = tokens[:1]
    if len(tokens) != 1 or tokens[0].kind != "ident":
        raise InvalidParameter(f"Invalid order_by clause '{clause[:200]}'.")
    comparison = grammar.parse_filter(f"{tokens[0].text} IS NULL", entities=_ENTITY)[0]
    return comparison.entity, comparison.key, ascending


# ---- translation to SQL ----------------------------------------------------------------------------------

_NUMERIC_OPS = {"=": "exact", "<": "lt", ">": "gt", "<=": "lte", ">=": "gte"}


def string_q(field: str, op: str, value) -> Q:
    if op in ("IN", "NOT IN"):
        q = Q(**{f"{field}__in": [str(v) for v in value]})
        return q if op == "IN" else ~q
    if not isinstance(value, str):
        raise InvalidParameter(f"Expected a quoted string value for '{field}', got {value!r}.")
    if op == "=":
        return Q(**{field: value})
    if op == "!=":
        return ~Q(**{field: value})
    if op in ("LIKE", "ILIKE"):
        return Q((Like if op == "LIKE" else ILike)(F(field), value))
    raise InvalidParameter(f"Invalid comparator '{op}' for a string value.")


def numeric_q(field: str, op: str, value, *, integer_column: bool = False) -> Q:
    if isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if not isinstance(value, float):
        raise InvalidParameter(f"Expected a numeric value for '{field}', got {value!r}.")
    if integer_column and not math.isfinite(value):  # 1e400 parses as infinity: no integer compares with it
        raise InvalidParameter(f"The numeric value for '{field}' is out of range.")
    if op == "!=":
        return ~Q(**{field: value})
    if op not in _NUMERIC_OPS:
        raise InvalidParameter(f"Invalid comparator '{op}' for a numeric value.")
    return Q(**{f"{field}__{_NUMERIC_OPS[op]}": value})


def _key_value_q(model, owner_field: str, outer: str, c: Comparison) -> Q:
    """Param/tag comparisons: the row with that key exists and its value compares."""
    base = model.objects.filter(**{owner_field: OuterRef(outer), "key": c.key})
    if c.op == "IS NULL":
        return ~Q(Exists(base))
    if c.op == "IS NOT NULL":
        return Q(Exists(base))
    if c.op in ("<", ">", "<=", ">=") or not isinstance(c.value, (str, list)):
        raise InvalidParameter(f"Invalid comparison for {c.entity} '{c.key}': use =, !=, LIKE or ILIKE with a quoted "
                               "string.")
    return Q(Exists(base.filter(string_q("value", c.op, c.value))))


def latest_metric(key: str, run_outer: str = "pk") -> Subquery:
    """The run's latest value of metric `key`: highest step, then latest timestamp, then highest value."""
    rows = Metric.objects.filter(run=OuterRef(run_outer), key=key)
    return Subquery(rows.order_by("-step", "-timestamp", F("value").desc(nulls_last=True)).values("value")[:1])


def _attribute_q(attributes: dict[str, tuple[str, bool]], c: Comparison, what: str) -> Q:
    if c.key not in attributes:
        raise InvalidParameter(f"Invalid attribute key '{c.key}' specified. Valid keys are "
                               f"{sorted(attributes)} for {what}.")
    field, numeric = attributes[c.key]
    if numeric:  # numeric attributes are integer columns (ids, timestamps)
        return numeric_q(field, c.op, c.value, integer_column=True)
    if c.op in ("<", ">", "<=", ">=", "IS NULL", "IS NOT NULL"):
        raise InvalidParameter(f"Invalid comparator '{c.op}' for attribute '{c.key}'.")
    return string_q(field, c.op, c.value)


RUN_ATTRIBUTES = {
    "run_id": ("run_id", False), "run_name": ("name", False), "run name": ("name", False),
    "Run name": ("name", False), "Run Name": ("name", False), "status": ("status", False),
    "user_id": ("user_id", False), "artifact_uri": ("artifact_uri", False),
    "start_time": ("start_time", True), "created": ("start_time", True), "Created": ("start_time", True),
    "end_time": ("end_time", True),
}
EXPERIMENT_ATTRIBUTES = {
    "name": ("name", False), "experiment_id": ("id", True), "creation_time": ("creation_time", True),
    "last_update_time": ("last_update_time", True),
}
LOGGED_MODEL_ATTRIBUTES = {
    "name": ("name", False), "model_id": ("model_id", False), "model_type": ("model_type", False),
    "status": ("status", False), "source_run_id": ("source_run__run_id", False),
    "creation_timestamp": ("creation_timestamp_ms", True), "creation_time": ("creation_timestamp_ms", True),
    "last_updated_timestamp": ("last_updated_timestamp_ms", True),
    "last_updated_time": ("last_updated_timestamp_ms", True),
}


def runs_filter(queryset, comparisons: list[Comparison]):
    for n, c in enumerate(comparisons):
        if c.entity == "metric":
            alias = f"_filter_metric_{n}"
            queryset = queryset.annotate(**{alias: latest_metric(c.key)}).filter(
                Q(**{f"{alias}__isnull": False}) & numeric_q(alias, c.op, c.value))
        elif c.entity == "param":
            queryset = queryset.filter(_key_value_q(Param, "run", "pk", c))
        elif c.entity == "tag":
            queryset = queryset.filter(_key_value_q(RunTag, "run", "pk", c))
        elif c.entity == "dataset":
            if c.key not in ("name", "digest"):
                raise InvalidParameter(f"Invalid dataset key '{c.key}': use dataset.name or dataset.digest.")
            inputs = RunInput.objects.filter(run=OuterRef("pk")).filter(string_q(f"dataset__{c.key}", c.op, c.value))
            queryset = queryset.filter(Exists(inputs))
        else:
            queryset = queryset.filter(_attribute_q(RUN_ATTRIBUTES, c, "runs"))
    return queryset


def experiments_filter(queryset, comparisons: list[Comparison]):
    for c in comparisons:
        if c.entity == "tag":
            queryset = queryset.filter(_key_value_q(ExperimentTag, "experiment", "pk", c))
        elif c.entity == "attribute":
            queryset = queryset.filter(_attribute_q(EXPERIMENT_ATTRIBUTES, c, "experiments"))
        else:
            raise InvalidParameter(f"Invalid filter on {c.entity}s: experiments can be filtered by attributes and tags.")
    return queryset


def logged_models_filter(queryset, comparisons: list[Comparison]):
    for c in comparisons:
        if c.entity == "metric":
            rows = Metric.objects.filter(model_id=OuterRef("model_id"), key=c.key)
            queryset = queryset.filter(Exists(rows.filter(numeric_q("value", c.op, c.value))))
        elif c.entity == "param":
            queryset = queryset.filter(_key_value_q(LoggedModelParam, "logged_model", "pk", c))
        elif c.entity == "tag":
            queryset = queryset.filter(_key_value_q(LoggedModelTag, "logged_model", "pk", c))
        elif c.entity == "attribute":
            queryset = queryset.filter(_attribute_q(LOGGED_MODEL_ATTRIBUTES, c, "logged models"))
        else:
            raise InvalidParameter(f"Invalid filter on {c.entity}s for logged models.")
    return queryset


# ---- pagination -------------------------------------------------------------------------------------------

def paginate(queryset, *, max_results: int, page_token) -> tuple[list, str | None]:
    return keyset_page(queryset, size=max_results, token=page_token)
