"""The permission matrix: every model-level service against every persona, on a three-level model and on a
workspace-registry model. Not allowed to see -> NotFound (same message as a missing object); allowed to see but
not to change -> PermissionDenied; either way nothing changes."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from registry.errors import NotFound, PermissionDenied
from registry.selectors import model_get, version_get, version_get_by_alias
from registry.services.aliases import alias_delete, alias_set
from registry.services.grants import grant_add, grant_remove, owner_set
from registry.services.models import registered_model_delete, registered_model_rename, registered_model_update
from registry.services.tags import model_tag_delete, model_tag_set, version_tag_delete, version_tag_set
from registry.services.versions import (
    model_version_delete,
    model_version_transition_stage,
    model_version_update,
)
from tests.registry.factories import make_model, make_version, state_fingerprint

OK, DENIED, HIDDEN = "ok", "denied", "hidden"

OPS = {
    "get": lambda a, w: model_get(actor=a, name=w.name),
    "get_version": lambda a, w: version_get(actor=a, name=w.name, version=1),
    "get_by_alias": lambda a, w: version_get_by_alias(actor=a, name=w.name, alias="Champion"),
    "rename": lambda a, w: registered_model_rename(actor=a, name=w.name, new_name=w.new_name),
    "update": lambda a, w: registered_model_update(actor=a, name=w.name, description="changed"),
    "delete": lambda a, w: registered_model_delete(actor=a, name=w.name),
    "create_version": lambda a, w: make_version(a, w.name),
    "update_version": lambda a, w: model_version_update(actor=a, name=w.name, version=1, description="changed"),
    "delete_version": lambda a, w: model_version_delete(actor=a, name=w.name, version=1),
    "set_alias": lambda a, w: alias_set(actor=a, name=w.name, alias="Challenger", version=1),
    "delete_alias": lambda a, w: alias_delete(actor=a, name=w.name, alias="Champion"),
    "set_model_tag": lambda a, w: model_tag_set(actor=a, name=w.name, key="team", value="fraud"),
    "delete_model_tag": lambda a, w: model_tag_delete(actor=a, name=w.name, key="task"),
    "set_version_tag": lambda a, w: version_tag_set(actor=a, name=w.name, version=1, key="k", value="v"),
    "delete_version_tag": lambda a, w: version_tag_delete(actor=a, name=w.name, version=1, key="validation_status"),
    "grant": lambda a, w: grant_add(actor=a, securable=model_get(actor=w.admin, name=w.name),
                                    principal=w.grantee, privilege="EXECUTE"),
    "revoke": lambda a, w: grant_remove(actor=a, securable=model_get(actor=w.admin, name=w.name),
                                        principal=w.reader, privilege="EXECUTE"),
    "set_owner": lambda a, w: owner_set(actor=a, securable=model_get(actor=w.admin, name=w.name), principal=w.team),
}
READS = {"get", "get_version", "get_by_alias"}
TAGS = {"set_model_tag", "delete_model_tag", "set_version_tag", "delete_version_tag"}
WS_OPS = {**OPS, "transition_stage": lambda a, w: model_version_transition_stage(
    actor=a, name=w.name, version=1, stage="Production")}


def _expected_uc(persona: str, op: str) -> str:
    if persona in ("admin", "owner"):
        return OK
    if persona == "outsider":
        return HIDDEN
    if op in READS:
        return OK
    if persona == "member" and op in TAGS:  # the group holds APPLY TAG
        return OK
    return DENIED


def _expected_ws(persona: str, op: str) -> str:
    if persona in ("admin", "owner", "member"):  # the member's group holds MANAGE
        return OK
    if persona == "outsider":
        return HIDDEN
    return OK if op in READS else DENIED


def _populate(owner, name: str) -> None:
    make_model(owner, name, tags={"task": "classification"})
    make_version(owner, name, tags={"validation_status": "approved"})
    alias_set(actor=owner, name=name, alias="Champion", version=1)


@pytest.fixture
def world(admin, owner, reader, outsider, member, team, make_user):
    return SimpleNamespace(admin=admin, owner=owner, reader=reader, outsider=outsider, member=member, team=team,
                           grantee=make_user("grantee"))


@pytest.fixture
def uc(world, governed):
    """`prod.ml_team.iris` owned by `owner`; reader holds EXECUTE; the member's group USE both + EXECUTE + APPLY TAG."""
    world.name, world.new_name = "prod.ml_team.iris", "prod.ml_team.iris_renamed"
    _populate(world.owner, world.name)
    model = model_get(actor=world.admin, name=world.name)
    grant_add(actor=world.admin, securable=model, principal=world.reader, privilege="EXECUTE")
    grant_add(actor=world.admin, securable=governed.catalog, principal=world.team, privilege="USE CATALOG")
    grant_add(actor=world.admin, securable=governed, principal=world.team, privilege="USE SCHEMA")
    for privilege in ("EXECUTE", "APPLY TAG"):
        grant_add(actor=world.admin, securable=model, principal=world.team, privilege=privilege)
    return world


@pytest.fixture
def ws(world):
    """Workspace model `Fraud Detector` owned by `owner`; reader holds EXECUTE; the member's group holds MANAGE."""
    world.name, world.new_name = "Fraud Detector", "Fraud Detector 2"
    _populate(world.owner, world.name)
    model = model_get(actor=world.admin, name=world.name)
    grant_add(actor=world.owner, securable=model, principal=world.reader, privilege="EXECUTE")
    grant_add(actor=world.owner, securable=model, principal=world.team, privilege="MANAGE")
    return world


def _assert_outcome(expected: str, call, actor, w) -> None:
    before = state_fingerprint()
    if expected == OK:
        call(actor, w)
        return
    with pytest.raises((NotFound, PermissionDenied)) as excinfo:
        call(actor, w)
    assert isinstance(excinfo.value, PermissionDenied if expected == DENIED else NotFound), repr(excinfo.value)
    assert state_fingerprint() == before, "a refused call changed the registry"


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["admin", "owner", "reader", "member", "outsider"])
@pytest.mark.parametrize("op", sorted(OPS))
def test_unity_catalog_model_permission_matrix(uc, persona, op):
    before = state_fingerprint()
    _assert_outcome(_expected_uc(persona, op), OPS[op], getattr(uc, persona), uc)
    if _expected_uc(persona, op) == OK and op not in READS:
        assert state_fingerprint() != before, f"{op} by {persona} reported success but changed nothing"


@pytest.mark.django_db
@pytest.mark.parametrize("persona", ["admin", "owner", "reader", "member", "outsider"])
@pytest.mark.parametrize("op", sorted(WS_OPS))
def test_workspace_model_permission_matrix(ws, persona, op):
    before = state_fingerprint()
    _assert_outcome(_expected_ws(persona, op), WS_OPS[op], getattr(ws, persona), ws)
    if _expected_ws(persona, op) == OK and op not in READS:
        assert state_fingerprint() != before, f"{op} by {persona} reported success but changed nothing"


NAMED_OPS = sorted(set(OPS) - {"grant", "revoke", "set_owner"})


@pytest.mark.django_db
@pytest.mark.parametrize("op", NAMED_OPS)
def test_hidden_model_looks_exactly_like_a_missing_one(uc, op):
    with pytest.raises(NotFound) as hidden:
        OPS[op](uc.outsider, uc)
    registered_model_delete(actor=uc.admin, name=uc.name)
    with pytest.raises(NotFound) as missing:
        OPS[op](uc.outsider, uc)
    assert hidden.value.message == missing.value.message
    assert hidden.value.error_code == missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"


@pytest.mark.django_db
def test_reader_cannot_set_alias_and_is_told_why(uc):
    with pytest.raises(PermissionDenied) as excinfo:
        alias_set(actor=uc.reader, name=uc.name, alias="Challenger", version=1)
    assert "ownership" in excinfo.value.message or "MANAGE" in excinfo.value.message


@pytest.mark.django_db
def test_stages_are_refused_on_unity_catalog_models_only_after_authorization(uc):
    with pytest.raises(NotFound):
        model_version_transition_stage(actor=uc.outsider, name=uc.name, version=1, stage="Staging")
    with pytest.raises(PermissionDenied):
        model_version_transition_stage(actor=uc.reader, name=uc.name, version=1, stage="Staging")


@pytest.mark.django_db
def test_use_catalog_and_use_schema_alone_show_no_model(uc, governed, make_user):
    """Unity Catalog's own example: the USE privileges open the containers, not the models in them."""
    from registry.selectors import model_list_visible

    user = make_user("analyst")
    grant_add(actor=uc.admin, securable=governed.catalog, principal=user, privilege="USE CATALOG")
    grant_add(actor=uc.admin, securable=governed, principal=user, privilege="USE SCHEMA")
    assert model_list_visible(actor=user, schema=governed).count() == 0
    for op in ("get", "update", "create_version", "delete", "get_version", "set_alias"):
        with pytest.raises(NotFound):
            OPS[op](user, uc)
    grant_add(actor=uc.admin, securable=model_get(actor=uc.admin, name=uc.name), principal=user, privilege="EXECUTE")
    assert model_get(actor=user, name=uc.name).name == "iris"
    assert model_list_visible(actor=user, schema=governed).count() == 1
    for op in ("update", "create_version", "delete", "set_alias", "rename", "set_model_tag"):
        with pytest.raises(PermissionDenied):
            OPS[op](user, uc)


@pytest.mark.django_db
def test_execute_without_use_schema_hides_the_model(uc, governed):
    grant_remove(actor=uc.admin, securable=governed, principal=uc.reader, privilege="USE SCHEMA")
    with pytest.raises(NotFound):
        model_get(actor=uc.reader, name=uc.name)


@pytest.mark.django_db
def test_grant_on_catalog_covers_present_and_future_models_below_it(uc, governed, make_user):
    from registry.services.catalogs import schema_create

    user = make_user("auditor")
    for privilege in ("USE CATALOG", "USE SCHEMA", "EXECUTE"):
        grant_add(actor=uc.admin, securable=governed.catalog, principal=user, privilege=privilege)
    assert model_get(actor=user, name=uc.name).name == "iris"
    schema_create(actor=uc.admin, catalog_name="prod", name="later")
    make_model(uc.admin, "prod.later.future")
    assert model_get(actor=user, name="prod.later.future").name == "future"
    with pytest.raises(PermissionDenied):
        registered_model_update(actor=user, name="prod.later.future", description="x")


@pytest.mark.django_db
def test_grant_on_schema_covers_only_that_schema(uc, governed, make_user):
    from registry.services.catalogs import schema_create

    user = make_user("auditor")
    grant_add(actor=uc.admin, securable=governed.catalog, principal=user, privilege="USE CATALOG")
    for privilege in ("USE SCHEMA", "EXECUTE"):
        grant_add(actor=uc.admin, securable=governed, principal=user, privilege=privilege)
    schema_create(actor=uc.admin, catalog_name="prod", name="other")
    make_model(uc.admin, "prod.other.secret")
    assert model_get(actor=user, name=uc.name)
    with pytest.raises(NotFound):
        model_get(actor=user, name="prod.other.secret")


@pytest.mark.django_db
def test_revoked_execute_takes_effect_on_the_next_call(uc):
    model = model_get(actor=uc.reader, name=uc.name)
    grant_remove(actor=uc.owner, securable=model, principal=uc.reader, privilege="EXECUTE")
    with pytest.raises(NotFound):
        model_get(actor=uc.reader, name=uc.name)


@pytest.mark.django_db
def test_leaving_the_group_removes_its_privileges(uc):
    model_tag_set(actor=uc.member, name=uc.name, key="a", value="b")
    uc.member.groups.remove(uc.team)
    with pytest.raises(NotFound):
        model_tag_set(actor=uc.member, name=uc.name, key="a", value="c")


@pytest.mark.django_db
def test_ownership_transferred_to_a_group_moves_the_owner_rights(uc):
    model = model_get(actor=uc.owner, name=uc.name)
    owner_set(actor=uc.owner, securable=model, principal=uc.team)
    registered_model_update(actor=uc.member, name=uc.name, description="team-owned")
    make_version(uc.member, uc.name)
    # The former owner holds no EXECUTE: it no longer sees the model at all.
    with pytest.raises(NotFound):
        model_get(actor=uc.owner, name=uc.name)


@pytest.mark.django_db
def test_manage_through_a_group_allows_delete_and_grants(uc):
    model = model_get(actor=uc.admin, name=uc.name)
    grant_add(actor=uc.owner, securable=model, principal=uc.team, privilege="MANAGE")
    grant_add(actor=uc.member, securable=model, principal=uc.grantee, privilege="EXECUTE")
    registered_model_delete(actor=uc.member, name=uc.name)


@pytest.mark.django_db
def test_all_privileges_covers_execute_and_apply_tag_but_not_manage(uc, governed, make_user):
    user = make_user("broad")
    grant_add(actor=uc.admin, securable=governed.catalog, principal=user, privilege="ALL PRIVILEGES")
    assert model_get(actor=user, name=uc.name)
    model_tag_set(actor=user, name=uc.name, key="seen", value="yes")
    with pytest.raises(PermissionDenied):
        registered_model_delete(actor=user, name=uc.name)


@pytest.mark.django_db
@pytest.mark.parametrize("level", ["catalog", "schema"])
def test_owner_of_a_parent_may_delete_and_grant(uc, governed, make_user, level):
    user = make_user("steward")
    securable = governed.catalog if level == "catalog" else governed
    owner_set(actor=uc.admin, securable=securable, principal=user)
    if level == "schema":
        grant_add(actor=uc.admin, securable=governed.catalog, principal=user, privilege="USE CATALOG")
    model = model_get(actor=user, name=uc.name)
    grant_add(actor=user, securable=model, principal=uc.grantee, privilege="EXECUTE")
    registered_model_delete(actor=user, name=uc.name)


@pytest.mark.django_db
def test_inactive_and_anonymous_users_see_nothing(uc):
    from django.contrib.auth.models import AnonymousUser

    uc.owner.is_active = False
    uc.owner.save()
    for actor in (uc.owner, AnonymousUser(), None):
        with pytest.raises(NotFound):
            model_get(actor=actor, name=uc.name)


@pytest.mark.django_db
def test_workspace_model_others_need_execute_to_read(ws, make_user):
    with pytest.raises(NotFound):
        model_get(actor=make_user("stranger"), name=ws.name)
    assert model_get(actor=ws.reader, name=ws.name).name == "Fraud Detector"
