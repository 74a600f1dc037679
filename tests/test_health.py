import pytest
from django.db import connection


@pytest.mark.django_db
def test_healthz_reports_database_and_broker(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["database"] == {"ok": True, "detail": connection.vendor}
    assert body["broker"]["ok"] is True


@pytest.mark.django_db
def test_foreign_host_header_is_refused(client):
    response = client.get("/healthz", HTTP_HOST="evil.example.com")
    assert response.status_code == 400
