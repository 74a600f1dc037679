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


def test_unknown_api_paths_answer_json_not_the_html_page(api, admin):
    client = api(admin)
    for path in ("/api/2.0/mlflow/no-such-endpoint", "/ajax-api/2.0/mlflow/runs/nope", "/api/2.1/unity-catalog/x/y/z",
                 "/api/9.9/anything", "/.well-known/openid-configuration", "/serving-endpoints/x/nope",
                 "/dbfs/"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response["Content-Type"].startswith("application/json"), path
        assert response.json()["error_code"] == "ENDPOINT_NOT_FOUND", path


def test_unknown_ui_paths_keep_the_html_page(client, admin):
    client.force_login(admin)
    response = client.get("/no/such/page/")
    assert response.status_code == 404 and response["Content-Type"].startswith("text/html")
