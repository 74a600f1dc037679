"""What every service shares: one transaction, authorization that hides what may not be seen, and audit
of refused and failed attempts."""
from __future__ import annotations

import contextlib
import functools
import inspect
import threading

from django.db import transaction
from django.db.models import Model

from registry import audit, permissions
from registry.errors import InvalidParameter, PermissionDenied, RegistryError
from registry.models import AuditEvent
from registry.permissions import Action
from registry.selectors import NotVisible


def authorize(actor, action: Action, obj: Model, *, not_found_message: str) -> None:
    """Raise unless `actor` may do `action` on `obj`; someone who may not even see it gets NotFound."""
    decision = permissions.check(actor, action, obj)
    if decision:
        return
    if action != Action.READ and permissions.check(actor, Action.READ, obj):
        raise PermissionDenied(f"Permission denied: {decision.reason}.")
    raise NotVisible(not_found_message)


# Arguments a refused or failed call's audit event leaves out: who acts is recorded apart, and a secret never.
_NOT_AUDITED = frozenset({"actor", "secret"})


def service(action_name: str):
    """Run a service function in one transaction and audit its refusal or failure.

    The function itself records its success event (it knows the object it made). Side effects must be
    scheduled with transaction.on_commit inside it."""

    def decorate(fn):
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            actor = kwargs.get("actor")
            try:
                with transaction.atomic():
                    return fn(*args, **kwargs)
            except RegistryError as exc:
                if isinstance(exc, (PermissionDenied, NotVisible)):
                    outcome = AuditEvent.Outcome.DENIED
                else:
                    outcome = AuditEvent.Outcome.FAILED
                bound = signature.bind_partial(*args, **kwargs)
                params = {k: v for k, v in bound.arguments.items() if k not in _NOT_AUDITED}
                entry = dict(actor=actor, action=action_name, params=params, outcome=outcome, message=exc.message,
                             object_name=str(params.get("name") or params.get("full_name")
                                             or params.get("securable") or "")[:800])
                if _all_or_nothing.depth:
                    # An enclosing all_or_nothing() block may roll back: it records this when it ends.
                    _all_or_nothing.pending.append(entry)
                else:
                    audit.record(**entry)
                raise

        wrapper.action_name = action_name
        return wrapper

    return decorate


class _Block(threading.local):
    def __init__(self):
        self.depth = 0
        self.pending: list[dict] = []  # audit entries of refused or failed calls inside the block


_all_or_nothing = _Block()


@contextlib.contextmanager
def all_or_nothing():
    """Several service calls as one change: if any of them fails, all of them are rolled back, and the refusal
    or failure is still audited (after the rollback, which would otherwise take its audit event with it).

        with all_or_nothing():
            registered_model_update(...)
            owner_set(...)
    """
    _all_or_nothing.depth += 1
    try:
        with transaction.atomic():
            yield
    finally:
        _all_or_nothing.depth -= 1
        if _all_or_nothing.depth == 0:  # outermost block: committed or rolled back, so record now
            pending, _all_or_nothing.pending = _all_or_nothing.pending, []
            for entry in pending:
                audit.record(**entry)


def require_authenticated(actor) -> None:
    if actor is None or not getattr(actor, "is_authenticated", False) or not actor.is_active:
        raise PermissionDenied("Authentication required.")


def require_text(value, field: str, *, max_length: int, allow_empty: bool = True) -> str:
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise InvalidParameter(f"{field} must be a string.")
    if not allow_empty and value == "":
        raise InvalidParameter(f"{field} must not be empty.")
    if len(value) > max_length:
        raise InvalidParameter(f"{field} must be at most {max_length} characters, got {len(value)}.")
    if "\x00" in value:
        # PostgreSQL text cannot hold NUL: refuse it here rather than fail in the database.
        raise InvalidParameter(f"{field} must not contain NUL characters.")
    return value
