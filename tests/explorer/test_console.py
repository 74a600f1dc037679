"""The admin console runs grant statements through the same executor, services and audit as the API."""
import pytest

from registry.models import AuditEvent, Grant
from tests.explorer.conftest import MODEL


@pytest.mark.django_db
def test_admin_grants_execute_from_the_console_and_it_is_audited_with_the_statement(admin, client_for, iris, outsider):
    statement = f"GRANT EXECUTE ON FUNCTION {MODEL} TO outsider"
    response = client_for(admin).post("/console/", {"statement": statement})
    assert response.status_code == 200
    assert b"GRANT" in response.content
    assert Grant.objects.filter(user=outsider, model__name="iris", privilege="EXECUTE").exists()
    event = AuditEvent.objects.filter(action="grant.add").latest("id")
    assert event.parameters["statement"] == statement


@pytest.mark.django_db
def test_show_grants_renders_a_table(admin, client_for, iris):
    response = client_for(admin).post("/console/", {"statement": "SHOW GRANTS ON SCHEMA prod.ml_team"})
    assert response.status_code == 200
    assert b"USE SCHEMA" in response.content or b"USE_SCHEMA" in response.content
    assert b"<table" in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("statement", ["GRANT EXECUTE ON FUNCTION x.y.z TO nobody; DROP TABLE auth_user",
                                       "GRANT NOPE ON CATALOG prod TO reader", "", "x" * 10_001])
def test_bad_statements_are_clear_errors_and_change_nothing(admin, client_for, iris, statement):
    before = Grant.objects.count()
    response = client_for(admin).post("/console/", {"statement": statement})
    assert response.status_code == 400
    assert b'class="error"' in response.content
    assert Grant.objects.count() == before


@pytest.mark.django_db
def test_console_is_for_admins_only(owner, client_for):
    assert client_for(owner).get("/console/").status_code == 404
    assert client_for(owner).post("/console/", {"statement": "SHOW GRANTS"}).status_code == 404
