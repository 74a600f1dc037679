"""Who may hear an event, known per process: which events registry-wide webhooks hear, and which each model's webhooks
and each model's and schema's follows hear. `emit` asks it first, so a write nobody listens to (most of them) skips
the webhook and follower lookups, two queries with joins, for a read of the counters' row.

The index is rebuilt whenever the `listeners` change counter moves (registry.change_counter: triggers bump it with
every write to webhooks and follows), so it is never behind a committed change. It over-approximates on purpose
(paused webhooks, inactive followers are in it): a "may hear" only means the exact lookups run, as they always did."""
from __future__ import annotations

from dataclasses import dataclass

from registry.change_counter import CountedCache
from registry.models import Follow, RegisteredModel, Webhook


@dataclass(frozen=True)
class _Index:
    registry_wide: frozenset[str]  # events some registry-wide webhook hears
    by_model: dict[int, frozenset[str]]  # model pk -> events that model's webhooks or follows hear
    by_schema: dict[int, frozenset[str]]  # schema pk -> events that schema's follows hear


_INDEX: CountedCache[_Index] = CountedCache(size=1, counter="listeners")


def _events(value) -> set[str]:
    return {event for event in value if isinstance(event, str)} if isinstance(value, list) else set()


def _build() -> _Index:
    registry_wide: set[str] = set()
    by_model: dict[int, set[str]] = {}
    by_schema: dict[int, set[str]] = {}
    for model_id, events in Webhook.objects.order_by().values_list("model_id", "events"):
        (registry_wide if model_id is None else by_model.setdefault(model_id, set())).update(_events(events))
    for model_id, schema_id, events in Follow.objects.order_by().values_list("model_id", "schema_id", "events"):
        target = by_model.setdefault(model_id, set()) if model_id is not None else by_schema.setdefault(schema_id, set())
        target.update(_events(events))
    return _Index(frozenset(registry_wide), {k: frozenset(v) for k, v in by_model.items()},
                  {k: frozenset(v) for k, v in by_schema.items()})


def may_hear(event: str, model: RegisteredModel | None) -> bool:
    """False only when no webhook and no follow can hear `event` about `model` (None: a registry-wide event)."""
    index = _INDEX.get_or_compute("index", _build)
    if event in index.registry_wide:
        return True
    if model is None:
        return False
    return (event in index.by_model.get(model.pk, ())
            or (model.schema_id is not None and event in index.by_schema.get(model.schema_id, ())))
