"""API authentication: `Authorization: Bearer <token>`, or Basic with a user name (or `token`) and a personal
access token as the password (what MLflow sends for MLFLOW_TRACKING_USERNAME/PASSWORD; `curl -u token:$TOKEN`). Browser sessions count
only with CSRF protection. A burst of bad tokens from one address is answered 429 until its window ends."""
from __future__ import annotations

import base64
import binascii
import logging
import math
import time

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.cache import cache
from rest_framework import authentication, exceptions

from registry import audit
from registry.models import AuditEvent
from registry.services.tokens import token_authenticate

log = logging.getLogger(__name__)


# A window opens with an address's first bad token and lasts TOKEN_FAILURE_WINDOW_SECONDS. Its start is written
# once (`add`), so its expiry is exact on every backend; the failures are counted under a key of that window,
# since `incr` resets the expiry on some backends (the file cache's does) and must not stretch the window.
def _window_key(address: str) -> str:
    return f"token-window:{address}"


def _failures_key(address: str, start: float) -> str:
    return f"token-failures:{address}:{start!r}"


def token_failure_count(address: str) -> int:
    """Count one bad token from `address`; returns the failures in its current window. The counters are in the
    shared cache, so every web process sees them."""
    length = settings.TOKEN_FAILURE_WINDOW_SECONDS
    for _ in range(2):  # a window that ends between `add` and `get` is opened again
        cache.add(_window_key(address), time.time(), timeout=length)
        start = cache.get(_window_key(address))
        if start is not None:
            break
    key = _failures_key(address, start)
    cache.add(key, 0, timeout=length)
    try:
        return cache.incr(key)
    except ValueError:  # the counter expired between add and incr
        cache.add(key, 1, timeout=length)
        return 1


def _token_failures(address: str) -> tuple[int, int]:
    """The failures of `address` in its current window, and the seconds until that window ends."""
    start = cache.get(_window_key(address))
    if start is None:
        return 0, 0
    left = max(1, math.ceil(start + settings.TOKEN_FAILURE_WINDOW_SECONDS - time.time()))
    return cache.get(_failures_key(address, start), 0), left


class TokenThrottled(exceptions.Throttled):
    default_detail = "Too many requests with invalid tokens from this address."


class TokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, credentials = header.partition(" ")
        scheme = scheme.lower()
        if scheme not in ("bearer", "basic"):
            return None
        address = request.META.get("REMOTE_ADDR") or "unknown"
        # A throttled address is refused whatever it sends: answering a good token differently would let the
        # guessing go on between refusals.
        wait = self._throttled_for(address)
        if wait:
            raise TokenThrottled(
                detail=f"Too many requests with invalid tokens from this address; try again in {wait} seconds. "
                       f"Check the token (MLFLOW_TRACKING_TOKEN) before retrying.",
                wait=wait)
        try:
            return self._authenticate_token(scheme, credentials.strip())
        except exceptions.AuthenticationFailed:
            self._count_failure(address)
            raise

    @staticmethod
    def _throttled_for(address: str) -> int:
        """Seconds until `address` may send tokens again; 0 when it is not throttled."""
        try:
            failures, left = _token_failures(address)
        except Exception:  # a cache outage must not take token authentication down with it: throttling fails open
            log.warning("Token throttle: cache unavailable, not checking %s", address, exc_info=True)
            return 0
        return left if failures >= settings.TOKEN_FAILURE_LIMIT else 0

    @staticmethod
    def _count_failure(address: str) -> None:
        try:
            failures = token_failure_count(address)
        except Exception:  # as above: the request is still answered 401
            log.warning("Token throttle: cache unavailable, not counting %s", address, exc_info=True)
            return
        if failures == settings.TOKEN_FAILURE_LIMIT:  # once per window, when the throttle starts
            audit.record(actor=AnonymousUser(), action="auth.token_throttled", outcome=AuditEvent.Outcome.DENIED,
                         params={"failures": failures, "window_seconds": settings.TOKEN_FAILURE_WINDOW_SECONDS},
                         message="Too many invalid tokens from this address: its token requests get 429 "
                                 "until the window ends.")

    @staticmethod
    def _authenticate_token(scheme: str, credentials: str):
        if scheme == "bearer":
            user = token_authenticate(credentials)
        else:  # basic
            try:
                decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise exceptions.AuthenticationFailed("Malformed Basic credentials.") from None
            username, sep, secret = decoded.partition(":")
            user = token_authenticate(secret) if sep else None
            # `token` as the user name stands for the token's owner (`curl -u token:$TOKEN`, as Databricks has it).
            if user is not None and username != "token" and user.get_username() != username:
                user = None
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return user, None

    def authenticate_header(self, request):
        return 'Bearer realm="catalog-explorer"'


class CsrfSessionAuthentication(authentication.SessionAuthentication):
    """The browser session, with DRF's CSRF enforcement for unsafe methods."""
