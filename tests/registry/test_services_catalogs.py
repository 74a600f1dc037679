"""Catalog and schema services: who may create, change and delete them, names, and non-empty deletes."""
from __future__ import annotations

import pytest

from registry.errors import AlreadyExists, InvalidParameter, NotFound, PermissionDenied
from registry.models import Catalog, Job, RegisteredModel, Schema
from registry.selectors import catalog_get, schema_get
from registry.services.catalogs import (
    catalog_create,
    catalog_delete,
    catalog_update,
    schema_create,
    schema_delete,
    schema_update,
)
from registry.services.grants import grant_add, owner_set
from tests.registry.factories import make_model, state_fingerprint


@pytest.mark.django_db
def test_only_admins_create_catalogs(admin, owner):
    assert catalog_create(actor=admin, name="Dev", comment="x").name == "dev"
    with pytest.raises(PermissionDenied, match="admin"):
        catalog_create(actor=owner, name="mine")
    with pytest.raises(PermissionDenied):
        catalog_create(actor=owner, name="bad name")  # authorization comes before validation
    with pytest.raises(AlreadyExists):
        catalog_create(actor=admin, name="DEV")
    assert list(Catalog.objects.values_list("name", flat=True)) == ["dev"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["a b", "a.b", "a/b", "x" * 256, "\u202eprod", "pr\x00od", "", None])
def test_hostile_catalog_and_schema_names_are_invalid_parameters(governed, admin, name):
    before = state_fingerprint()
    with pytest.raises(InvalidParameter):
        catalog_create(actor=admin, name=name)
    with pytest.raises(InvalidParameter):
        schema_create(actor=admin, catalog_name="prod", name=name)
    assert state_fingerprint() == before


@pytest.mark.django_db
def test_comment_limit(governed, admin):
    with pytest.raises(InvalidParameter):
        catalog_update(actor=admin, name="prod", comment="c" * 65537)
    assert catalog_update(actor=admin, name="prod", comment="c" * 65536).comment == "c" * 65536


@pytest.mark.django_db
def test_catalog_update_and_delete_permissions(governed, admin, reader, outsider, make_user):
    catalog_create(actor=admin, name="dev")
    steward = make_user("steward")
    owner_set(actor=admin, securable=Catalog.objects.get(name="dev"), principal=steward)
    grant_add(actor=admin, securable=Catalog.objects.get(name="dev"), principal=reader, privilege="USE CATALOG")
    assert catalog_update(actor=steward, name="dev", comment="mine").comment == "mine"
    before = state_fingerprint()
    with pytest.raises(PermissionDenied):
        catalog_update(actor=reader, name="dev", comment="x")
    with pytest.raises(PermissionDenied):
        catalog_delete(actor=reader, name="dev")
    with pytest.raises(NotFound) as hidden:
        catalog_delete(actor=outsider, name="dev")
    assert state_fingerprint() == before
    catalog_delete(actor=steward, name="dev")
    with pytest.raises(NotFound) as missing:
        catalog_delete(actor=outsider, name="dev")
    assert hidden.value.message == missing.value.message


@pytest.mark.django_db
def test_catalog_rename_refuses_an_existing_name(governed, admin):
    catalog_create(actor=admin, name="dev")
    with pytest.raises(AlreadyExists):
        catalog_update(actor=admin, name="dev", new_name="PROD")
    assert catalog_update(actor=admin, name="dev", new_name="Staging").name == "staging"


@pytest.mark.django_db
def test_schema_create_needs_use_catalog_and_create_schema(governed, admin, reader, outsider):
    with pytest.raises(PermissionDenied, match="CREATE SCHEMA"):
        schema_create(actor=reader, catalog_name="prod", name="mine")
    with pytest.raises(NotFound):
        schema_create(actor=outsider, catalog_name="prod", name="mine")
    grant_add(actor=admin, securable=governed.catalog, principal=reader, privilege="CREATE SCHEMA")
    schema = schema_create(actor=reader, catalog_name="Prod", name="Mine")
    assert (schema.full_name, schema.owner_user) == ("prod.mine", reader)
    with pytest.raises(AlreadyExists):
        schema_create(actor=admin, catalog_name="prod", name="MINE")


@pytest.mark.django_db
def test_schema_update_and_delete_permissions(governed, admin, owner, reader, outsider):
    owner_set(actor=admin, securable=governed, principal=owner)
    assert schema_update(actor=owner, full_name="prod.ml_team", comment="ours").comment == "ours"
    before = state_fingerprint()
    with pytest.raises(PermissionDenied):
        schema_update(actor=reader, full_name="prod.ml_team", comment="x")
    with pytest.raises(PermissionDenied):
        schema_delete(actor=reader, full_name="prod.ml_team")
    with pytest.raises(NotFound):
        schema_update(actor=outsider, full_name="prod.ml_team", comment="x")
    assert state_fingerprint() == before
    schema_delete(actor=owner, full_name="prod.ml_team")
    assert not Schema.objects.exists()


@pytest.mark.django_db
def test_schema_rename_refuses_an_existing_name(governed, admin):
    schema_create(actor=admin, catalog_name="prod", name="other")
    with pytest.raises(AlreadyExists):
        schema_update(actor=admin, full_name="prod.other", new_name="ML_TEAM")
    assert schema_update(actor=admin, full_name="prod.other", new_name="Renamed").full_name == "prod.renamed"


@pytest.mark.django_db
def test_non_empty_containers_need_force_and_schedule_artifact_cleanup(governed, admin, owner):
    make_model(owner, "prod.ml_team.iris")
    with pytest.raises(InvalidParameter, match="not empty"):
        schema_delete(actor=admin, full_name="prod.ml_team")
    with pytest.raises(InvalidParameter, match="not empty"):
        catalog_delete(actor=admin, name="prod")
    catalog_delete(actor=admin, name="prod", force=True)
    assert not RegisteredModel.objects.exists() and not Schema.objects.exists()
    job = Job.objects.get(kind=Job.Kind.DELETE_ARTIFACTS)
    assert len(job.params["prefixes"]) == 1 and job.params["prefixes"][0].startswith("registry/")


@pytest.mark.django_db
def test_catalog_and_schema_lookups_ignore_case_and_hide_what_is_not_granted(governed, reader, outsider):
    assert catalog_get(actor=reader, name="PROD").name == "prod"
    assert schema_get(actor=reader, full_name="Prod.ML_Team").name == "ml_team"
    with pytest.raises(NotFound):
        catalog_get(actor=outsider, name="prod")
    with pytest.raises(NotFound):
        schema_get(actor=outsider, full_name="prod.ml_team")
    with pytest.raises(InvalidParameter):
        schema_get(actor=reader, full_name="prod")
