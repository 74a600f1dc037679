"""Unity Catalog setup endpoints: create and get catalogs and schemas over REST, in the open-source Unity
Catalog server's shapes, with the same authorization and visibility as everywhere else."""
from __future__ import annotations

import time
import uuid

import pytest
from rest_framework.test import APIClient

from registry.models import AuditEvent, Catalog, Schema
from registry.services.grants import grant_add

UC = "/api/2.1/unity-catalog"


def now_ms() -> int:
    return int(time.time() * 1000)


def error(response) -> str:
    return response.json()["error_code"]


# --- catalogs -----------------------------------------------------------------------------------------------

def test_admin_creates_catalog_in_unity_catalog_shape(api, admin):
    before = now_ms()
    response = api(admin).post(f"{UC}/catalogs", {"name": "Staging", "comment": "pre-production"}, format="json")
    assert response.status_code == 200, response.content
    info = response.json()
    assert info["name"] == "staging"  # stored and matched lower-case
    assert info["comment"] == "pre-production"
    assert info["owner"] == "admin"
    assert info["created_by"] == "admin" and info["updated_by"] == "admin"
    assert before - 1000 <= info["created_at"] <= now_ms() + 1000
    assert info["updated_at"] >= info["created_at"]
    uuid.UUID(info["id"])
    assert Catalog.objects.filter(name="staging", comment="pre-production").exists()
    assert AuditEvent.objects.filter(action="catalog.create").exists()


def test_catalog_comment_is_optional(api, admin):
    response = api(admin).post(f"{UC}/catalogs", {"name": "dev"}, format="json")
    assert response.status_code == 200
    assert response.json()["comment"] == ""


def test_non_admin_cannot_create_catalog(api, owner):
    response = api(owner).post(f"{UC}/catalogs", {"name": "mine"}, format="json")
    assert response.status_code == 403
    assert error(response) == "PERMISSION_DENIED"
    assert not Catalog.objects.filter(name="mine").exists()


def test_anonymous_cannot_create_catalog(db):
    response = APIClient().post(f"{UC}/catalogs", {"name": "anon"}, format="json")
    assert response.status_code == 401
    assert error(response) == "UNAUTHENTICATED"
    assert not Catalog.objects.exists()


@pytest.mark.parametrize("name", ["prod", "PROD", "Prod"])
def test_duplicate_catalog_is_resource_already_exists(api, admin, name):
    client = api(admin)
    assert client.post(f"{UC}/catalogs", {"name": "prod"}, format="json").status_code == 200
    response = client.post(f"{UC}/catalogs", {"name": name}, format="json")
    assert response.status_code == 400
    assert error(response) == "RESOURCE_ALREADY_EXISTS"
    assert Catalog.objects.count() == 1


@pytest.mark.parametrize("name", [
    "", "a.b", "a b", "a/b", "tab\there", "nul\x00", "bidi\u202eevil", "x" * 256, 42, None, ["prod"], {"n": 1},
])
def test_bad_catalog_names_are_400(api, admin, name):
    body = {"name": name} if name is not None else {}
    response = api(admin).post(f"{UC}/catalogs", body, format="json")
    assert response.status_code == 400, response.content
    assert error(response) == "INVALID_PARAMETER_VALUE"
    assert not Catalog.objects.exists()


@pytest.mark.parametrize("body", [
    {"name": "c", "comment": 5},
    {"name": "c", "comment": "x" * 100_000},
    {"name": "c", "storage_root": "s3://bucket/root"},
    {"name": "c", "properties": {"k": 5}},
    {"name": "c", "properties": ["k", "v"]},
    {"name": "c", "properties": {"": "v"}},
])
def test_bad_catalog_fields_are_400(api, admin, body):
    response = api(admin).post(f"{UC}/catalogs", body, format="json")
    assert response.status_code == 400
    assert error(response) == "INVALID_PARAMETER_VALUE"
    assert not Catalog.objects.exists()


@pytest.mark.parametrize("raw", [b"[1, 2]", b"\"prod\"", b"{not json", b""])
def test_malformed_bodies_are_400(api, admin, raw):
    response = api(admin).generic("POST", f"{UC}/catalogs", raw, content_type="application/json")
    assert response.status_code == 400
    assert "error_code" in response.json() and "message" in response.json()
    assert not Catalog.objects.exists()


def test_get_catalog_is_visibility_aware(api, admin, governed, reader, outsider):
    response = api(reader).get(f"{UC}/catalogs/prod")
    assert response.status_code == 200
    assert response.json()["name"] == "prod" and response.json()["owner"] == "admin"
    assert api(admin).get(f"{UC}/catalogs/PROD").json()["name"] == "prod"

    hidden = api(outsider).get(f"{UC}/catalogs/prod")
    missing = api(admin).get(f"{UC}/catalogs/prod2")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Catalog 'prod' does not exist."}
    assert missing.json() == {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Catalog 'prod2' does not exist."}


@pytest.mark.parametrize("name", ["a%20b", "a%0Ab", "a%00b"])
def test_get_catalog_with_bad_name_is_400(api, admin, name):
    response = api(admin).get(f"{UC}/catalogs/{name}")
    assert response.status_code == 400
    assert error(response) == "INVALID_PARAMETER_VALUE"


# --- schemas ------------------------------------------------------------------------------------------------

def test_admin_creates_schema_in_unity_catalog_shape(api, admin):
    client = api(admin)
    client.post(f"{UC}/catalogs", {"name": "staging"}, format="json")
    response = client.post(f"{UC}/schemas", {"name": "ML_Team", "catalog_name": "Staging", "comment": "team"},
                           format="json")
    assert response.status_code == 200, response.content
    info = response.json()
    assert info["name"] == "ml_team"
    assert info["catalog_name"] == "staging"
    assert info["full_name"] == "staging.ml_team"
    assert info["comment"] == "team"
    assert info["owner"] == "admin"
    assert isinstance(info["created_at"], int) and isinstance(info["updated_at"], int)
    uuid.UUID(info["schema_id"])
    assert Schema.objects.filter(catalog__name="staging", name="ml_team").exists()


def test_user_with_create_schema_and_use_catalog_creates_schema(api, admin, governed, member):
    grant_add(actor=admin, securable=governed.catalog, principal=member, privilege="USE CATALOG")
    grant_add(actor=admin, securable=governed.catalog, principal=member, privilege="CREATE SCHEMA")
    response = api(member).post(f"{UC}/schemas", {"name": "sandbox", "catalog_name": "prod"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["owner"] == "member"


def test_user_who_sees_catalog_without_create_schema_is_403(api, governed, reader):
    response = api(reader).post(f"{UC}/schemas", {"name": "sneaky", "catalog_name": "prod"}, format="json")
    assert response.status_code == 403
    assert error(response) == "PERMISSION_DENIED"
    assert not Schema.objects.filter(name="sneaky").exists()


def test_schema_in_catalog_the_user_cannot_see_is_404(api, admin, governed, outsider):
    hidden = api(outsider).post(f"{UC}/schemas", {"name": "x", "catalog_name": "prod"}, format="json")
    assert hidden.status_code == 404
    assert hidden.json() == {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Catalog 'prod' does not exist."}
    missing = api(admin).post(f"{UC}/schemas", {"name": "x", "catalog_name": "nope"}, format="json")
    assert missing.status_code == 404
    assert missing.json() == {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Catalog 'nope' does not exist."}
    assert not Schema.objects.filter(name="x").exists()


def test_duplicate_schema_is_resource_already_exists(api, admin, governed):
    response = api(admin).post(f"{UC}/schemas", {"name": "ML_TEAM", "catalog_name": "prod"}, format="json")
    assert response.status_code == 400
    assert error(response) == "RESOURCE_ALREADY_EXISTS"
    assert Schema.objects.filter(catalog=governed.catalog).count() == 1


@pytest.mark.parametrize("body", [
    {"name": "a.b", "catalog_name": "prod"},
    {"name": "a b", "catalog_name": "prod"},
    {"name": "", "catalog_name": "prod"},
    {"name": 7, "catalog_name": "prod"},
    {"catalog_name": "prod"},
    {"name": "ok"},
    {"name": "ok", "catalog_name": "pr.od"},
    {"name": "ok", "catalog_name": "prod", "comment": ["list"]},
])
def test_bad_schema_requests_are_400(api, admin, governed, body):
    response = api(admin).post(f"{UC}/schemas", body, format="json")
    assert response.status_code == 400, response.content
    assert error(response) == "INVALID_PARAMETER_VALUE"
    assert Schema.objects.count() == 1


def test_get_schema_is_visibility_aware(api, admin, governed, reader, outsider):
    response = api(reader).get(f"{UC}/schemas/prod.ml_team")
    assert response.status_code == 200
    assert response.json()["full_name"] == "prod.ml_team"
    assert api(admin).get(f"{UC}/schemas/Prod.ML_Team").json()["full_name"] == "prod.ml_team"

    hidden = api(outsider).get(f"{UC}/schemas/prod.ml_team")
    assert hidden.status_code == 404
    assert hidden.json() == {"error_code": "RESOURCE_DOES_NOT_EXIST",
                             "message": "Schema 'prod.ml_team' does not exist."}
    assert api(admin).get(f"{UC}/schemas/prod.nope").status_code == 404


@pytest.mark.parametrize("full_name", ["prod", "prod.ml_team.extra", "prod.", ".ml_team", "prod.ml%20team"])
def test_get_schema_with_bad_name_is_400(api, admin, governed, full_name):
    response = api(admin).get(f"{UC}/schemas/{full_name}")
    assert response.status_code == 400
    assert error(response) == "INVALID_PARAMETER_VALUE"


def test_anonymous_cannot_read(governed):
    assert APIClient().get(f"{UC}/catalogs/prod").status_code == 401
    assert APIClient().get(f"{UC}/schemas/prod.ml_team").status_code == 401
