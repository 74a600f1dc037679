"""One mapping from errors to the MLflow/Unity Catalog JSON envelope: {"error_code", "message"}."""
from __future__ import annotations

import logging

from django.http import JsonResponse
from rest_framework import exceptions as drf
from rest_framework.response import Response

from registry.errors import (
    AlreadyExists,
    InvalidParameter,
    InvalidState,
    NotFound,
    PermissionDenied,
    RegistryError,
    TemporarilyUnavailable,
    Unauthenticated,
)

log = logging.getLogger(__name__)

STATUS = {
    NotFound: 404,
    AlreadyExists: 400,
    InvalidParameter: 400,
    InvalidState: 400,
    PermissionDenied: 403,
    Unauthenticated: 401,
    TemporarilyUnavailable: 503,
}


def status_for(exc: RegistryError) -> int:
    for cls, status in STATUS.items():
        if isinstance(exc, cls):
            return status
    return 500


def error_body(error_code: str, message: str) -> dict:
    return {"error_code": error_code, "message": message}


def error_response(exc: RegistryError) -> JsonResponse:
    return JsonResponse(error_body(exc.error_code, exc.message), status=status_for(exc))


def exception_handler(exc, context):
    """DRF's exception handler: every expected error becomes the envelope; user input never causes a 500."""
    if isinstance(exc, RegistryError):
        return Response(error_body(exc.error_code, exc.message), status=status_for(exc))
    if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
        response = Response(error_body("UNAUTHENTICATED", str(exc.detail)), status=401)
        response["WWW-Authenticate"] = 'Bearer realm="catalog-explorer"'
        return response
    if isinstance(exc, drf.PermissionDenied):
        return Response(error_body("PERMISSION_DENIED", str(exc.detail)), status=403)
    if isinstance(exc, drf.NotFound):
        return Response(error_body("ENDPOINT_NOT_FOUND", str(exc.detail)), status=404)
    if isinstance(exc, drf.MethodNotAllowed):
        return Response(error_body("BAD_REQUEST", str(exc.detail)), status=405)
    if isinstance(exc, (drf.ParseError, drf.UnsupportedMediaType, drf.ValidationError)):
        detail = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return Response(error_body("MALFORMED_REQUEST", f"Malformed request: {detail}"), status=400)
    if isinstance(exc, drf.Throttled):
        response = Response(error_body("REQUEST_LIMIT_EXCEEDED", str(exc.detail)), status=429)
        if exc.wait is not None:  # clients that retry 429 (the MLflow client does) wait this long first
            response["Retry-After"] = str(int(exc.wait))
        return response
    if isinstance(exc, drf.APIException):
        return Response(error_body("BAD_REQUEST", str(exc.detail)), status=exc.status_code)
    from django.core.exceptions import RequestDataTooBig

    if isinstance(exc, RequestDataTooBig):
        return Response(error_body("INVALID_PARAMETER_VALUE", "Request body is too large."), status=400)
    if is_database_busy(exc):
        # SQLite (the quick start) serialises writers; past its lock timeout the request is rolled back and may
        # simply be sent again (the MLflow client retries 503 on its own).
        response = Response(error_body("TEMPORARILY_UNAVAILABLE", "The database is busy; retry the request."),
                            status=503)
        response["Retry-After"] = "1"
        return response
    return None


def is_database_busy(exc: BaseException) -> bool:
    from django.db import OperationalError

    return isinstance(exc, OperationalError) and "database is locked" in str(exc)
