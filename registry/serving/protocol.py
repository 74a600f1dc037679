"""The web tier's side of the scoring protocol: what is refused before a payload reaches a model process.

The body is read bounded (16 MB, with or without Content-Length, chunked or gzip-compressed: 413 before it is
parsed), JSON is parsed once with a nesting bound, and the MLflow 1 payloads users still send (a bare list of
records, `{"columns", "data"}`, `Content-Type: ...; format=pandas-split`) get a 400 that shows the MLflow 2
format. Everything else — which of `dataframe_split`, `dataframe_records`, `instances`, `inputs` and `params`,
and the check against the version's signature — is MLflow's scoring server's, in the model process."""
from __future__ import annotations

import json
import zlib

from registry.errors import RegistryError

MAX_PAYLOAD_BYTES = 16 * 1024 * 1024
# Deeper than any tensor numpy can build (64 dimensions) plus the envelope; far below the interpreter's recursion
# limit, which json.loads and MLflow's own parsing would otherwise hit.
MAX_JSON_DEPTH = 64
_READ_SIZE = 64 * 1024

CONTENT_TYPE_JSON = "application/json"
# What MLflow's scoring server parses besides JSON; forwarded as they are.
OTHER_CONTENT_TYPES = ("text/csv", "application/vnd.apache.parquet")
MLFLOW2_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")


class ProtocolError(RegistryError):
    status = 400


class MalformedRequest(ProtocolError):
    error_code = "MALFORMED_REQUEST"


class BadRequest(ProtocolError):
    error_code = "BAD_REQUEST"


class PayloadTooLarge(ProtocolError):
    error_code = "PAYLOAD_TOO_LARGE"
    status = 413


class LengthRequired(ProtocolError):
    error_code = "LENGTH_REQUIRED"
    status = 411


class UnsupportedMediaType(ProtocolError):
    error_code = "UNSUPPORTED_MEDIA_TYPE"
    status = 415


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(f"The payload is larger than the limit of {MAX_PAYLOAD_BYTES // (1024 * 1024)} MB; "
                           "send fewer rows per request.")


def _read_bounded(stream, limit: int) -> bytes:
    parts, size = [], 0
    while True:
        chunk = stream.read(_READ_SIZE)
        if not chunk:
            return b"".join(parts)
        size += len(chunk)
        if size > limit:
            raise _too_large()
        parts.append(chunk)


def read_payload(django_request) -> bytes:
    """The request body, read at most once and never past the limit. A chunked body is read to its end only from
    a server that decodes the chunks and marks the end of the input (gunicorn sets `wsgi.input_terminated`)."""
    meta = django_request.META
    if "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower():
        if not meta.get("wsgi.input_terminated"):
            raise LengthRequired("This server cannot read chunked request bodies: send a Content-Length.")
        try:
            return _read_bounded(meta["wsgi.input"], MAX_PAYLOAD_BYTES)
        except OSError as exc:  # the client went away or broke the chunk framing
            raise MalformedRequest(f"The chunked body ended early ({exc}).") from None
    raw = (meta.get("CONTENT_LENGTH") or "").strip()
    if raw == "":
        if meta.get("SERVER_PROTOCOL") == "HTTP/1.0":
            raise LengthRequired("An HTTP/1.0 body without Content-Length cannot be read.")
        return b""  # HTTP/1.1 without Content-Length or chunking: there is no body
    if not (raw.isascii() and raw.isdigit()):
        raise LengthRequired("The Content-Length header is not a number.")
    if int(raw) > MAX_PAYLOAD_BYTES:
        raise _too_large()  # before reading any of it
    body = _read_bounded(django_request, MAX_PAYLOAD_BYTES)  # HttpRequest.read stops at Content-Length
    if len(body) != int(raw):
        raise MalformedRequest(f"The body ended after {len(body)} of the {raw} bytes announced.")
    return body


def decode_content(body: bytes, content_encoding: str) -> bytes:
    """The body with its Content-Encoding undone, the decompressed size bounded by the same limit."""
    encodings = [e.strip().lower() for e in content_encoding.split(",") if e.strip() and e.strip() != "identity"]
    if not encodings:
        return body
    if encodings not in (["gzip"], ["x-gzip"], ["deflate"]):
        raise UnsupportedMediaType(f"Unsupported Content-Encoding {content_encoding[:100]!r}: send the body "
                                   "uncompressed or gzip-compressed.")
    decompressor = zlib.decompressobj(wbits=47)  # 32 + 15: a gzip or zlib header, detected
    try:
        data = decompressor.decompress(body, MAX_PAYLOAD_BYTES + 1)
    except zlib.error as exc:
        raise MalformedRequest(f"The body is not valid {encodings[0]} data ({exc}).") from None
    if len(data) > MAX_PAYLOAD_BYTES or decompressor.unconsumed_tail:
        raise _too_large()
    if not decompressor.eof or decompressor.unused_data:
        raise MalformedRequest(f"The {encodings[0]} body is truncated or has trailing data.")
    return data


def media_type(content_type: str) -> tuple[str, dict[str, str]]:
    mime, *pairs = [part.strip() for part in content_type.split(";")]
    params = {}
    for pair in pairs:
        key, _, value = pair.partition("=")
        if key:
            params[key.strip().lower()] = value.strip().strip('"')
    return mime.lower(), params


def _nesting_exceeds(data, limit: int) -> bool:
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values() if isinstance(item, (dict, list)))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value if isinstance(item, (dict, list)))
    return False


def mlflow2_example(columns: list[str] | None = None) -> str:
    columns = (columns or ["x1", "x2"])[:4]
    values = [1.0 for _ in columns]
    return (f'{{"dataframe_split": {{"columns": {json.dumps(columns)}, "data": [{json.dumps(values)}]}}}}, '
            f'{{"dataframe_records": [{json.dumps(dict(zip(columns, values)))}]}}, '
            f'{{"instances": [{json.dumps(values)}]}} or '
            f'{{"inputs": {json.dumps({c: [v] for c, v in zip(columns, values)})}}}')


def mlflow1_refusal(what: str, columns: list[str] | None = None) -> BadRequest:
    return BadRequest(
        f"This is an MLflow 1 scoring request ({what}); the scoring protocol changed in MLflow 2.0. Send a JSON "
        f"object with exactly one of the keys {', '.join(MLFLOW2_KEYS)} (and optionally \"params\"), with "
        f"Content-Type: application/json and no format= parameter, for example: {mlflow2_example(columns)}.")


def check_content_type(content_type: str, columns: list[str] | None = None) -> str:
    """The media type to forward, or the refusal: MLflow 1's `format=` parameter is a 400 with the MLflow 2
    format; a type MLflow does not parse is a 415 that says which ones it does."""
    mime, params = media_type(content_type or "")
    if "format" in params:
        raise mlflow1_refusal(f"Content-Type parameter format={params['format'][:50]}", columns)
    if mime != CONTENT_TYPE_JSON and mime not in OTHER_CONTENT_TYPES:
        got = f"got {content_type[:100]!r}" if content_type else "none was sent"
        raise UnsupportedMediaType(
            f"Unsupported Content-Type ({got}): send JSON with -H 'Content-Type: application/json' "
            f"(or {' or '.join(OTHER_CONTENT_TYPES)}).")
    return mime


def check_json_payload(body: bytes, columns: list[str] | None = None) -> None:
    """Refuse malformed JSON, nesting past MAX_JSON_DEPTH and MLflow 1 payloads; leave the rest to MLflow."""
    if not body.strip():
        raise BadRequest(f"The request has no body: send the input as JSON, for example {mlflow2_example(columns)}.")
    try:
        data = json.loads(body)
    except RecursionError:
        raise MalformedRequest(f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep.") from None
    except (ValueError, UnicodeDecodeError) as exc:  # JSONDecodeError is a ValueError
        raise MalformedRequest(f"The body is not valid JSON: {str(exc)[:200]}.") from None
    if _nesting_exceeds(data, MAX_JSON_DEPTH):
        raise MalformedRequest(f"The JSON is nested more than {MAX_JSON_DEPTH} levels deep.")
    if isinstance(data, list):
        raise mlflow1_refusal("a bare JSON list of records", columns)
    if not isinstance(data, dict):
        raise BadRequest(f"The body must be a JSON object, for example {mlflow2_example(columns)}.")
    if not any(key in data for key in MLFLOW2_KEYS) and ("columns" in data or "data" in data):
        raise mlflow1_refusal('"columns" and "data" without a "dataframe_split" key', columns)
