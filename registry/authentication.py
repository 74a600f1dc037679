"""API authentication: `Authorization: Bearer <token>`, or Basic with a user name and a personal access
token as the password (what MLflow sends for MLFLOW_TRACKING_USERNAME/PASSWORD). Browser sessions count
only with CSRF protection."""
from __future__ import annotations

import base64
import binascii

from rest_framework import authentication, exceptions

from registry.services.tokens import token_authenticate


class TokenAuthentication(authentication.BaseAuthentication):
    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        scheme, _, credentials = header.partition(" ")
        scheme = scheme.lower()
        credentials = credentials.strip()
        if scheme == "bearer":
            user = token_authenticate(credentials)
        elif scheme == "basic":
            try:
                decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
            except (binascii.Error, UnicodeDecodeError):
                raise exceptions.AuthenticationFailed("Malformed Basic credentials.") from None
            username, sep, secret = decoded.partition(":")
            user = token_authenticate(secret) if sep else None
            if user is not None and user.get_username() != username:
                user = None
        else:
            return None
        if user is None:
            raise exceptions.AuthenticationFailed("Invalid, expired or revoked token.")
        return user, None

    def authenticate_header(self, request):
        return 'Bearer realm="catalog-explorer"'


class CsrfSessionAuthentication(authentication.SessionAuthentication):
    """The browser session, with DRF's CSRF enforcement for unsafe methods."""
