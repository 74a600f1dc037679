"""The grammar of grant statements, parsed by recursive descent into small frozen dataclasses.

    statement   := (grant | revoke | show | alter) [";"] END
    grant       := GRANT privileges ON securable TO principal
    revoke      := REVOKE privileges ON securable FROM principal
    show        := SHOW GRANTS [principal] [ON securable] [TO principal]     (at most one principal)
    alter       := ALTER securable_type name [SET] OWNER TO principal
    privileges  := privilege ("," privilege)*
    privilege   := WORD+                     ("USE CATALOG", "USE_CATALOG", "ALL PRIVILEGES")
    securable   := securable_type name
    securable_type := CATALOG | SCHEMA | DATABASE | MODEL | FUNCTION | REGISTERED MODEL
    name        := ident ("." ident)*        ident := WORD | `backquoted`
    principal   := WORD | `backquoted` | 'quoted' | "quoted"
"""
from __future__ import annotations

from dataclasses import dataclass

from registry.statements.lexer import StatementError, Token, tokenize

# Securable keyword -> (kind, number of name parts).
SECURABLE_TYPES = {
    "CATALOG": ("catalog", 1),
    "SCHEMA": ("schema", 2),
    "DATABASE": ("schema", 2),  # Databricks SQL's synonym for SCHEMA
    "MODEL": ("model", 3),
    "FUNCTION": ("model", 3),  # models are FUNCTION securables in Unity Catalog
}
_TYPE_LIST = "CATALOG, SCHEMA, MODEL, FUNCTION or REGISTERED MODEL"
_PRIVILEGE_END = ("ON",)


@dataclass(frozen=True)
class Name:
    text: str
    position: int


@dataclass(frozen=True)
class SecurableRef:
    kind: str  # catalog, schema, model
    parts: tuple[str, ...]
    position: int


@dataclass(frozen=True)
class GrantStatement:
    privileges: tuple[Name, ...]
    securable: SecurableRef
    principal: Name


@dataclass(frozen=True)
class RevokeStatement:
    privileges: tuple[Name, ...]
    securable: SecurableRef
    principal: Name


@dataclass(frozen=True)
class ShowGrantsStatement:
    securable: SecurableRef | None
    principal: Name | None


@dataclass(frozen=True)
class AlterOwnerStatement:
    securable: SecurableRef
    principal: Name


Statement = GrantStatement | RevokeStatement | ShowGrantsStatement | AlterOwnerStatement


class _Parser:
    def __init__(self, text: str):
        self.tokens = tokenize(text)
        self.index = 0

    # --- primitives -------------------------------------------------------------------------------------------
    def peek(self) -> Token:
        return self.tokens[self.index]

    def take(self) -> Token:
        token = self.tokens[self.index]
        if token.kind != "END":
            self.index += 1
        return token

    def fail(self, expected: str, token: Token | None = None) -> StatementError:
        token = token or self.peek()
        return StatementError(f"expected {expected}, found {token.describe()}", token.position)

    def keyword(self, *words: str) -> Token:
        token = self.peek()
        if not token.is_keyword(*words):
            raise self.fail(" or ".join(words))
        return self.take()

    # --- grammar ----------------------------------------------------------------------------------------------
    def statement(self) -> Statement:
        token = self.peek()
        if token.is_keyword("GRANT"):
            result = self.grant_or_revoke(GrantStatement, "TO")
        elif token.is_keyword("REVOKE"):
            result = self.grant_or_revoke(RevokeStatement, "FROM")
        elif token.is_keyword("SHOW"):
            result = self.show()
        elif token.is_keyword("ALTER"):
            result = self.alter()
        else:
            raise StatementError(
                f"unknown statement {token.describe()}: expected GRANT, REVOKE, SHOW GRANTS or ALTER … OWNER TO",
                token.position,
            )
        if self.peek().kind == "SEMICOLON":
            self.take()
            if self.peek().kind != "END":
                raise StatementError(
                    f"only one statement may be executed at a time; found {self.peek().describe()} after ';'",
                    self.peek().position,
                )
        if self.peek().kind != "END":
            raise self.fail("the end of the statement")
        return result

    def grant_or_revoke(self, cls, preposition: str):
        self.take()
        privileges = self.privileges()
        self.keyword("ON")
        securable = self.securable()
        self.keyword(preposition)
        principal = self.principal()
        return cls(privileges=privileges, securable=securable, principal=principal)

    def privileges(self) -> tuple[Name, ...]:
        result = [self.privilege()]
        while self.peek().kind == "COMMA":
            self.take()
            result.append(self.privilege())
        return tuple(result)

    def privilege(self) -> Name:
        first = self.peek()
        words = []
        while self.peek().kind == "WORD" and not self.peek().is_keyword(*_PRIVILEGE_END):
            words.append(self.take().text)
        if not words:
            raise self.fail("a privilege such as EXECUTE or USE CATALOG", first)
        return Name(" ".join(words), first.position)

    def securable_type(self) -> tuple[str, int, int]:
        token = self.peek()
        if token.is_keyword("REGISTERED"):
            self.take()
            self.keyword("MODEL")
            return "model", 3, token.position
        if token.kind == "WORD" and token.text.upper() in SECURABLE_TYPES:
            self.take()
            kind, parts = SECURABLE_TYPES[token.text.upper()]
            return kind, parts, token.position
        if token.kind == "WORD":
            raise StatementError(f"unknown securable type {token.describe()}: expected {_TYPE_LIST}", token.position)
        raise self.fail(f"a securable type ({_TYPE_LIST})")

    def securable(self) -> SecurableRef:
        kind, expected_parts, position = self.securable_type()
        name_start = self.peek()
        parts = [self.identifier()]
        while self.peek().kind == "DOT":
            self.take()
            parts.append(self.identifier())
        if len(parts) != expected_parts:
            shape = {1: "<catalog>", 2: "<catalog>.<schema>", 3: "<catalog>.<schema>.<model>"}[expected_parts]
            raise StatementError(
                f"a {kind} name has {expected_parts} part{'s' if expected_parts > 1 else ''} ({shape}), "
                f"got {len(parts)}",
                name_start.position,
            )
        return SecurableRef(kind=kind, parts=tuple(parts), position=position)

    def identifier(self) -> str:
        token = self.peek()
        if token.kind in ("WORD", "BACKQUOTED"):
            return self.take().text
        if token.kind == "STRING":
            raise StatementError("object names are written plain or in backquotes (`name`), not in quotes",
                                 token.position)
        raise self.fail("a name")

    def principal(self) -> Name:
        token = self.peek()
        if token.kind in ("WORD", "BACKQUOTED", "STRING"):
            self.take()
            return Name(token.text, token.position)
        raise self.fail("a principal (a user or group name)")

    def show(self) -> ShowGrantsStatement:
        self.take()
        self.keyword("GRANTS")
        principal = securable = None
        token = self.peek()
        if token.kind in ("BACKQUOTED", "STRING") or (token.kind == "WORD" and not token.is_keyword("ON", "TO")):
            principal = self.principal()
        if self.peek().is_keyword("ON"):
            self.take()
            securable = self.securable()
        if self.peek().is_keyword("TO"):
            if principal is not None:
                raise StatementError("the principal is already given before ON", self.peek().position)
            self.take()
            principal = self.principal()
        return ShowGrantsStatement(securable=securable, principal=principal)

    def alter(self) -> AlterOwnerStatement:
        self.take()
        securable = self.securable()
        if self.peek().is_keyword("SET"):
            self.take()
        self.keyword("OWNER")
        self.keyword("TO")
        return AlterOwnerStatement(securable=securable, principal=self.principal())


def parse_statement(text: str) -> Statement:
    """One statement, or a StatementError naming the position and the problem."""
    return _Parser(text).statement()
