"""Writing audit events. Successful changes are recorded by the service inside its transaction; refused and
failed attempts are recorded by `service` after the transaction rolled back, so they are never lost."""
from __future__ import annotations

import math

from django.db.models import Model

from registry.models import AuditEvent
from registry.request_context import current_client_address, current_via

_MAX_PARAM_CHARS = 500


def _describe(obj) -> tuple[str, str, str]:
    if obj is None:
        return "", "", ""
    if isinstance(obj, Model):
        name = getattr(obj, "full_name", None) or str(obj)
        return obj._meta.model_name, str(obj.pk), name[:800]
    return type(obj).__name__.lower(), "", str(obj)[:800]


def clean_parameters(params: dict) -> dict:
    """JSON-safe, bounded copies of service arguments (never secrets: callers leave those out)."""
    out = {}
    for key, value in params.items():
        if isinstance(value, Model):
            value = getattr(value, "full_name", None) or str(value)
        elif isinstance(value, (list, tuple)):
            value = [str(v)[:_MAX_PARAM_CHARS] for v in value[:50]]
        elif isinstance(value, dict):
            value = {str(k)[:100]: str(v)[:_MAX_PARAM_CHARS] for k, v in list(value.items())[:50]}
        elif not isinstance(value, (str, int, float, bool, type(None))):
            value = str(value)
        if isinstance(value, str) and len(value) > _MAX_PARAM_CHARS:
            value = value[:_MAX_PARAM_CHARS] + "…"
        out[key] = value
    return out


def _storable(value):
    """`value` with every string made writable to any database and to JSON: PostgreSQL text and jsonb hold no
    NUL, and a lone surrogate cannot be encoded at all. A refused request whose input held either (and the
    refusal message quoting it) must still be audited, so they are escaped rather than refused here. Non-finite
    numbers, which JSON (and so jsonb) has no spelling for, are written as text."""
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, str):
        value = value.replace("\x00", "\\x00")
        if not value.isascii():
            value = value.encode("utf-8", "backslashreplace").decode("utf-8")
        return value
    if isinstance(value, list):
        return [_storable(v) for v in value]
    if isinstance(value, dict):
        return {_storable(k): _storable(v) for k, v in value.items()}
    return value


def record(*, actor, action: str, obj=None, params: dict | None = None, outcome: str = AuditEvent.Outcome.SUCCESS,
           message: str = "", object_name: str = "") -> AuditEvent:
    object_type, object_id, name = _describe(obj)
    authenticated = actor is not None and getattr(actor, "is_authenticated", False)
    return AuditEvent.objects.create(
        actor=actor if authenticated else None,
        actor_name=_storable(actor.get_username() if authenticated else ("system" if actor is None else "anonymous")),
        action=action,
        object_type=_storable(object_type),
        object_id=_storable(object_id),
        object_name=_storable(object_name or name),
        parameters=_storable(clean_parameters(params or {})),
        outcome=outcome,
        message=_storable(message[:2000]),
        client_address=current_client_address(),
        via=current_via() or "command",
    )
