"""Service principals and the principal page's selectors: admins create, deactivate and delete them and issue
their tokens; a service principal cannot sign in with a password; grants, groups and reach."""
from __future__ import annotations

import pytest
from django.contrib.auth import authenticate
from django.test import Client, RequestFactory

from registry.errors import InvalidParameter, NotFound, PermissionDenied
from registry.models import AuditEvent, Catalog, ServicePrincipal
from registry.principal_selectors import direct_grants, principal_choices, principal_get, reach
from registry.services.grants import grant_add, principal_resolve
from registry.services.groups import group_create, group_member_add, group_rename
from registry.services.principals import (
    service_principal_create,
    service_principal_delete,
    service_principal_token_create,
    service_principal_token_revoke,
    service_principal_update,
)
from registry.services.tokens import token_authenticate
from tests.registry.factories import make_model

pytestmark = pytest.mark.django_db


def test_admin_creates_service_principal_that_is_a_user_without_password(admin):
    sp = service_principal_create(actor=admin, display_name="ci-bot")
    assert sp.user.get_username() == str(sp.application_id)
    assert not sp.user.has_usable_password() and not sp.user.is_staff and not sp.user.is_superuser
    assert AuditEvent.objects.filter(action="service_principal.create", outcome="success").exists()


def test_non_admin_cannot_create_or_read_service_principals(owner, admin):
    with pytest.raises(PermissionDenied):
        service_principal_create(actor=owner, display_name="x")
    sp = service_principal_create(actor=admin, display_name="ci-bot")
    with pytest.raises(PermissionDenied):
        service_principal_token_create(actor=owner, key=str(sp.application_id))
    assert AuditEvent.objects.filter(action="service_principal.create", outcome="denied").exists()


@pytest.mark.parametrize("name", ["", " lead", "a\u202eb", "x" * 256, None, 5])
def test_bad_display_names_are_refused(admin, name):
    with pytest.raises(InvalidParameter):
        service_principal_create(actor=admin, display_name=name)


def test_service_principal_cannot_sign_in_even_with_a_password(admin):
    sp = service_principal_create(actor=admin, display_name="ci-bot")
    sp.user.set_password("secret-pw")
    sp.user.save()
    request = RequestFactory().post("/accounts/login/")
    assert authenticate(request, username=sp.user.get_username(), password="secret-pw") is None
    browser = Client()
    response = browser.post("/accounts/login/", {"username": sp.user.get_username(), "password": "secret-pw"})
    assert response.status_code == 200 and "_auth_user_id" not in browser.session
    # ...while a person with a password still can.
    assert authenticate(request, username="admin", password="pw-admin") == admin


def test_token_issued_works_until_revoked_or_deactivated(admin):
    sp = service_principal_create(actor=admin, display_name="ci-bot")
    token, secret = service_principal_token_create(actor=admin, key=str(sp.application_id), name="ci", days=0)
    assert token.expires_at is None and token_authenticate(secret) == sp.user
    service_principal_update(actor=admin, key=str(sp.user_id), active=False)
    assert token_authenticate(secret) is None
    with pytest.raises(InvalidParameter, match="deactivated"):
        service_principal_token_create(actor=admin, key=str(sp.application_id))
    service_principal_update(actor=admin, key=str(sp.user_id), active=True)
    assert token_authenticate(secret) == sp.user
    service_principal_token_revoke(actor=admin, key=str(sp.user_id), token_id=token.pk)
    assert token_authenticate(secret) is None


def test_token_of_another_principal_cannot_be_revoked_through_this_one(admin, owner, token_for):
    sp = service_principal_create(actor=admin, display_name="ci-bot")
    token_for(owner)
    other = owner.tokens.get()
    with pytest.raises(NotFound):
        service_principal_token_revoke(actor=admin, key=str(sp.user_id), token_id=other.pk)


def test_lifetime_seconds_sets_expiry(admin):
    sp = service_principal_create(actor=admin, display_name="ci-bot")
    token, _ = service_principal_token_create(actor=admin, key=str(sp.application_id), lifetime_seconds=3600)
    assert 3500 < (token.expires_at - token.created_at).total_seconds() <= 3600


def test_delete_refused_while_owning_then_removes_user_tokens_and_grants(admin, governed):
    sp = service_principal_create(actor=admin, display_name="ci-bot")
    service_principal_token_create(actor=admin, key=str(sp.user_id))
    grant_add(actor=admin, securable=governed.catalog, principal=sp.user, privilege="USE CATALOG")
    catalog = Catalog.objects.create(name="bots", owner_user=sp.user)
    with pytest.raises(InvalidParameter, match="owns objects"):
        service_principal_delete(actor=admin, key=str(sp.user_id))
    catalog.delete()
    service_principal_delete(actor=admin, key=str(sp.user_id))
    assert not ServicePrincipal.objects.exists() and not sp.user.__class__.objects.filter(pk=sp.user_id).exists()


def test_service_principal_is_granted_and_joins_groups_like_a_user(admin, governed):
    sp = service_principal_create(actor=admin, display_name="ci-bot")
    assert principal_resolve(str(sp.application_id)) == sp.user
    group = group_create(actor=admin, name="bots")
    group_member_add(actor=admin, name="bots", user=sp.user.get_username())
    grant_add(actor=admin, securable=governed.catalog, principal=group, privilege="USE CATALOG")
    grant_add(actor=admin, securable=governed, principal=sp.user, privilege="USE SCHEMA")
    model = make_model(admin, "prod.ml_team.iris")
    grant_add(actor=admin, securable=model, principal=sp.user, privilege="EXECUTE")
    principal = principal_get(actor=admin, kind="service_principal", name=sp.user.get_username())
    assert principal.label == "ci-bot"
    assert [g.privilege for g in direct_grants(principal)] == ["EXECUTE", "USE_SCHEMA"]
    reached = reach(principal)
    assert [r.obj.name for r in reached["catalogs"]] == ["prod"]
    assert reached["catalogs"][0].sources == ["USE CATALOG here through group bots"]
    model_row = reached["models"][0]
    assert model_row.obj == model and model_row.privileges == ["USE CATALOG", "USE SCHEMA", "EXECUTE"]
    assert "USE SCHEMA inherited from schema prod.ml_team" in model_row.sources
    assert ("service principal ci-bot" in [label for _, label in principal_choices()])


def test_group_page_reach_and_rename_keeps_grants(admin, governed):
    group = group_create(actor=admin, name="readers")
    grant_add(actor=admin, securable=governed, principal=group, privilege="USE SCHEMA")
    make_model(admin, "prod.ml_team.iris")
    group_rename(actor=admin, name="readers", new_name="consumers")
    principal = principal_get(actor=admin, kind="group", name="consumers")
    reached = reach(principal)
    assert [s.obj.full_name for s in reached["schemas"]] == ["prod.ml_team"]
    assert [m.obj.full_name for m in reached["models"]] == ["prod.ml_team.iris"]
    assert reached["models"][0].sources == ["USE SCHEMA inherited from schema prod.ml_team"]


def test_principal_page_is_for_admins_only(owner, admin):
    with pytest.raises(PermissionDenied):
        principal_get(actor=owner, kind="user", name="admin")
    with pytest.raises(NotFound):
        principal_get(actor=admin, kind="service_principal", name="owner")  # a person is not a service principal
