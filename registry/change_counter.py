"""Per-process caches that stay exact: an entry is used only while a counter of the database's change-counter row
still has the value it had when the entry was computed.

Triggers (migrations 0019, 0021 and 0022, registry.change_counter_triggers) change each counter in the same transaction as
every write to the tables it watches: `value` what a token's owner and an invocation's target depend on (catalogs,
schemas, models, versions, aliases, grants, users and groups, tokens, served models and deployments), `tokens` what
a token's validity depends on (tokens and users), `answers` what an MLflow read answer depends on
(registry.api.answer_cache), `listeners` who may hear an event (webhooks and follows,
registry.events.listener_index). A reader that sees a new counter value sees the write too, so a revoked token, a moved
alias or a dropped grant takes effect on the next request, as without the cache. A value is never reused (a
sequence on PostgreSQL, random() on SQLite), so a rolled-back write cannot bring back an entry computed while it was
visible. A deleted row is put back with fresh values; on a database without the triggers (neither SQLite nor
PostgreSQL) nothing is cached.

What it saves: an invocation or a token-authenticated API call reads one row instead of compiling and running
the ORM queries that resolve the token, the model, the reference and the deployment."""
from __future__ import annotations

import logging
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from django.db import connection

T = TypeVar("T")
log = logging.getLogger(__name__)


_SELECT = "SELECT {} FROM registry_changecounter WHERE id = 1"
_triggers_in_place: bool | None = None  # checked once per process (and again after a migrate)


def triggers_in_place() -> bool:
    """Whether every trigger of registry.change_counter_triggers is installed. Fewer (a restore that dropped them, a
    hand-made schema) and a cache could outlive a revocation, so then nothing is cached at all."""
    global _triggers_in_place
    if _triggers_in_place is None:
        from django.contrib.auth import get_user_model  # late: this module loads while the app registry does

        from registry.change_counter_triggers import expected_count

        queries = {"postgresql": "SELECT count(*) FROM pg_trigger WHERE tgname IN ('change_counter', "
                                 "'change_counter_truncate')",
                   "sqlite": "SELECT count(*) FROM sqlite_master WHERE type = 'trigger' "
                             "AND name LIKE 'change_counter_%'"}
        query = queries.get(connection.vendor)
        expected = expected_count(connection.vendor, get_user_model()._meta.db_table)
        if query is None:
            _triggers_in_place = False
        else:
            with connection.cursor() as cursor:
                cursor.execute(query)
                found = cursor.fetchone()[0]
            _triggers_in_place = found >= expected
            if not _triggers_in_place:
                log.warning("change counter: %s of %s triggers in place; token and invocation caches are off",
                            found, expected)
    return _triggers_in_place


def forget_trigger_check() -> None:
    global _triggers_in_place
    _triggers_in_place = None


def current(counter: str = "value") -> int | None:
    """The value of `counter` (registry.change_counter_triggers.COUNTERS) now, or None where there is none (nothing
    may then be cached). The whole row is read, and left for `take_recent` of this request."""
    row = _read_row()
    if row is None:
        return None
    _recent.row = row
    return row[counter]


def take_recent(counter: str) -> int | None:
    """The value of `counter` in the row the last `current()` of this request read, used once; else `current()`.

    For a read that follows token authentication in the same request (registry.api.answer_cache): it saves a
    query, and is exact as long as nothing was written between the two, as no read handler writes. The value is
    then the one of the moment the request was authenticated, so what it validates is what a request arriving at
    that moment would have been answered."""
    row = getattr(_recent, "row", None)
    _recent.row = None
    if row is None:
        return current(counter)
    return row[counter]


def forget_recent(**kwargs) -> None:
    """At the start and end of every request (registry.apps): a row read for one request never serves another."""
    _recent.row = None


_recent = threading.local()


def _read_row() -> dict | None:
    from registry.change_counter_triggers import COUNTERS

    if not triggers_in_place():
        return None
    select = _SELECT.format(", ".join(COUNTERS))
    with connection.cursor() as cursor:
        cursor.execute(select)
        row = cursor.fetchone()
        if row is None and connection.vendor in ("sqlite", "postgresql"):
            # The row was deleted (a test database flushed): SQLite's triggers only update it, so put it back with a
            # fresh value; an entry computed before cannot carry that value.
            ignore = "OR IGNORE" if connection.vendor == "sqlite" else ""
            conflict = "ON CONFLICT (id) DO NOTHING" if connection.vendor == "postgresql" else ""
            cursor.execute(f"INSERT {ignore} INTO registry_changecounter (id, {', '.join(COUNTERS)}) "
                           f"VALUES (1, {', '.join('%s' for _ in COUNTERS)}) {conflict}",
                           [secrets.randbits(62) for _ in COUNTERS])
            cursor.execute(select)
            row = cursor.fetchone()
    return None if row is None else dict(zip(COUNTERS, row))


class StampedLRU(Generic[T]):
    """key -> (stamp, value): a value is returned only for the stamp (a counter's value) it was stored with. Least
    recently used first out, within `budget` units of `weigh(value)` (1 each by default: an entry count). Shared by
    the threads of one process."""

    def __init__(self, budget: int, weigh: Callable[[T], int] = lambda value: 1):
        self.budget = budget
        self._weigh = weigh
        self._entries: OrderedDict[Hashable, tuple[int, T, int]] = OrderedDict()
        self._used = 0
        self._lock = threading.Lock()

    def get(self, key: Hashable, stamp: int) -> T | None:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or entry[0] != stamp:
                return None
            self._entries.move_to_end(key)
            return entry[1]

    def put(self, key: Hashable, stamp: int, value: T) -> None:
        weight = self._weigh(value)
        if weight > self.budget:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._used -= old[2]
            self._entries[key] = (stamp, value, weight)
            self._used += weight
            while self._used > self.budget:
                _, (_, _, dropped) = self._entries.popitem(last=False)
                self._used -= dropped

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._used = 0


class CountedCache(StampedLRU[T]):
    """At most `size` values, each valid for the value of `counter` it was computed under. A race between two
    misses only computes the same value twice."""

    def __init__(self, size: int = 4096, counter: str = "value"):
        super().__init__(size)
        self.counter = counter

    def get_or_compute(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The value for `key`: the cached one while the counter has not changed, else `compute()`. Nothing is cached
        when it raises or returns None (misses, e.g. unknown tokens, must not push out what is used)."""
        stamp = current(self.counter)
        if stamp is None:
            return compute()
        value = self.get(key, stamp)
        if value is not None:
            return value
        value = compute()
        if value is not None:
            self.put(key, stamp, value)
        return value
