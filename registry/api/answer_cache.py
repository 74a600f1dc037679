"""Answers of the reads that clients repeat (MLflow: a version by alias, a version, a model, the searches; Unity
Catalog: a model, a version, a version by alias), kept per process and reused while nothing they depend on has
changed.

An answer is the JSON a principal got for one request (its user, path and query string). It is reused only while the
`answers` change counter (registry.change_counter_triggers) has the value it had before the answer was computed;
triggers change that counter in the same transaction as any write to what these answers read: catalogs, schemas,
models, versions, aliases, tags, grants, users and groups, runs, experiments and logged models. So a write, a
dropped grant or a moved alias is seen by the next request exactly as without the cache.

An answer is kept only when every table its computation read is one of those (checked on each computation, from
the SQL it ran): a read that reaches further (a deleted copy source's jobs, say) is answered afresh every time,
and a future change that reads a new table cannot make a stale answer. Only 200 answers are kept, within a byte
budget (ANSWER_CACHE_MB, 0: off)."""
from __future__ import annotations

import functools
import re

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.http import HttpResponse
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from registry import change_counter
from registry.change_counter_triggers import watched

COUNTER = "answers"
MAX_ANSWER_BYTES = 1024 * 1024  # larger answers (long searches) are computed each time
_TABLE = re.compile(r'\b(?:FROM|JOIN)\s+"?([A-Za-z_][A-Za-z0-9_]*)"?', re.IGNORECASE)
_renderer = JSONRenderer()


@functools.cache  # fixed per process: the watched tables are code, the user table a setting
def answer_tables() -> frozenset[str]:
    """The tables an answer may read and still be kept: those whose writes change the `answers` counter."""
    tables = watched(get_user_model()._meta.db_table, (COUNTER,))
    return frozenset(tables) | {"registry_changecounter"}


_cache: change_counter.StampedLRU[bytes] | None = None


def _the_cache() -> change_counter.StampedLRU[bytes] | None:
    """key -> (counter value, JSON bytes), within the byte budget."""
    global _cache
    budget = int(settings.ANSWER_CACHE_MB * 1024 * 1024)
    if budget <= 0:
        return None
    if _cache is None or _cache.budget != budget:
        _cache = change_counter.StampedLRU(budget, weigh=len)
    return _cache


def clear() -> None:
    if _cache is not None:
        _cache.clear()


def _json(body: bytes) -> HttpResponse:
    return HttpResponse(body, content_type="application/json")


def cached_answer(handler):
    """Decorate a read handler (`get`) of an API view: its 200 answers to GET are reused as this module says."""

    @functools.wraps(handler)
    def answer(self, request, *args, **kwargs):
        cache = _the_cache() if request.method == "GET" else None  # a POST's body is not in the key
        stamp = change_counter.take_recent(COUNTER) if cache is not None else None
        if stamp is None:
            return handler(self, request, *args, **kwargs)
        # Host and user agent too, though no answer depends on them today: a key that holds more only splits entries.
        key = (request.user.pk, request.get_full_path(), request.META.get("HTTP_HOST", ""),
               request.META.get("HTTP_USER_AGENT", ""))
        body = cache.get(key, stamp)
        if body is not None:
            return _json(body)
        read: set[str] = set()

        def note_tables(execute, sql, params, many, context):
            read.update(name.lower() for name in _TABLE.findall(sql))
            return execute(sql, params, many, context)

        with connection.execute_wrapper(note_tables):
            response = handler(self, request, *args, **kwargs)
        if response.status_code != 200 or not isinstance(response, Response) or not read <= answer_tables():
            return response
        body = _renderer.render(response.data)
        if len(body) <= MAX_ANSWER_BYTES:
            cache.put(key, stamp, body)
        return _json(body)

    return answer
