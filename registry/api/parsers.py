"""The one JSON parser of every API (REST_FRAMEWORK's DEFAULT_PARSER_CLASSES): a body is read bounded by
DATA_UPLOAD_MAX_MEMORY_SIZE, must be UTF-8 (or the declared text charset), a JSON object, nested at most
MAX_DEPTH deep, and hold no string that cannot be stored (registry.request_guard.text_problem). Every refusal
is a 400 in the API envelope: malformed JSON is MALFORMED_REQUEST, a well-formed body of the wrong shape
INVALID_PARAMETER_VALUE (as MLflow's server answers a wrong JSON type)."""
from __future__ import annotations

import codecs
import json

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import BaseParser, get_encoding
from rest_framework.renderers import JSONRenderer

from registry.errors import InvalidParameter
from registry.request_guard import read_bounded, text_problem

# Far deeper than any MLflow or Unity Catalog request (a few levels), far shallower than the interpreter's
# recursion limit, which json.loads and every later walk over the data would otherwise hit.
MAX_DEPTH = 64


def _refuse_constant(name: str):
    # NaN and Infinity are not JSON; MLflow clients send them as strings.
    raise ValueError(f"{name} is not valid JSON")


def check_value(data, *, strings: bool = True) -> None:
    """InvalidParameter for the first string of `data` no view should receive (skipped with `strings=False`),
    ParseError when it is nested too deep. Iterative, so the walk itself never recurses."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, str):
            _check_text(value)
            continue
        if not isinstance(value, (dict, list)):
            continue
        if depth > MAX_DEPTH:
            raise ParseError(f"JSON is nested more than {MAX_DEPTH} levels deep.")
        if isinstance(value, dict):
            if strings:
                for key in value:
                    _check_text(key)
            value = value.values()
        for item in value:
            if isinstance(item, (dict, list)) or (strings and isinstance(item, str)):
                stack.append((item, depth + 1))


def _check_text(value: str) -> None:
    problem = text_problem(value)
    if problem:
        raise InvalidParameter(f"Invalid value in request body: {problem}.")


class JSONObjectParser(BaseParser):
    media_type = "application/json"
    renderer_class = JSONRenderer

    def parse(self, stream, media_type=None, parser_context=None):
        raw = read_bounded(stream, settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
        encoding = get_encoding(parser_context or {})
        try:
            text = raw.decode(encoding)
        except UnicodeDecodeError:
            raise ParseError(f"JSON parse error - the body is not valid {encoding}.") from None
        try:
            data = json.loads(text, parse_constant=_refuse_constant)
        except RecursionError:
            raise ParseError(f"JSON is nested more than {MAX_DEPTH} levels deep.") from None
        except ValueError as exc:  # JSONDecodeError, and integers with more digits than Python converts
            raise ParseError(f"JSON parse error - {exc}") from None
        # Strict JSON refuses raw control characters in strings, and strictly decoded UTF-8 holds no surrogate:
        # in UTF-8 text only a \u escape can put a NUL or a lone surrogate into a string.
        check_value(data, strings="\\u" in text or codecs.lookup(encoding).name != "utf-8")
        if not isinstance(data, dict):
            raise InvalidParameter("Request body must be a JSON object.")
        return data
