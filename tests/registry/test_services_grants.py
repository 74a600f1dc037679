"""Grant, revoke and ownership services: who may manage privileges where, and which privileges apply."""
from __future__ import annotations

import pytest

from registry.errors import InvalidParameter, NotFound, PermissionDenied
from registry.models import Grant
from registry.selectors import model_get
from registry.services.grants import grant_add, grant_remove, owner_set, parse_privilege, principal_resolve
from tests.registry.factories import make_model, state_fingerprint


@pytest.mark.parametrize("spelling", ["USE CATALOG", "use_catalog", "Use Catalog", "  use   catalog "])
def test_privilege_spellings(spelling):
    assert parse_privilege(spelling) == "USE_CATALOG"


@pytest.mark.parametrize("spelling", ["SUPERUSER", "", None, "USE\u202eCATALOG", "SELECT"])
def test_unknown_privileges_list_the_valid_ones(spelling):
    with pytest.raises(InvalidParameter):
        parse_privilege(spelling)


@pytest.mark.django_db
def test_principals_resolve_to_users_or_groups(owner, team):
    assert principal_resolve("owner") == owner
    assert principal_resolve("ml_team") == team
    assert principal_resolve("group:ml_team") == team
    with pytest.raises(InvalidParameter):
        principal_resolve("nobody")
    with pytest.raises(InvalidParameter):
        principal_resolve("user:ml_team")


@pytest.mark.django_db
def test_privileges_that_do_not_apply_to_a_model_are_refused(governed, admin, owner, reader):
    model = make_model(owner, "prod.ml_team.iris")
    for privilege in ("USE CATALOG", "USE SCHEMA", "CREATE MODEL", "CREATE SCHEMA"):
        with pytest.raises(InvalidParameter, match="cannot be granted"):
            grant_add(actor=admin, securable=model, principal=reader, privilege=privilege)
    with pytest.raises(InvalidParameter):
        grant_add(actor=admin, securable=governed, principal=reader, privilege="USE CATALOG")


@pytest.mark.django_db
def test_granting_twice_keeps_one_grant(governed, owner, reader):
    model = make_model(owner, "prod.ml_team.iris")
    grant_add(actor=owner, securable=model, principal=reader, privilege="EXECUTE")
    grant_add(actor=owner, securable=model, principal=reader, privilege="execute")
    assert Grant.objects.filter(model=model).count() == 1
    assert grant_remove(actor=owner, securable=model, principal=reader, privilege="EXECUTE") == 1
    assert grant_remove(actor=owner, securable=model, principal=reader, privilege="EXECUTE") == 0


@pytest.mark.django_db
def test_catalog_grants_are_managed_by_its_owner_and_admins_only(governed, admin, owner, reader, outsider, make_user):
    steward = make_user("steward")
    before = state_fingerprint()
    with pytest.raises(PermissionDenied):  # reader sees the catalog (USE CATALOG) but does not own it
        grant_add(actor=reader, securable=governed.catalog, principal=outsider, privilege="USE CATALOG")
    with pytest.raises(NotFound):
        grant_add(actor=outsider, securable=governed.catalog, principal=outsider, privilege="USE CATALOG")
    with pytest.raises(PermissionDenied):
        owner_set(actor=reader, securable=governed.catalog, principal=reader)
    assert state_fingerprint() == before
    owner_set(actor=admin, securable=governed.catalog, principal=steward)
    grant_add(actor=steward, securable=governed.catalog, principal=outsider, privilege="USE CATALOG")
    grant_add(actor=steward, securable=governed, principal=outsider, privilege="USE SCHEMA")
    grant_remove(actor=steward, securable=governed.catalog, principal=reader, privilege="USE CATALOG")
    with pytest.raises(NotFound):
        model_get(actor=reader, name="prod.ml_team.anything")


@pytest.mark.django_db
def test_manage_on_a_schema_lets_a_user_grant_on_models_below_it(governed, admin, owner, reader, make_user):
    model = make_model(owner, "prod.ml_team.iris")
    manager = make_user("manager")
    grant_add(actor=admin, securable=governed.catalog, principal=manager, privilege="USE CATALOG")
    grant_add(actor=admin, securable=governed, principal=manager, privilege="MANAGE")
    with pytest.raises(NotFound):  # as in Unity Catalog, MANAGE does not replace the USE privileges
        grant_add(actor=manager, securable=model, principal=reader, privilege="EXECUTE")
    grant_add(actor=admin, securable=governed, principal=manager, privilege="USE SCHEMA")
    grant_add(actor=manager, securable=model, principal=reader, privilege="EXECUTE")
    assert model_get(actor=reader, name="prod.ml_team.iris")


@pytest.mark.django_db
def test_ownership_moves_to_a_user_or_a_group(governed, owner, reader, team):
    model = make_model(owner, "prod.ml_team.iris")
    owner_set(actor=owner, securable=model, principal=team)
    model.refresh_from_db()
    assert (model.owner_user, model.owner_group, model.owner_name) == (None, team, "ml_team")
    with pytest.raises(NotFound):  # the former owner has no privilege left on the model
        owner_set(actor=owner, securable=model, principal=owner)


@pytest.mark.django_db
def test_reader_cannot_grant_on_a_model_it_can_see(governed, owner, reader, outsider):
    model = make_model(owner, "prod.ml_team.iris")
    grant_add(actor=owner, securable=model, principal=reader, privilege="EXECUTE")
    with pytest.raises(PermissionDenied):
        grant_add(actor=reader, securable=model, principal=outsider, privilege="EXECUTE")
    with pytest.raises(PermissionDenied):
        grant_add(actor=reader, securable=model, principal=reader, privilege="MANAGE")
    assert Grant.objects.filter(model=model).count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["own\x00er", "x" * 10_000, "group:", "user:\u202eowner"])
def test_hostile_principal_names_are_invalid_parameters(owner, name):
    with pytest.raises(InvalidParameter):
        principal_resolve(name)
