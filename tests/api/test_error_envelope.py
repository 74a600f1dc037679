"""The one mapping of errors to the JSON envelope: errors that are nobody's fault answer as such."""
from __future__ import annotations

from django.db import OperationalError

from registry.api.errors import exception_handler


def test_a_busy_sqlite_database_is_a_503_to_retry_not_a_500():
    response = exception_handler(OperationalError("database is locked"), {})
    assert response.status_code == 503
    assert response.data["error_code"] == "TEMPORARILY_UNAVAILABLE"
    assert response["Retry-After"] == "1"


def test_other_database_errors_are_left_to_the_500_handler():
    assert exception_handler(OperationalError("server closed the connection unexpectedly"), {}) is None
