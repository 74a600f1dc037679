"""Opaque page tokens and the paging every list shares.

A token is base64 of JSON. `keyset_page` hands out {"offset": n, "after": [...], "order": "..."}: the sort keys
of the last row returned, so the next page starts after that row whatever was inserted or deleted meanwhile (an
object that exists for the whole iteration is returned exactly once). `offset` is only informational (the
browser's "previous page" link); a token holding an offset alone, the form MLflow's own server hands out, still
pages by offset."""
from __future__ import annotations

import base64
import binascii
import hashlib
import json
import uuid
from datetime import date, datetime

from django.core.exceptions import ValidationError
from django.db.models import F, Q, QuerySet
from django.db.models.expressions import OrderBy

from registry.errors import InvalidParameter

MAX_OFFSET = 2**31 - 1
# A token holds the sort keys of a row: up to ten of them, a tag or param value among them (8,000 characters).
MAX_TOKEN = 200_000
_BAD_TOKEN = "Invalid page token: it must be a token returned by a previous search."


def encode_page_token(offset: int, *, after: list | None = None, order: str | None = None) -> str:
    document: dict = {"offset": offset}
    if after is not None:
        document.update(after=after, order=order)
    return base64.b64encode(json.dumps(document).encode("utf-8")).decode("ascii")


def _decode(token) -> dict | None:
    if token is None or token == "":
        return None
    if not isinstance(token, str) or len(token) > MAX_TOKEN:
        raise InvalidParameter(_BAD_TOKEN)
    try:
        document = json.loads(base64.b64decode(token.encode("ascii"), validate=True))
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidParameter("Invalid page token, could not decode it: use the next_page_token of a previous "
                               "search.") from None
    offset = document.get("offset") if isinstance(document, dict) else None
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise InvalidParameter("Invalid page token: it holds no valid offset.")
    return document


def decode_page_token(token) -> int:
    """The offset a token stands for; a missing or empty token is the first page."""
    document = _decode(token)
    return document["offset"] if document else 0


def _order_of(queryset: QuerySet) -> list[OrderBy]:
    """The queryset's ORDER BY as expressions, ending with the primary key so that every row has its own
    place. NULLs sort last unless the order says first, on every database alike (the "after" condition relies
    on knowing where they are)."""
    result = []
    for item in queryset.query.order_by or queryset.model._meta.ordering:
        if isinstance(item, str):
            if item == "?":
                continue
            item = F(item[1:]).desc() if item.startswith("-") else F(item).asc()
        elif not isinstance(item, OrderBy):
            item = OrderBy(item)
        first = bool(item.nulls_first)
        result.append(OrderBy(item.expression, descending=item.descending, nulls_first=first or None,
                              nulls_last=not first or None))
    if not any(isinstance(o.expression, F) and o.expression.name in ("pk", "id") for o in result):
        result.append(OrderBy(F("pk"), nulls_last=True))
    return result


def _to_json(value):
    if isinstance(value, datetime):
        return {"t": value.isoformat()}
    if isinstance(value, date):
        return {"d": value.isoformat()}
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def _from_json(value):
    try:
        if isinstance(value, dict) and isinstance(value.get("t"), str):
            return datetime.fromisoformat(value["t"])
        if isinstance(value, dict) and isinstance(value.get("d"), str):
            return date.fromisoformat(value["d"])
    except ValueError:
        raise InvalidParameter(_BAD_TOKEN) from None
    if isinstance(value, (dict, list)):
        raise InvalidParameter(_BAD_TOKEN)
    return value


def _after_q(order: list[OrderBy], names: list[str], values: list) -> Q:
    """Rows strictly after the row whose sort keys are `values`, in `order`."""
    result = Q(pk__in=[])
    equal = Q()
    for o, name, value in zip(order, names, values):
        if value is not None:
            beyond = Q(**{f"{name}__{'lt' if o.descending else 'gt'}": value})
            if not o.nulls_first:
                beyond |= Q(**{f"{name}__isnull": True})
            result |= equal & beyond
            equal &= Q(**{name: value})
        else:
            if o.nulls_first:
                result |= equal & Q(**{f"{name}__isnull": False})
            equal &= Q(**{f"{name}__isnull": True})
    return result


def keyset_page(queryset: QuerySet, *, size: int, token) -> tuple[list, str | None]:
    """One page of `size` rows of the ordered `queryset` after `token` (None or "": the first page), and the
    token of the next page (None on the last one)."""
    order = _order_of(queryset)
    names = [f"_page_key_{i}" for i in range(len(order))]
    fingerprint = hashlib.sha256(repr([str(o) for o in order]).encode()).hexdigest()[:16]
    keyed = queryset.annotate(**dict(zip(names, (o.expression for o in order)))).order_by(
        *(OrderBy(F(n), descending=o.descending, nulls_first=o.nulls_first, nulls_last=o.nulls_last)
          for n, o in zip(names, order)))
    document = _decode(token)
    offset = 0
    if document is not None:
        offset = document["offset"]
        after = document.get("after")
        if after is None:
            keyed = keyed[offset:]  # an offset token (MLflow's form, the browser's links)
        else:
            if document.get("order") != fingerprint or not isinstance(after, list) or len(after) != len(order):
                raise InvalidParameter("Invalid page token: it belongs to a search with another order.")
            try:
                keyed = keyed.filter(_after_q(order, names, [_from_json(v) for v in after]))
            except (TypeError, ValueError, ValidationError):  # a key of the wrong type in a hand-made token
                raise InvalidParameter(_BAD_TOKEN) from None
    rows = list(keyed[:size + 1])
    if len(rows) <= size:
        return rows, None
    rows = rows[:size]
    last = [_to_json(getattr(rows[-1], n)) for n in names]
    return rows, encode_page_token(min(offset + size, MAX_OFFSET), after=last, order=fingerprint)


def list_page(items: list, *, key, size: int | None, token) -> tuple[list, str | None]:
    """`keyset_page` for a list computed in Python and sorted by `key` (a unique string per item): the items
    after the token's key, at most `size` of them (None: all)."""
    document = _decode(token)
    after = document.get("after") if document else None
    if document is not None:
        if document.get("order") != "list" or not (isinstance(after, list) and len(after) == 1
                                                    and isinstance(after[0], str)):
            raise InvalidParameter(_BAD_TOKEN)
        items = [item for item in items if key(item) > after[0]]
    if size is None or len(items) <= size:
        return items, None
    offset = document["offset"] if document else 0
    return items[:size], encode_page_token(min(offset + size, MAX_OFFSET), after=[key(items[size - 1])],
                                           order="list")
