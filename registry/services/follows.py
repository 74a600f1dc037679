"""Follows: a user who may read a model (or a schema) chooses events of it to be emailed about. Following a schema
covers every model in it, each email only about a model the follower may read (registry/events/emails.py)."""
from __future__ import annotations

from registry import audit
from registry.errors import InvalidParameter
from registry.events import names
from registry.models import Follow
from registry.selectors import model_get, schema_get
from registry.services.core import require_authenticated, service

# What a new follow of a model chooses when the user does not say: what people follow a model for.
DEFAULT_EVENTS = ("model_version.created", "model_version.ready", "model_version.failed_registration",
                  "model_version_alias.created", "comment.created")


def _events(value) -> list[str]:
    valid = names.followable()
    if not isinstance(value, (list, tuple)) or not value:
        raise InvalidParameter("Choose at least one event to follow (or unfollow).")
    bad = [e for e in value if not isinstance(e, str) or e not in valid]
    if bad:
        raise InvalidParameter(f"Invalid event {bad[0]!r}. Valid events are: {', '.join(valid)}.")
    return list(dict.fromkeys(value))


def _target(actor, name: str | None, schema: str | None) -> dict:
    if (name is None) == (schema is None):
        raise InvalidParameter("Follow either a model (name) or a schema (schema), not both.")
    if name is not None:
        return {"model": model_get(actor=actor, name=name)}
    return {"schema": schema_get(actor=actor, full_name=schema)}


def follow_get(*, actor, model=None, schema=None) -> Follow | None:
    """`actor`'s follow of a model or schema they have already loaded (None if they do not follow it)."""
    if not getattr(actor, "is_authenticated", False):
        return None
    return Follow.objects.filter(user=actor, model=model, schema=schema).first()


@service("follow.set")
def follow_set(*, actor, name: str | None = None, schema: str | None = None, events: list | None = None) -> Follow:
    require_authenticated(actor)
    target = _target(actor, name, schema)
    chosen = _events(list(DEFAULT_EVENTS) if events is None else events)
    if "schema" in target and "registered_model.created" not in chosen and events is None:
        chosen.insert(0, "registered_model.created")
    follow, created = Follow.objects.update_or_create(user=actor, **target, defaults={"events": chosen})
    audit.record(actor=actor, action="follow.set", obj=follow,
                 params={"target": (target.get("model") or target.get("schema")).full_name, "events": chosen,
                         "created": created})
    return follow


@service("follow.delete")
def follow_delete(*, actor, name: str | None = None, schema: str | None = None) -> None:
    require_authenticated(actor)
    target = _target(actor, name, schema)
    deleted, _ = Follow.objects.filter(user=actor, **target).delete()
    audit.record(actor=actor, action="follow.delete", obj=target.get("model") or target.get("schema"),
                 params={"deleted": bool(deleted)})
