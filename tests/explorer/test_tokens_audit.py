"""Personal access tokens page and the admin audit log."""
import pytest

from registry.models import AuditEvent, PersonalAccessToken
from registry.services.tokens import token_authenticate, token_create


def test_token_is_shown_once_and_works(client_for, owner):
    client = client_for(owner)
    response = client.post("/settings/tokens/", {"name": "laptop", "days": 30})
    html = response.content.decode()
    secret = html.split('id="new-token" value="')[1].split('"')[0]
    assert secret.startswith("cex_") and token_authenticate(secret) == owner
    assert response["Cache-Control"] == "no-store"
    assert secret not in client.get("/settings/tokens/").content.decode()
    assert "laptop" in client.get("/settings/tokens/").content.decode()


def test_revoke_own_token_only(client_for, owner, reader):
    mine, secret = token_create(actor=owner, user=owner, name="a")
    theirs, _ = token_create(actor=reader, user=reader, name="b")
    assert client_for(owner).post(f"/settings/tokens/{theirs.pk}/revoke/").status_code == 404
    assert client_for(owner).post(f"/settings/tokens/{mine.pk}/revoke/").status_code == 302
    assert token_authenticate(secret) is None
    assert PersonalAccessToken.objects.get(pk=theirs.pk).revoked_at is None
    assert client_for(owner).get(f"/settings/tokens/{mine.pk}/revoke/").status_code == 405


def test_tokens_page_lists_only_mine(client_for, owner, reader):
    token_create(actor=reader, user=reader, name="readers-token")
    assert "readers-token" not in client_for(owner).get("/settings/tokens/").content.decode()


def test_invalid_token_form_is_an_error(client_for, owner):
    html = client_for(owner).post("/settings/tokens/", {"name": "", "days": 99999}).content.decode()
    assert 'class="error"' in html and not PersonalAccessToken.objects.exists()


@pytest.mark.parametrize("persona,status", [("admin", 200), ("owner", 404), ("reader", 404), ("outsider", 404)])
def test_audit_log_is_for_admins(request, client_for, governed, persona, status):
    assert client_for(request.getfixturevalue(persona)).get("/audit/").status_code == status


def test_audit_log_filters(client_for, admin, iris):
    client = client_for(admin)
    html = client.get("/audit/", {"user": "owner", "action": "registered_model.set_alias"}).content.decode()
    assert "registered_model.set_alias" in html and "registered_model.create" not in html
    html = client.get("/audit/", {"object": "iris", "outcome": "success"}).content.decode()
    assert "registered_model.create" in html and "catalog.create" not in html
    assert client.get("/audit/", {"since": "not a date", "until": "2999-01-01T00:00"}).status_code == 200
    assert "No events match" in client.get("/audit/", {"until": "2000-01-01T00:00"}).content.decode()
    assert AuditEvent.objects.count() > 5


def test_audit_log_has_bounded_queries(client_for, admin, big_model, django_assert_max_num_queries):
    client = client_for(admin)
    client.get("/")
    with django_assert_max_num_queries(10):
        assert client.get("/audit/").status_code == 200


def test_audit_log_names_types_in_words_links_what_exists_and_folds_long_values(client_for, admin, owner, iris):
    from registry.services.models import registered_model_update

    long_description = "A model that predicts the iris species from four measurements; " * 3
    registered_model_update(actor=owner, name=iris.full_name, description=long_description)
    html = client_for(admin).get("/audit/", {"action": "registered_model"}).content.decode()
    assert '<span class="muted">registered model</span> <a href="/models/prod.ml_team.iris/">prod.ml_team.iris</a>' in html
    assert "registeredmodel" not in html
    # The whole value, folded: its start in the summary, all of it on demand (not cut to "…").
    assert '<details class="param"><summary><b>description</b>=A model that predicts' in html
    assert long_description.strip() in html
