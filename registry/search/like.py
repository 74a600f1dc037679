"""SQL LIKE / ILIKE with MLflow's meaning on every database: `%` is any run, `_` any one character, a
backslash escapes the next character, and LIKE is case-sensitive (SQLite's LIKE is not, so there it
becomes GLOB with the pattern translated)."""
from __future__ import annotations

import re

from django.db.models import Lookup, Value

from registry.errors import InvalidParameter

MAX_PATTERN_LENGTH = 1_000


def validate_pattern(pattern: str) -> str:
    if len(pattern) > MAX_PATTERN_LENGTH:
        raise InvalidParameter(f"Invalid filter: a LIKE pattern must be at most {MAX_PATTERN_LENGTH} characters.")
    trailing = len(pattern) - len(pattern.rstrip("\\"))
    if trailing % 2:
        raise InvalidParameter(f"Invalid filter: the LIKE pattern {pattern[:100]!r} ends with a lone escape character '\\'.")
    return pattern


def _pieces(pattern: str):
    """(kind, char) for each element of a LIKE pattern: ("any", "%"), ("one", "_") or ("lit", c)."""
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\" and i + 1 < len(pattern):
            yield "lit", pattern[i + 1]
            i += 2
            continue
        yield ("any" if ch == "%" else "one" if ch == "_" else "lit"), ch
        i += 1


def to_glob(pattern: str) -> str:
    out = []
    for kind, ch in _pieces(pattern):
        if kind == "any":
            out.append("*")
        elif kind == "one":
            out.append("?")
        elif ch in "*?[":
            out.append(f"[{ch}]")
        else:
            out.append(ch)
    return "".join(out)


def to_regex(pattern: str) -> str:
    out = []
    for kind, ch in _pieces(pattern):
        out.append(".*" if kind == "any" else "." if kind == "one" else re.escape(ch))
    return "(?s)^" + "".join(out) + "$"


def like_literal(value: str) -> str:
    """`value` as a LIKE pattern matching exactly itself."""
    return value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


class Like(Lookup):
    """`Like(F("field"), "pat%")` usable directly in filter() and Q(); ILike is the case-insensitive form."""

    lookup_name = "mlflow_like"
    case_insensitive = False
    prepare_rhs = False

    def __init__(self, lhs, rhs):
        super().__init__(lhs, Value(validate_pattern(rhs)))
        self.pattern = rhs

    def as_sql(self, compiler, connection):
        lhs_sql, lhs_params = compiler.compile(self.lhs)
        if connection.vendor == "sqlite":
            if self.case_insensitive:
                return f"{lhs_sql} LIKE %s ESCAPE '\\'", (*lhs_params, self.pattern)
            return f"{lhs_sql} GLOB %s", (*lhs_params, to_glob(self.pattern))
        if connection.vendor == "postgresql":
            op = "ILIKE" if self.case_insensitive else "LIKE"
            return f"{lhs_sql} {op} %s ESCAPE '\\'", (*lhs_params, self.pattern)
        regex = to_regex(self.pattern)
        if self.case_insensitive:
            regex = "(?i)" + regex
        return f"{lhs_sql} REGEXP %s", (*lhs_params, regex)


class ILike(Like):
    lookup_name = "mlflow_ilike"
    case_insensitive = True
