"""Tokens of a grant statement. Words, `backquoted` identifiers, 'quoted' principals and four punctuation
marks; anything else (comments, unbalanced quotes, operators) is refused with its position."""
from __future__ import annotations

from dataclasses import dataclass

from registry.errors import InvalidParameter

MAX_STATEMENT_LENGTH = 4000


class StatementError(InvalidParameter):
    """A statement that cannot be parsed or executed; the message names the position (1-based) and the problem."""

    def __init__(self, message: str, position: int | None = None, *, syntax: bool = True):
        if position:
            message = f"{'Syntax error' if syntax else 'Error'} at position {position}: {message}"
        super().__init__(message)
        self.position = position


@dataclass(frozen=True)
class Token:
    kind: str  # WORD, BACKQUOTED, STRING, DOT, COMMA, SEMICOLON, END
    text: str  # the value (quotes removed, escapes resolved)
    position: int  # 1-based character offset in the statement

    def is_keyword(self, *words: str) -> bool:
        return self.kind == "WORD" and self.text.upper() in words

    def describe(self) -> str:
        if self.kind == "END":
            return "the end of the statement"
        if self.kind == "BACKQUOTED":
            return f"`{self.text[:60]}`"
        if self.kind == "STRING":
            return f"'{self.text[:60]}'"
        return repr(self.text[:60])


_PUNCTUATION = {".": "DOT", ",": "COMMA", ";": "SEMICOLON"}


def _is_word_char(ch: str) -> bool:
    return ch == "_" or ch.isalnum()


def _read_quoted(text: str, start: int, quote: str) -> tuple[str, int]:
    """The content of a quoted token starting at `start` (the opening quote); a doubled quote is a literal one."""
    out = []
    i = start + 1
    while i < len(text):
        ch = text[i]
        if ch == quote:
            if i + 1 < len(text) and text[i + 1] == quote:
                out.append(quote)
                i += 2
                continue
            value = "".join(out)
            if value == "":
                raise StatementError(f"empty quoted name {quote}{quote}", start + 1)
            if any(ord(c) < 32 or ord(c) == 127 for c in value):
                raise StatementError("quoted names must not contain control characters", start + 1)
            return value, i + 1
        out.append(ch)
        i += 1
    raise StatementError(f"unterminated {quote} quote: every opening {quote} needs a closing {quote}", start + 1)


def tokenize(text: str) -> list[Token]:
    if not isinstance(text, str) or not text.strip():
        raise StatementError("Statement must be a non-empty string.")
    if len(text) > MAX_STATEMENT_LENGTH:
        raise StatementError(f"Statement must be at most {MAX_STATEMENT_LENGTH} characters, got {len(text)}.")
    tokens: list[Token] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in " \t\r\n":
            i += 1
        elif text.startswith("--", i) or text.startswith("/*", i):
            raise StatementError("comments are not allowed in a statement", i + 1)
        elif ch in _PUNCTUATION:
            tokens.append(Token(_PUNCTUATION[ch], ch, i + 1))
            i += 1
        elif ch == "`":
            value, end = _read_quoted(text, i, "`")
            tokens.append(Token("BACKQUOTED", value, i + 1))
            i = end
        elif ch in "'\"":
            value, end = _read_quoted(text, i, ch)
            tokens.append(Token("STRING", value, i + 1))
            i = end
        elif _is_word_char(ch):
            start = i
            while i < len(text) and _is_word_char(text[i]):
                i += 1
            tokens.append(Token("WORD", text[start:i], start + 1))
        else:
            shown = ch if ch.isprintable() else f"U+{ord(ch):04X}"
            raise StatementError(
                f"unexpected character {shown!r}; names with special characters must be backquoted (`name`)", i + 1
            )
    tokens.append(Token("END", "", len(text) + 1))
    return tokens
