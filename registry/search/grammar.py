"""MLflow's registry filter language, tokenized and parsed: `name LIKE 'prod.%' AND tags.`k.x` != 'v'`.

A filter is comparisons joined by AND. The parser only knows the shape of the language; which keys and
comparators an entity accepts is decided by the caller (`registry.search.filters`)."""
from __future__ import annotations

from dataclasses import dataclass

from registry.errors import InvalidParameter

MAX_FILTER_LENGTH = 10_000
MAX_LIST_VALUES = 1_000
MAX_COMPARISONS = 50

_OPERATORS = ("<=", ">=", "!=", "<>", "=", "<", ">")
# Prefixes of `<entity>.<key>` and the entity each names. Registry searches know tags and attributes;
# tracking searches pass a larger table (metrics, params, datasets).
REGISTRY_ENTITIES = {"tag": "tag", "tags": "tag", "attribute": "attribute", "attributes": "attribute", "attr": "attribute"}
_KEYWORDS = {"AND", "OR", "NOT", "IN", "IS", "NULL", "LIKE", "ILIKE"}


@dataclass(frozen=True)
class Token:
    kind: str  # ident, string, number, op, keyword, lparen, rparen, comma
    value: object
    position: int
    text: str


@dataclass(frozen=True)
class Comparison:
    """One condition: `<entity>.<key> <op> <value>` (entity is "attribute" or "tag")."""

    entity: str
    key: str
    op: str  # =, !=, <, >, <=, >=, LIKE, ILIKE, IN, NOT IN, IS NULL, IS NOT NULL
    value: object  # str, int, float, list of those, or None
    value_kind: str  # "string", "number", "list" or "none"


def invalid(filter_string: str, problem: str) -> InvalidParameter:
    shown = filter_string if len(filter_string) <= 300 else filter_string[:300] + "…"
    return InvalidParameter(f"Invalid filter '{shown}': {problem}")


def _read_quoted(text: str, start: int, quote: str, filter_string: str) -> tuple[str, int]:
    """A quoted run starting at `start` (on the quote); a doubled quote or a backslash escapes."""
    out, i = [], start + 1
    while i < len(text):
        ch = text[i]
        if ch == "\\" and quote != "`" and i + 1 < len(text) and text[i + 1] in (quote, "\\"):
            out.append(text[i + 1])
            i += 2
            continue
        if ch == quote:
            if i + 1 < len(text) and text[i + 1] == quote:
                out.append(quote)
                i += 2
                continue
            return "".join(out), i + 1
        out.append(ch)
        i += 1
    raise invalid(filter_string, f"unterminated {quote} quote starting at position {start}")


def tokenize(filter_string: str) -> list[Token]:
    text, tokens, i = filter_string, [], 0
    while i < len(text):
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in "'\"":
            value, end = _read_quoted(text, i, ch, filter_string)
            tokens.append(Token("string", value, i, text[i:end]))
            i = end
        elif ch == "`":
            value, end = _read_quoted(text, i, "`", filter_string)
            tokens.append(Token("ident", [value], i, text[i:end]))
            i = end
        elif ch == "(":
            tokens.append(Token("lparen", ch, i, ch))
            i += 1
        elif ch == ")":
            tokens.append(Token("rparen", ch, i, ch))
            i += 1
        elif ch == ",":
            tokens.append(Token("comma", ch, i, ch))
            i += 1
        elif ch.isdigit() or (ch in "+-." and i + 1 < len(text) and text[i + 1].isdigit()):
            end = i + 1
            while end < len(text) and (text[end].isdigit() or text[end] in ".eE" or
                                       (text[end] in "+-" and text[end - 1] in "eE")):
                end += 1
            raw = text[i:end]
            try:
                number = int(raw) if raw.lstrip("+-").isdigit() else float(raw)
            except ValueError:
                raise invalid(filter_string, f"malformed number {raw!r} at position {i}") from None
            tokens.append(Token("number", number, i, raw))
            i = end
        elif any(text.startswith(op, i) for op in _OPERATORS):
            op = next(op for op in _OPERATORS if text.startswith(op, i))
            tokens.append(Token("op", "!=" if op == "<>" else op, i, op))
            i += len(op)
        elif ch.isalpha() or ch == "_":
            token, i = _read_identifier(text, i, filter_string)
            tokens.append(token)
        else:
            raise invalid(filter_string, f"unexpected character {ch!r} at position {i}")
    return tokens


def _read_identifier(text: str, start: int, filter_string: str) -> tuple[Token, int]:
    """A bare word (keyword or identifier) or a dotted identifier whose parts may be quoted:
    `tags.team`, `tags.`key with.dots``, `tag."k"`, `attribute.name`."""
    parts, i = [], start
    while True:
        end = i
        while end < len(text) and (text[end].isalnum() or text[end] in "_-:/"):
            end += 1
        parts.append(text[i:end])
        i = end
        if i < len(text) and text[i] == ".":
            i += 1
            if i < len(text) and text[i] in "`\"":
                value, i = _read_quoted(text, i, text[i], filter_string)
                parts.append(value)
                return Token("ident", parts, start, text[start:i]), i
            if i >= len(text) or not (text[i].isalnum() or text[i] == "_"):
                raise invalid(filter_string, f"incomplete identifier {text[start:i]!r} at position {start}")
            continue
        break
    word = text[start:i]
    if len(parts) == 1 and word.upper() in _KEYWORDS:
        return Token("keyword", word.upper(), start, word), i
    return Token("ident", parts, start, word), i


class _Parser:
    def __init__(self, filter_string: str, entities: dict[str, str]):
        self.source = filter_string
        self.entities = entities
        self.tokens = tokenize(filter_string)
        self.index = 0

    def peek(self) -> Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self) -> Token | None:
        token = self.peek()
        self.index += 1
        return token

    def fail(self, problem: str) -> InvalidParameter:
        return invalid(self.source, problem)

    def expect_end_or_and(self) -> bool:
        token = self.peek()
        if token is None:
            return False
        if token.kind == "keyword" and token.value == "AND":
            self.index += 1
            if self.peek() is None:
                raise self.fail("expected a comparison after AND")
            return True
        if token.kind == "keyword" and token.value == "OR":
            raise self.fail("OR is not supported; combine conditions with AND")
        raise self.fail(f"expected AND before {token.text!r} at position {token.position}")

    def comparisons(self) -> list[Comparison]:
        if not self.tokens:
            return []
        result = [self.comparison()]
        while self.expect_end_or_and():
            result.append(self.comparison())
            if len(result) > MAX_COMPARISONS:
                raise self.fail(f"at most {MAX_COMPARISONS} conditions are allowed")
        return result

    def comparison(self) -> Comparison:
        left = self.take()
        if left is None or left.kind != "ident":
            shown = "the end of the filter" if left is None else repr(left.text)
            raise self.fail(f"expected an attribute or tags.<key> but found {shown}")
        entity, key = self.identifier(left)
        op = self.operator()
        if op in ("IS NULL", "IS NOT NULL"):
            return Comparison(entity, key, op, None, "none")
        if op in ("IN", "NOT IN"):
            return Comparison(entity, key, op, self.value_list(), "list")
        value = self.take()
        if value is None or value.kind not in ("string", "number"):
            shown = "nothing" if value is None else repr(value.text)
            raise self.fail(f"expected a quoted string or a number after {op}, found {shown}")
        return Comparison(entity, key, op, value.value, value.kind)

    def identifier(self, token: Token) -> tuple[str, str]:
        parts = token.value
        if len(parts) == 1:
            return "attribute", parts[0]
        entity, key = self.entities.get(parts[0].lower()), ".".join(parts[1:])
        if entity is None:
            valid = ", ".join(f"'{prefix}'" for prefix in sorted(self.entities))
            raise self.fail(f"invalid entity type '{parts[0]}'; valid entity types are {valid}")
        if key == "":
            raise self.fail(f"empty key in {token.text!r}")
        return entity, key

    def operator(self) -> str:
        token = self.take()
        if token is None:
            raise self.fail("expected a comparison operator at the end of the filter")
        if token.kind == "op":
            return token.value
        if token.kind == "keyword":
            if token.value in ("LIKE", "ILIKE", "IN"):
                return token.value
            if token.value == "NOT":
                following = self.take()
                if following is not None and following.kind == "keyword" and following.value in ("IN", "LIKE", "ILIKE"):
                    if following.value != "IN":
                        raise self.fail(f"NOT {following.value} is not supported; use != or LIKE")
                    return "NOT IN"
                raise self.fail(f"expected IN after NOT at position {token.position}")
            if token.value == "IS":
                following = self.take()
                if following is not None and following.kind == "keyword" and following.value == "NULL":
                    return "IS NULL"
                if following is not None and following.kind == "keyword" and following.value == "NOT":
                    last = self.take()
                    if last is not None and last.kind == "keyword" and last.value == "NULL":
                        return "IS NOT NULL"
                raise self.fail(f"expected NULL or NOT NULL after IS at position {token.position}")
        raise self.fail(f"expected a comparison operator but found {token.text!r} at position {token.position}")

    def value_list(self) -> list:
        opening = self.take()
        if opening is None or opening.kind != "lparen":
            raise self.fail("expected a parenthesised list of values after IN, e.g. IN ('a', 'b')")
        values = []
        while True:
            token = self.take()
            if token is None:
                raise self.fail("unterminated list of values")
            if token.kind not in ("string", "number"):
                raise self.fail(f"expected a value in the list but found {token.text!r} at position {token.position}")
            values.append(token.value)
            if len(values) > MAX_LIST_VALUES:
                raise self.fail(f"a list may hold at most {MAX_LIST_VALUES} values")
            separator = self.take()
            if separator is not None and separator.kind == "rparen":
                return values
            if separator is None or separator.kind != "comma":
                raise self.fail("expected ',' or ')' in the list of values")


def parse_filter(filter_string: str | None, *, entities: dict[str, str] = REGISTRY_ENTITIES) -> list[Comparison]:
    """The comparisons of `filter_string` (an empty or missing filter matches everything)."""
    if filter_string is None:
        return []
    if not isinstance(filter_string, str):
        raise InvalidParameter("Invalid filter: it must be a string.")
    if len(filter_string) > MAX_FILTER_LENGTH:
        raise InvalidParameter(f"Invalid filter: it must be at most {MAX_FILTER_LENGTH} characters long.")
    if "\x00" in filter_string:
        raise invalid(filter_string.replace("\x00", "\\0"), "NUL characters are not allowed")
    return _Parser(filter_string, entities).comparisons()
