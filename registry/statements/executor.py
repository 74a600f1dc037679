"""Executing one parsed grant statement through the services, for the statements endpoint and the admin console.

Every statement runs as one transaction: a GRANT of several privileges applies all of them or none. Changes
are made by `grant_add`/`grant_remove`/`owner_set` with `statement=<the text>`, so the audit log says which
statement made each one; a refused or failed statement is audited once, as `statement.execute`."""
from __future__ import annotations

from registry.errors import InvalidParameter
from registry.services.core import require_authenticated, service
from registry.services.grants import owner_set, parse_privilege, principal_resolve
from registry.statements.changes import permissions_update
from registry.statements.lexer import StatementError
from registry.statements.parser import (
    AlterOwnerStatement,
    GrantStatement,
    Name,
    RevokeStatement,
    SecurableRef,
    ShowGrantsStatement,
    parse_statement,
)
from registry.statements.securables import SHOW_COLUMNS, kind_of, privilege_label, securable_get, show_grants_rows


def _principal(name: Name):
    try:
        return principal_resolve(name.text)
    except InvalidParameter as exc:
        raise StatementError(exc.message, name.position, syntax=False) from None


def _privileges(names: tuple[Name, ...]) -> list[str]:
    keys = []
    for name in names:
        try:
            keys.append(parse_privilege(name.text))
        except InvalidParameter as exc:
            raise StatementError(exc.message, name.position, syntax=False) from None
    return keys


def _securable(actor, ref: SecurableRef):
    return securable_get(actor=actor, kind=ref.kind, parts=ref.parts)


def _target(securable) -> dict:
    return {"securable_type": kind_of(securable), "full_name": securable.full_name}


@service("statement.execute")
def statement_execute(*, actor, text: str) -> dict:
    """Parse and run one statement. Returns {"statement_type", …}: SHOW GRANTS adds "columns" and "rows"."""
    require_authenticated(actor)
    statement = parse_statement(text)
    if isinstance(statement, ShowGrantsStatement):
        securable = _securable(actor, statement.securable) if statement.securable else None
        principal = _principal(statement.principal) if statement.principal else None
        rows = show_grants_rows(actor=actor, securable=securable, principal=principal)
        return {"statement_type": "SHOW GRANTS", "columns": SHOW_COLUMNS, "rows": rows}
    # Privileges and the principal are checked before the securable is looked up, so a typo is reported as such.
    if isinstance(statement, (GrantStatement, RevokeStatement)):
        privileges = _privileges(statement.privileges)
        principal = _principal(statement.principal)
        securable = _securable(actor, statement.securable)
        verb = "add" if isinstance(statement, GrantStatement) else "remove"
        permissions_update(actor=actor, securable=securable, statement=text,
                           changes=[{"principal": statement.principal.text, verb: privileges}])
        return {"statement_type": "GRANT" if verb == "add" else "REVOKE", **_target(securable),
                "principal": _principal_name(principal), "privileges": [privilege_label(p) for p in privileges]}
    assert isinstance(statement, AlterOwnerStatement)
    principal = _principal(statement.principal)
    securable = _securable(actor, statement.securable)
    owner_set(actor=actor, securable=securable, principal=principal, statement=text)
    return {"statement_type": "ALTER OWNER", **_target(securable), "owner": _principal_name(principal)}


def _principal_name(principal) -> str:
    return principal.get_username() if hasattr(principal, "get_username") else principal.name
