"""Refuses, before any view runs, what no view can handle: text that cannot be stored (NUL, lone surrogates,
bytes that are not UTF-8) in the path, the query string or a form body, and bodies whose length cannot be known.
Chunked bodies are read whole here, bounded by DATA_UPLOAD_MAX_MEMORY_SIZE, so every parser sees an ordinary
body with a Content-Length; views that stream their body (artifact uploads) read it themselves. The JSON parser
(registry/api/parsers.py) applies the same text rules to every string of a JSON body."""
from __future__ import annotations

import io
from urllib.parse import unquote_to_bytes

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from registry.errors import InvalidParameter

# Methods whose requests carry a body that a view reads.
BODY_METHODS = ("POST", "PUT", "PATCH")
# Set on a view (class) that reads the request body as a stream rather than through a parser.
STREAMS_BODY = "streams_request_body"
API_PREFIXES = ("/api/", "/ajax-api/", "/model/")  # /model/: legacy serving's invocations answer JSON too


def text_problem(value: str) -> str | None:
    """Why `value` cannot be accepted as text (PostgreSQL holds no NUL; a lone surrogate is not encodable in
    UTF-8, so no database, log or JSON encoder can write it), or None."""
    if "\x00" in value:
        return "text must not contain NUL characters"
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return "text must not contain lone surrogates (invalid UTF-16 escapes)"
    return None


def encoded_text_problem(raw: bytes) -> str | None:
    """text_problem for percent-encoded bytes (a query string or a form body), with undecodable bytes refused
    too: Django would silently turn them into U+FFFD."""
    try:
        decoded = unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
    except UnicodeDecodeError:
        return "it is not valid UTF-8"
    return text_problem(decoded)


def _wsgi_bytes(value: str) -> bytes:
    # WSGI hands over the raw bytes of the query string decoded as latin-1.
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:  # not from a WSGI server (a test client given a str): judge it as UTF-8
        return value.encode("utf-8", "surrogatepass")


def url_problem(request: HttpRequest) -> str | None:
    # Django has already decoded the path, percent-encoding again the bytes that are not UTF-8 (a lone surrogate
    # is not UTF-8 either): such escapes are refused here along with NUL. A client that meant a literal "%FF"
    # would have sent "%25FF", which reads the same by now; that spelling is refused too.
    path = request.path_info
    problem = text_problem(path)
    if not problem:
        try:
            unquote_to_bytes(path).decode("utf-8")
        except UnicodeDecodeError:
            problem = "it is not valid UTF-8"
    if problem:
        return f"Invalid request path: {problem}."
    problem = encoded_text_problem(_wsgi_bytes(request.META.get("QUERY_STRING", "")))
    if problem:
        return f"Invalid query string: {problem}."
    return None


def is_chunked(request: HttpRequest) -> bool:
    return "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower()


def announced_length(request: HttpRequest) -> int | None:
    """The Content-Length as a number; None when absent (or empty: wsgiref, the development server, sets an empty
    CONTENT_LENGTH for every request without one); ValueError when malformed."""
    raw = (request.META.get("CONTENT_LENGTH") or "").strip()
    if not raw:
        return None
    if not (raw.isascii() and raw.isdigit()):
        raise ValueError(raw)
    return int(raw)


def refuse(request: HttpRequest, status: int, error_code: str, message: str) -> HttpResponse:
    """The API error envelope on API paths, the HTML error page elsewhere."""
    if request.path_info.startswith(API_PREFIXES):
        return JsonResponse({"error_code": error_code, "message": message}, status=status)
    return render(request, "400.html", {"message": message, "status": status}, status=status)


def length_required(request: HttpRequest, why: str) -> HttpResponse:
    return refuse(request, 411, "LENGTH_REQUIRED",
                  f"Length required: {why} Send the body with a Content-Length header, or chunked "
                  "(Transfer-Encoding: chunked) over HTTP/1.1.")


def read_bounded(stream, limit: int | None) -> bytes:
    """The whole stream, or RequestDataTooBig as soon as it holds more than `limit` bytes."""
    buffer = io.BytesIO()
    while True:
        chunk = stream.read(64 * 1024)
        if not chunk:
            return buffer.getvalue()
        buffer.write(chunk)
        if limit is not None and buffer.tell() > limit:
            raise RequestDataTooBig("Request body exceeded settings.DATA_UPLOAD_MAX_MEMORY_SIZE.")


class IncompleteBody(InvalidParameter):
    """A chunked body that ended before its last chunk, or whose framing is broken."""


class ChunkedBody:
    """The decoded chunked body (wsgi.input of a server that terminates it). The server raises its own errors
    when the client goes away before the last chunk or breaks the framing; either way the body is incomplete,
    which is the client's fault (400), never a server error."""

    def __init__(self, request: HttpRequest):
        self.stream = request.META["wsgi.input"]

    def read(self, n: int = -1) -> bytes:
        try:
            return self.stream.read(n)
        except Exception as exc:  # gunicorn's NoMoreData, InvalidChunkSize…; a reset socket
            raise IncompleteBody(f"Request body incomplete: the chunked body ended early ({exc}).") from None


def read_chunked_body(request: HttpRequest) -> None:
    """Replace a chunked body by the same bytes with a Content-Length, so Django and DRF (which read only
    Content-Length bodies, and take a chunked one for empty) see it."""
    body = read_bounded(ChunkedBody(request), settings.DATA_UPLOAD_MAX_MEMORY_SIZE)
    request.META["CONTENT_LENGTH"] = str(len(body))
    request.META.pop("HTTP_TRANSFER_ENCODING", None)
    request._stream = io.BytesIO(body)
    request._read_started = False


def form_problem(request: HttpRequest) -> str | None:
    if not request.META.get("CONTENT_TYPE", "").startswith("application/x-www-form-urlencoded"):
        return None
    problem = encoded_text_problem(request.body)
    return f"Invalid form data: {problem}." if problem else None


def body_framing_response(request: HttpRequest, *, streams: bool) -> HttpResponse | None:
    """A refusal when the body's length cannot be known (or is malformed), else None."""
    try:
        length = announced_length(request)
    except ValueError:
        return refuse(request, 400, "INVALID_PARAMETER_VALUE", "Invalid Content-Length header.")
    if is_chunked(request):
        # Only a server that decodes the chunks and marks the end of the input (gunicorn) lets a body be read
        # to its end; otherwise (the development server) reading on would block or take the framing for data.
        if not request.META.get("wsgi.input_terminated"):
            return length_required(request, "this server cannot read chunked request bodies.")
        return None
    if length is None and request.method in BODY_METHODS:
        if request.META.get("SERVER_PROTOCOL") == "HTTP/1.0":
            # HTTP/1.0 delimits such a body by closing the connection: the server has already taken it as empty.
            return length_required(request, "an HTTP/1.0 body without Content-Length cannot be read.")
        if streams:
            # An upload without a length would be stored as an empty file.
            return length_required(request, "an upload must say how long it is.")
    return None


class RequestGuardMiddleware:
    """Placed before CsrfViewMiddleware, whose process_view reads the form body this one checks first."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        problem = url_problem(request)
        if problem:
            return refuse(request, 400, "INVALID_PARAMETER_VALUE", problem)
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        streams = bool(getattr(getattr(view_func, "view_class", view_func), STREAMS_BODY, False))
        refusal = body_framing_response(request, streams=streams)
        if refusal is not None or streams:
            return refusal
        try:
            if is_chunked(request):
                read_chunked_body(request)
            problem = form_problem(request)
        except RequestDataTooBig:
            return refuse(request, 400, "INVALID_PARAMETER_VALUE", "Request body is too large.")
        except IncompleteBody as exc:
            return refuse(request, 400, exc.error_code, exc.message)
        if problem:
            return refuse(request, 400, "INVALID_PARAMETER_VALUE", problem)
        return None
