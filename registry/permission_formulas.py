"""Boolean formulas over the conditions a permission rule is made of (ownership, a grant at some level of the
securable's chain, a plain condition on its row), kept small: `registry.permissions` writes its rules as formulas,
compiles them to SQL, and evaluates them over the values of their atoms. Pure data, no database access."""
from __future__ import annotations

from dataclasses import dataclass

# Normalising a formula writes each condition once and merges grants held at the same level into one (EXISTS
# p in A or EXISTS p in B is EXISTS p in A | B), which keeps the SQL, and the Python that builds it, small. The
# formulas only use AND and OR (no NOT), so an atom that is NULL in SQL (an outer join to a missing parent)
# decides exactly as if it were false.


@dataclass(frozen=True)
class OwnerAt:
    """The actor (or one of its groups) owns the securable reached by `path` ("" is the row itself)."""
    path: str


@dataclass(frozen=True)
class GrantAt:
    """The actor (directly or through a group) holds one of `privileges` (None: any) on the `level` securable
    reached by `path`."""
    level: str
    path: str
    privileges: frozenset | None


@dataclass(frozen=True)
class Where:
    """A plain condition on the row (compared by identity: each is a module constant)."""
    rule: object  # a registry.permissions.Condition


@dataclass(frozen=True)
class And:
    items: tuple


@dataclass(frozen=True)
class Or:
    items: tuple


def any_of(items) -> object:
    """OR of `items`: flattened, duplicates dropped, grants at the same level merged into one."""
    flat = []
    for item in items:
        flat.extend(item.items if isinstance(item, Or) else [item])
    merged: dict = {}
    for item in flat:
        if isinstance(item, GrantAt):
            key = ("grant", item.level, item.path)
            if key in merged:
                held = merged[key].privileges
                union = None if held is None or item.privileges is None else held | item.privileges
                merged[key] = GrantAt(item.level, item.path, union)
                continue
            merged[key] = item
        else:
            merged.setdefault(item, item)
    out = tuple(merged.values())
    return out[0] if len(out) == 1 else Or(out)


def all_of(items) -> object:
    """AND of `items`: flattened, duplicates dropped."""
    flat = []
    for item in items:
        flat.extend(item.items if isinstance(item, And) else [item])
    out = tuple(dict.fromkeys(flat))
    return out[0] if len(out) == 1 else And(out)


def atoms(formula) -> list:
    """The formula's atoms, in order (with repeats)."""
    if isinstance(formula, (And, Or)):
        return [atom for item in formula.items for atom in atoms(item)]
    return [formula]


def evaluate(formula, values: dict) -> bool:
    """The formula's truth, given the truth of each of its atoms."""
    if isinstance(formula, And):
        return all(evaluate(item, values) for item in formula.items)
    if isinstance(formula, Or):
        return any(evaluate(item, values) for item in formula.items)
    return values[formula]
