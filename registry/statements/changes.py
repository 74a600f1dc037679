"""Changing grants in bulk — the permissions API's PATCH and GRANT/REVOKE statements — as one all-or-nothing
service over `grant_add`/`grant_remove`, so each single change is audited with the request or statement."""
from __future__ import annotations

from django.db.models import Model

from registry.errors import InvalidParameter
from registry.permissions import Action
from registry.services.core import authorize, service
from registry.services.grants import grant_add, grant_remove, principal_resolve

MAX_CHANGES = 100
MAX_PRIVILEGES = 20


def _privilege_list(value, field: str) -> list:
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_PRIVILEGES:
        raise InvalidParameter(f"'{field}' must be a list of at most {MAX_PRIVILEGES} privileges.")
    return value


@service("permissions.update")
def permissions_update(*, actor, securable: Model, changes: list, statement: str) -> None:
    """Apply `changes` ([{"principal", "add": [...], "remove": [...]}]) to `securable`: all of them or none.
    `statement` is what asked for it (a SQL statement or the API request), recorded on every grant event."""
    name = getattr(securable, "full_name", str(securable))
    authorize(actor, Action.MANAGE_GRANTS, securable, not_found_message=f"{name} does not exist.")
    if not isinstance(changes, list) or len(changes) > MAX_CHANGES:
        raise InvalidParameter(f"'changes' must be a list of at most {MAX_CHANGES} changes.")
    for change in changes:
        if not isinstance(change, dict):
            raise InvalidParameter("Each change must be an object with 'principal', 'add' and 'remove'.")
        unknown = set(change) - {"principal", "add", "remove"}
        if unknown:
            raise InvalidParameter(f"Unknown field(s) in a change: {', '.join(sorted(map(str, unknown)))[:200]}.")
        principal = principal_resolve(change.get("principal"))
        for privilege in _privilege_list(change.get("add"), "add"):
            grant_add(actor=actor, securable=securable, principal=principal, privilege=privilege, statement=statement)
        for privilege in _privilege_list(change.get("remove"), "remove"):
            grant_remove(actor=actor, securable=securable, principal=principal, privilege=privilege,
                         statement=statement)
