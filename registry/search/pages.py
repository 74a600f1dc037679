"""Opaque page tokens: base64 of {"offset": n}, the form MLflow's own server hands out."""
from __future__ import annotations

import base64
import binascii
import json

from registry.errors import InvalidParameter

MAX_OFFSET = 2**31 - 1


def encode_page_token(offset: int) -> str:
    return base64.b64encode(json.dumps({"offset": offset}).encode("utf-8")).decode("ascii")


def decode_page_token(token) -> int:
    """The offset a token stands for; a missing or empty token is the first page."""
    if token is None or token == "":
        return 0
    if not isinstance(token, str) or len(token) > 1000:
        raise InvalidParameter("Invalid page token: it must be a token returned by a previous search.")
    try:
        decoded = base64.b64decode(token.encode("ascii"), validate=True)
        document = json.loads(decoded)
    except (binascii.Error, UnicodeError, ValueError):
        raise InvalidParameter("Invalid page token, could not decode it: use the next_page_token of a previous "
                               "search.") from None
    offset = document.get("offset") if isinstance(document, dict) else None
    if isinstance(offset, bool) or not isinstance(offset, int) or not 0 <= offset <= MAX_OFFSET:
        raise InvalidParameter("Invalid page token: it holds no valid offset.")
    return offset
