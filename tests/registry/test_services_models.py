"""Registered-model services: who may create a model where, names and limits through the services (each
violation an InvalidParameter that changes nothing), rename rules and case handling."""
from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser

from registry.errors import AlreadyExists, InvalidParameter, NotFound, PermissionDenied
from registry.models import RegisteredModel
from registry.selectors import model_get
from registry.services.catalogs import catalog_create, schema_create
from registry.services.grants import grant_add, owner_set
from registry.services.models import registered_model_create, registered_model_rename, registered_model_update
from tests.registry.factories import make_model, state_fingerprint

HOSTILE_NAMES = [
    "prod.ml_team." + "m" * 256,
    "w" * 256,
    "prod.ml_team.iris\u202e",
    "prod.ml_team.ir\u2066is",
    "prod.ml_team.iris\u200b",
    "iris\x00",
    "iris\x7f",
    "Fraud\u202eDetector",
    "..",
    "a..b",
    "a.b",
    "a.b.c.d",
    "prod.ml team.iris",
    "prod.ml_team.ir is",
    "prod.ml_team.a/b",
    "a/b",
    "../../etc/passwd",
    "%2e%2e/x",
    "",
    "   ",
    None,
]


@pytest.mark.django_db
@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_model_names_are_invalid_parameters_and_change_nothing(governed, owner, name):
    before = state_fingerprint()
    with pytest.raises(InvalidParameter):
        registered_model_create(actor=owner, name=name)
    assert state_fingerprint() == before


@pytest.mark.django_db
def test_two_part_name_error_mentions_the_three_level_form(governed, owner):
    with pytest.raises(InvalidParameter, match=r"<catalog>\.<schema>\.<model>"):
        registered_model_create(actor=owner, name="ml_team.iris")


@pytest.mark.django_db
def test_mixed_case_three_level_name_is_stored_lower_case_and_found_by_any_case(governed, owner):
    model = registered_model_create(actor=owner, name="Prod.ML_Team.Iris")
    assert model.full_name == "prod.ml_team.iris"
    assert model_get(actor=owner, name="prod.ml_team.iris").pk == model.pk
    assert model_get(actor=owner, name="PROD.ml_team.IRIS").pk == model.pk
    with pytest.raises(AlreadyExists):
        registered_model_create(actor=owner, name="prod.ml_team.IRIS")


@pytest.mark.django_db
def test_workspace_names_are_case_preserved_and_matched_exactly(owner):
    model = registered_model_create(actor=owner, name="UpdateRMTest 2")
    assert model.full_name == "UpdateRMTest 2"
    assert model_get(actor=owner, name="UpdateRMTest 2").pk == model.pk
    with pytest.raises(NotFound):
        model_get(actor=owner, name="updatermtest 2")
    other = registered_model_create(actor=owner, name="updatermtest 2")
    assert other.pk != model.pk


@pytest.mark.django_db
def test_description_of_65536_characters_is_accepted_and_one_more_refused(owner):
    make_model(owner, "described", description="d" * 65536)
    before = state_fingerprint()
    with pytest.raises(InvalidParameter, match="65536"):
        registered_model_update(actor=owner, name="described", description="d" * 65537)
    with pytest.raises(InvalidParameter):
        registered_model_create(actor=owner, name="other", description="d" * 65537)
    with pytest.raises(InvalidParameter):
        registered_model_update(actor=owner, name="described", description=["not", "text"])
    assert state_fingerprint() == before


@pytest.mark.django_db
def test_nul_in_descriptions_is_an_invalid_parameter_not_a_database_error(governed, owner, admin):
    from registry.services.catalogs import catalog_update
    from registry.services.versions import model_version_update
    from tests.registry.factories import make_version

    make_model(owner, "described")
    make_version(owner, "described")
    before = state_fingerprint()
    for call in (
        lambda: registered_model_update(actor=owner, name="described", description="a\x00b"),
        lambda: registered_model_create(actor=owner, name="other", description="\x00"),
        lambda: model_version_update(actor=owner, name="described", version=1, description="a\x00"),
        lambda: make_version(owner, "described", description="a\x00"),
        lambda: catalog_update(actor=admin, name="prod", comment="a\x00"),
    ):
        with pytest.raises(InvalidParameter, match="NUL"):
            call()
    assert state_fingerprint() == before
    assert registered_model_update(actor=owner, name="described", description="# Title\n\n* list\r\n").description


@pytest.mark.django_db
def test_create_model_needs_create_model_on_the_schema(governed, owner, reader, outsider):
    assert registered_model_create(actor=owner, name="prod.ml_team.iris").owner_user == owner
    with pytest.raises(PermissionDenied, match="CREATE MODEL"):
        registered_model_create(actor=reader, name="prod.ml_team.other")
    with pytest.raises(NotFound) as hidden:
        registered_model_create(actor=outsider, name="prod.ml_team.other")
    with pytest.raises(NotFound) as missing:
        registered_model_create(actor=outsider, name="nowhere.ml_team.other")
    assert hidden.value.message.replace("prod", "nowhere") == missing.value.message


@pytest.mark.django_db
def test_missing_schema_and_hidden_schema_look_the_same(governed, admin, reader):
    schema_create(actor=admin, catalog_name="prod", name="secret")
    with pytest.raises(NotFound) as hidden:
        registered_model_create(actor=reader, name="prod.secret.m")
    with pytest.raises(NotFound) as missing:
        registered_model_create(actor=reader, name="prod.absent.m")
    assert hidden.value.message.replace("secret", "absent") == missing.value.message


@pytest.mark.django_db
def test_create_model_without_use_schema_is_refused_with_the_reason(governed, admin, make_user):
    user = make_user("half")
    grant_add(actor=admin, securable=governed.catalog, principal=user, privilege="USE CATALOG")
    grant_add(actor=admin, securable=governed, principal=user, privilege="CREATE MODEL")
    with pytest.raises(PermissionDenied, match="USE SCHEMA"):
        registered_model_create(actor=user, name="prod.ml_team.m")


@pytest.mark.django_db
def test_group_member_creates_models_once_the_group_holds_create_model(governed, admin, member, team):
    grant_add(actor=admin, securable=governed.catalog, principal=team, privilege="USE CATALOG")
    grant_add(actor=admin, securable=governed, principal=team, privilege="USE SCHEMA")
    with pytest.raises(PermissionDenied):
        registered_model_create(actor=member, name="prod.ml_team.m")
    grant_add(actor=admin, securable=governed, principal=team, privilege="CREATE MODEL")
    assert registered_model_create(actor=member, name="prod.ml_team.m").owner_user == member


@pytest.mark.django_db
def test_catalog_owner_and_schema_owner_create_models_without_grants(admin, make_user):
    catalog = catalog_create(actor=admin, name="dev")
    schema = schema_create(actor=admin, catalog_name="dev", name="sandbox")
    cat_owner, schema_owner = make_user("cat_owner"), make_user("schema_owner")
    owner_set(actor=admin, securable=catalog, principal=cat_owner)
    owner_set(actor=admin, securable=schema, principal=schema_owner)
    grant_add(actor=admin, securable=catalog, principal=schema_owner, privilege="USE CATALOG")
    registered_model_create(actor=cat_owner, name="dev.sandbox.a")
    registered_model_create(actor=schema_owner, name="dev.sandbox.b")


@pytest.mark.django_db
def test_any_signed_in_user_may_create_a_workspace_model_and_owns_it(outsider):
    model = registered_model_create(actor=outsider, name="My Model")
    assert model.owner_user == outsider and model.schema is None
    with pytest.raises(PermissionDenied):
        registered_model_create(actor=AnonymousUser(), name="anon")
    with pytest.raises(PermissionDenied):
        registered_model_create(actor=None, name="anon")
    assert not RegisteredModel.objects.filter(name="anon").exists()


@pytest.mark.django_db
def test_model_names_are_unique_per_schema_and_in_the_workspace(governed, owner, admin):
    make_model(owner, "prod.ml_team.iris")
    make_model(owner, "iris")
    with pytest.raises(AlreadyExists, match="already exists"):
        registered_model_create(actor=owner, name="prod.ml_team.iris")
    with pytest.raises(AlreadyExists):
        registered_model_create(actor=admin, name="iris")
    schema_create(actor=admin, catalog_name="prod", name="other")
    registered_model_create(actor=admin, name="prod.other.iris")


@pytest.mark.django_db
def test_invalid_tags_on_create_leave_no_model_behind(owner):
    with pytest.raises(InvalidParameter):
        registered_model_create(actor=owner, name="tagged", tags={"k" * 256: "v"})
    with pytest.raises(InvalidParameter):
        registered_model_create(actor=owner, name="tagged", tags={f"k{i}": "v" for i in range(51)})
    assert not RegisteredModel.objects.filter(name="tagged").exists()


@pytest.mark.django_db
def test_rename_keeps_a_model_in_its_schema(governed, owner, admin):
    make_model(owner, "prod.ml_team.iris")
    renamed = registered_model_rename(actor=owner, name="prod.ml_team.iris", new_name="Prod.ML_Team.Iris2")
    assert renamed.full_name == "prod.ml_team.iris2"
    schema_create(actor=admin, catalog_name="prod", name="other")
    for new_name in ("prod.other.iris2", "iris2", "prod.ml_team.bad name", "prod.ml_team"):
        with pytest.raises(InvalidParameter):
            registered_model_rename(actor=admin, name="prod.ml_team.iris2", new_name=new_name)
    assert model_get(actor=admin, name="prod.ml_team.iris2")


@pytest.mark.django_db
def test_rename_onto_an_existing_name_is_already_exists(owner):
    make_model(owner, "a")
    make_model(owner, "b")
    with pytest.raises(AlreadyExists):
        registered_model_rename(actor=owner, name="a", new_name="b")
    assert model_get(actor=owner, name="a")
    with pytest.raises(InvalidParameter):
        registered_model_rename(actor=owner, name="a", new_name="prod.ml_team.a")
