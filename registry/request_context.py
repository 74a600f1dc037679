"""Carries the client address of the current request to the audit log without threading it through
every service signature."""
import contextvars
from contextlib import contextmanager

_client_address: contextvars.ContextVar[str | None] = contextvars.ContextVar("client_address", default=None)
_via: contextvars.ContextVar[str] = contextvars.ContextVar("via", default="")


def current_client_address() -> str | None:
    return _client_address.get()


def current_via() -> str:
    return _via.get()


@contextmanager
def request_context(*, client_address: str | None, via: str):
    token_a = _client_address.set(client_address)
    token_v = _via.set(via)
    try:
        yield
    finally:
        _client_address.reset(token_a)
        _via.reset(token_v)


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        via = "api" if request.path.startswith(("/api/", "/ajax-api/")) else "ui"
        with request_context(client_address=request.META.get("REMOTE_ADDR"), via=via):
            return self.get_response(request)
