"""MLflow's search grammar for experiments, runs and logged models, translated to SQL (Django Q objects).

`metrics.acc > 0.9 AND params.C = '1.0' AND tags.`team name` LIKE 'ml%' AND attributes.status = 'FINISHED'`:
comparisons joined by AND; `=`, `!=`, `<`, `>`, `<=`, `>=`, LIKE, ILIKE, IN, NOT IN, IS [NOT] NULL. Metrics compare
a run's latest value. Also parses order_by clauses and the opaque offset page tokens."""
from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass

from django.db.models import Exists, F, OuterRef, Q, Subquery

from registry.errors import InvalidParameter
from registry.models import ExperimentTag, LoggedModelParam, LoggedModelTag, Metric, Param, RunInput, RunTag

MAX_FILTER_LENGTH = 10_000

_ENTITY = {
    "metric": "metric", "metrics": "metric",
    "param": "param", "params": "param", "parameter": "param", "parameters": "param",
    "tag": "tag", "tags": "tag",
    "attribute": "attribute", "attributes": "attribute", "attr": "attribute", "run": "attribute",
    "dataset": "dataset", "datasets": "dataset",
}
_KEYWORDS = {"AND", "OR", "IN", "NOT", "IS", "NULL", "LIKE", "ILIKE", "ASC", "DESC"}
_TOKEN = re.compile(
    r"""\s*(?:
      (?P<string>'(?:[^'\\]|\\.|'')*')
    | (?P<ident>[A-Za-z_][\w]*(?:\.(?:`[^`]*`|"[^"]*"|[\w.\-/:]+))?)
    | (?P<quoted>"[^"]*"|`[^`]*`)
    | (?P<number>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)
    | (?P<op><=|>=|!=|<>|=|<|>)
    | (?P<punct>[(),])
    )""",
    re.VERBOSE,
)


@dataclass(frozen=True)
class Comparison:
    kind: str  # metric | param | tag | attribute | dataset
    key: str
    op: str
    value: object  # str, float, list[str] or None


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if not match or match.end() == pos:
            raise InvalidParameter(f"Error on parsing filter '{text}': unexpected text at position {pos}.")
        kind = match.lastgroup
        value = match.group(kind)
        if kind == "ident" and "." not in value and value.upper() in _KEYWORDS:
            kind, value = "keyword", value.upper()
        tokens.append((kind, value))
        pos = match.end()
    return tokens


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "`\"'":
        inner = text[1:-1]
        if text[0] == "'":
            inner = re.sub(r"\\(.)", r"\1", inner.replace("''", "'"))
        return inner
    return text


def _identifier(token: tuple[str, str]) -> tuple[str, str]:
    kind, text = token
    if kind == "quoted":
        return "attribute", _unquote(text)
    if kind != "ident":
        raise InvalidParameter(f"Invalid identifier {text!r}: expected e.g. metrics.acc, params.C, tags.team.")
    if "." not in text:
        return "attribute", text
    prefix, _, key = text.partition(".")
    entity = _ENTITY.get(prefix.lower())
    if entity is None:
        raise InvalidParameter(f"Invalid entity type '{prefix}'. Valid values are metrics, params, tags, "
                               "attributes, datasets.")
    key = _unquote(key)
    if not key:
        raise InvalidParameter(f"Invalid identifier {text!r}: the key is empty.")
    return entity, key


def parse_filter(text) -> list[Comparison]:
    """The comparisons of a filter string (an empty filter has none)."""
    if text is None or text == "":
        return []
    if not isinstance(text, str):
        raise InvalidParameter("filter must be a string.")
    if len(text) > MAX_FILTER_LENGTH:
        raise InvalidParameter(f"filter must be at most {MAX_FILTER_LENGTH} characters.")
    tokens = _tokenize(text)
    out, i = [], 0

    def take(expected_kind=None):
        nonlocal i
        if i >= len(tokens):
            raise InvalidParameter(f"Error on parsing filter '{text}': unexpected end of filter.")
        token = tokens[i]
        if expected_kind and token[0] != expected_kind:
            raise InvalidParameter(f"Error on parsing filter '{text}': unexpected {token[1]!r}.")
        i += 1
        return token

    while True:
        entity, key = _identifier(take())
        kind, word = take()
        if kind == "op":
            op = "!=" if word == "<>" else word
            value = _scalar(take(), text)
        elif kind == "keyword" and word in ("LIKE", "ILIKE"):
            op, value = word, _scalar(take(), text)
        elif kind == "keyword" and word == "IS":
            nxt = take("keyword")[1]
            if nxt == "NOT":
                nxt, op = take("keyword")[1], "IS NOT NULL"
            else:
                op = "IS NULL"
            if nxt != "NULL":
                raise InvalidParameter(f"Error on parsing filter '{text}': expected NULL after IS.")
            value = None
        elif kind == "keyword" and word in ("IN", "NOT"):
            op = "IN"
            if word == "NOT":
                if take("keyword")[1] != "IN":
                    raise InvalidParameter(f"Error on parsing filter '{text}': expected IN after NOT.")
                op = "NOT IN"
            value = _value_list(take, text)
        else:
            raise InvalidParameter(f"Error on parsing filter '{text}': expected a comparison operator, got {word!r}.")
        out.append(Comparison(entity, key, op, value))
        if i >= len(tokens):
            return out
        kind, word = take()
        if kind == "keyword" and word == "OR":
            raise InvalidParameter("Invalid filter: OR is not supported; combine comparisons with AND.")
        if kind != "keyword" or word != "AND":
            raise InvalidParameter(f"Error on parsing filter '{text}': expected AND, got {word!r}.")


def _scalar(token, text):
    kind, value = token
    if kind == "number":
        return float(value)
    if kind == "string" or kind == "quoted":
        return _unquote(value)
    raise InvalidParameter(f"Error on parsing filter '{text}': expected a value, got {value!r}.")


def _value_list(take, text) -> list[str]:
    take("punct")
    values = []
    while True:
        kind, value = take()
        if kind not in ("string", "quoted", "number"):
            raise InvalidParameter(f"Error on parsing filter '{text}': expected a quoted value in the IN list.")
        values.append(_unquote(value))
        kind, value = take("punct")
        if value == ")":
            return values
        if value != ",":
            raise InvalidParameter(f"Error on parsing filter '{text}': expected ',' or ')' in the IN list.")


def parse_order_by(clause) -> tuple[str, str, bool]:
    """`metrics.acc DESC` -> ("metric", "acc", False)."""
    if not isinstance(clause, str) or not clause.strip():
        raise InvalidParameter(f"Invalid order_by clause {clause!r}.")
    tokens = _tokenize(clause)
    ascending = True
    if len(tokens) == 2 and tokens[1][0] == "keyword" and tokens[1][1] in ("ASC", "DESC"):
        ascending = tokens[1][1] == "ASC"
        tokens = tokens[:1]
    if len(tokens) != 1:
        raise InvalidParameter(f"Invalid order_by clause '{clause}'.")
    entity, key = _identifier(tokens[0])
    return entity, key, ascending


# ---- translation to SQL ----------------------------------------------------------------------------------

_NUMERIC_OPS = {"=": "exact", "<": "lt", ">": "gt", "<=": "lte", ">=": "gte"}


def like_regex(pattern: str) -> str:
    out = []
    for ch in pattern:
        out.append(".*" if ch == "%" else "." if ch == "_" else re.escape(ch))
    return "^" + "".join(out) + "$"


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
    if op == "LIKE":
        return Q(**{f"{field}__regex": like_regex(value)})
    if op == "ILIKE":
        return Q(**{f"{field}__iregex": like_regex(value)})
    raise InvalidParameter(f"Invalid comparator '{op}' for a string value.")


def numeric_q(field: str, op: str, value) -> Q:
    if isinstance(value, str):
        try:
            value = float(value)
        except ValueError:
            pass
    if not isinstance(value, float):
        raise InvalidParameter(f"Expected a numeric value for '{field}', got {value!r}.")
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
        raise InvalidParameter(f"Invalid comparison for {c.kind} '{c.key}': use =, !=, LIKE or ILIKE with a quoted "
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
    if numeric:
        return numeric_q(field, c.op, c.value)
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
        if c.kind == "metric":
            alias = f"_filter_metric_{n}"
            queryset = queryset.annotate(**{alias: latest_metric(c.key)}).filter(
                Q(**{f"{alias}__isnull": False}) & numeric_q(alias, c.op, c.value))
        elif c.kind == "param":
            queryset = queryset.filter(_key_value_q(Param, "run", "pk", c))
        elif c.kind == "tag":
            queryset = queryset.filter(_key_value_q(RunTag, "run", "pk", c))
        elif c.kind == "dataset":
            if c.key not in ("name", "digest"):
                raise InvalidParameter(f"Invalid dataset key '{c.key}': use dataset.name or dataset.digest.")
            inputs = RunInput.objects.filter(run=OuterRef("pk")).filter(string_q(f"dataset__{c.key}", c.op, c.value))
            queryset = queryset.filter(Exists(inputs))
        else:
            queryset = queryset.filter(_attribute_q(RUN_ATTRIBUTES, c, "runs"))
    return queryset


def experiments_filter(queryset, comparisons: list[Comparison]):
    for c in comparisons:
        if c.kind == "tag":
            queryset = queryset.filter(_key_value_q(ExperimentTag, "experiment", "pk", c))
        elif c.kind == "attribute":
            queryset = queryset.filter(_attribute_q(EXPERIMENT_ATTRIBUTES, c, "experiments"))
        else:
            raise InvalidParameter(f"Invalid filter on {c.kind}s: experiments can be filtered by attributes and tags.")
    return queryset


def logged_models_filter(queryset, comparisons: list[Comparison]):
    for c in comparisons:
        if c.kind == "metric":
            rows = Metric.objects.filter(model_id=OuterRef("model_id"), key=c.key)
            queryset = queryset.filter(Exists(rows.filter(numeric_q("value", c.op, c.value))))
        elif c.kind == "param":
            queryset = queryset.filter(_key_value_q(LoggedModelParam, "logged_model", "pk", c))
        elif c.kind == "tag":
            queryset = queryset.filter(_key_value_q(LoggedModelTag, "logged_model", "pk", c))
        elif c.kind == "attribute":
            queryset = queryset.filter(_attribute_q(LOGGED_MODEL_ATTRIBUTES, c, "logged models"))
        else:
            raise InvalidParameter(f"Invalid filter on {c.kind}s for logged models.")
    return queryset


# ---- pagination -------------------------------------------------------------------------------------------

def encode_page_token(offset: int) -> str:
    return base64.urlsafe_b64encode(json.dumps({"offset": offset}).encode()).decode()


def decode_page_token(token) -> int:
    if token in (None, ""):
        return 0
    if not isinstance(token, str) or len(token) > 200:
        raise InvalidParameter("Invalid page token.")
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        offset = data["offset"]
    except (binascii.Error, ValueError, TypeError, KeyError, UnicodeDecodeError):
        raise InvalidParameter(f"Invalid page token '{token[:100]}'.") from None
    if not isinstance(offset, int) or isinstance(offset, bool) or offset < 0 or offset > 10**12:
        raise InvalidParameter("Invalid page token: bad offset.")
    return offset


def paginate(queryset, *, max_results: int, page_token) -> tuple[list, str | None]:
    offset = decode_page_token(page_token)
    rows = list(queryset[offset:offset + max_results + 1])
    if len(rows) > max_results:
        return rows[:max_results], encode_page_token(offset + max_results)
    return rows, None
