"""The Unity Catalog API through its real clients, unmodified, against a live server with a personal access token:
the Databricks SDK (`WorkspaceClient(host=..., token=..., auth_type="pat")`) and the open-source
`unitycatalog-client`. Catalogs, schemas (with properties), registered models, versions, aliases, grants (get,
update, effective, and the paged grants.list / list_effective), delete of a model with versions, a missing int64
version, and paging that stays exactly-once while objects are inserted and deleted during the iteration (the UC
lists and the MLflow registry search)."""
from __future__ import annotations

import asyncio

import pytest
import requests
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import NotFound
from databricks.sdk.service.catalog import (
    CatalogIsolationMode,
    CatalogType,
    DependencyList,
    EffectivePrivilege,
    PermissionsChange,
    Privilege,
    SecurableType,
)
from mlflow import MlflowClient
from unitycatalog.client import ApiClient, Configuration
from unitycatalog.client import Privilege as OssPrivilege
from unitycatalog.client import SecurableType as OssSecurableType
from unitycatalog.client.api import CatalogsApi, GrantsApi, ModelVersionsApi, RegisteredModelsApi, SchemasApi
from unitycatalog.client.exceptions import ApiException
from unitycatalog.client.models import (
    CreateCatalog,
    CreateRegisteredModel,
    CreateSchema,
    PermissionsChange as OssPermissionsChange,
    UpdateCatalog,
    UpdatePermissions,
    UpdateRegisteredModel,
    UpdateSchema,
)

from registry.api.uc_serializers import METASTORE_ID
from registry.models import Catalog, Grant, ModelVersion, RegisteredModel, Schema
from registry.services.grants import grant_add
from registry.services.models import registered_model_create, registered_model_delete
from registry.services.tokens import token_create
from registry.services.versions import model_version_delete
from tests.registry.factories import make_model, make_version

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MODEL = "prod.ml_team.iris"
UC = "/api/2.1/unity-catalog"


def workspace(live_server, user) -> WorkspaceClient:
    return WorkspaceClient(host=live_server.url, token=token_create(actor=user, user=user)[1], auth_type="pat")


def oss(live_server, user, call):
    """Run `call(api_client)` (a coroutine function) with the open-source client, as its users run it."""
    token = token_create(actor=user, user=user)[1]

    async def run():
        async with ApiClient(Configuration(host=f"{live_server.url}{UC}"), header_name="Authorization",
                             header_value=f"Bearer {token}") as client:
            return await call(client)

    return asyncio.run(run())


# --- the Databricks SDK --------------------------------------------------------------------------------------

def test_sdk_catalogs_and_schemas_with_properties(live_server, admin):
    w = workspace(live_server, admin)
    created = w.catalogs.create(name="sdk_cat", comment="from the sdk", properties={"team": "ml"})
    assert (created.name, created.full_name, created.comment) == ("sdk_cat", "sdk_cat", "from the sdk")
    assert created.securable_type == SecurableType.CATALOG and created.catalog_type == CatalogType.MANAGED_CATALOG
    assert created.isolation_mode == CatalogIsolationMode.OPEN and created.browse_only is False
    assert created.properties == {"team": "ml"} and created.metastore_id == METASTORE_ID
    assert created.storage_root and created.storage_location == created.storage_root
    assert created.owner == "admin" and created.created_by == "admin" and created.created_at > 0

    updated = w.catalogs.update("sdk_cat", comment="renewed", properties={"team": "ds", "tier": "gold"})
    assert updated.properties == {"team": "ds", "tier": "gold"} and updated.comment == "renewed"
    assert Catalog.objects.get(name="sdk_cat").properties == {"team": "ds", "tier": "gold"}
    assert w.catalogs.get("sdk_cat").properties == {"team": "ds", "tier": "gold"}
    assert "sdk_cat" in [c.name for c in w.catalogs.list()]

    schema = w.schemas.create(name="feats", catalog_name="sdk_cat", comment="s", properties={"owner_team": "ml"})
    assert (schema.full_name, schema.catalog_name, schema.properties) == ("sdk_cat.feats", "sdk_cat",
                                                                         {"owner_team": "ml"})
    assert schema.metastore_id == METASTORE_ID and schema.catalog_type == CatalogType.MANAGED_CATALOG
    assert schema.storage_root and schema.browse_only is False and schema.schema_id
    schema = w.schemas.update("sdk_cat.feats", properties={"owner_team": "ds"})
    assert Schema.objects.get(name="feats").properties == {"owner_team": "ds"} == schema.properties
    assert [s.full_name for s in w.schemas.list(catalog_name="sdk_cat")] == ["sdk_cat.feats"]
    w.schemas.delete("sdk_cat.feats")
    w.catalogs.delete("sdk_cat")
    assert not Catalog.objects.filter(name="sdk_cat").exists()


def test_sdk_models_versions_aliases_and_delete_with_versions(live_server, governed, owner):
    w = workspace(live_server, owner)
    model = w.registered_models.create(catalog_name="prod", schema_name="ml_team", name="iris", comment="flowers")
    assert (model.full_name, model.metastore_id, model.browse_only) == (MODEL, METASTORE_ID, False)
    for _ in range(2):
        make_version(owner, MODEL)
    w.registered_models.update(MODEL, comment="petals")
    assert w.registered_models.get(MODEL).comment == "petals"
    assert [m.full_name for m in w.registered_models.list(catalog_name="prod", schema_name="ml_team")] == [MODEL]

    alias = w.registered_models.set_alias(MODEL, "Champion", 2)
    assert (alias.alias_name, alias.version_num, alias.catalog_name, alias.schema_name, alias.model_name) == (
        "Champion", 2, "prod", "ml_team", "iris")
    assert alias.id
    version = w.model_versions.get(MODEL, 2)
    assert (version.version, version.catalog_name, version.model_name) == (2, "prod", "iris")
    assert version.metastore_id == METASTORE_ID and version.run_id and version.run_workspace_id is not None
    assert version.model_version_dependencies == DependencyList(dependencies=[])
    assert [(a.alias_name, a.model_name, a.id) for a in version.aliases] == [("Champion", "iris", alias.id)]
    assert w.model_versions.get_by_alias(MODEL, "Champion").version == 2
    assert [a.alias_name for a in w.registered_models.get(MODEL, include_aliases=True).aliases] == ["Champion"]
    assert sorted(v.version for v in w.model_versions.list(MODEL)) == [1, 2]
    w.model_versions.update(MODEL, 1, comment="first")
    assert ModelVersion.objects.get(version=1).description == "first"

    # A valid int64 that no version has is a missing version, like any other.
    with pytest.raises(NotFound):
        w.model_versions.get(MODEL, 9223372036854775806)
    w.registered_models.delete_alias(MODEL, "Champion")
    with pytest.raises(NotFound):
        w.model_versions.get_by_alias(MODEL, "Champion")

    # As on Databricks, deleting the model deletes its versions.
    w.registered_models.delete(MODEL)
    assert not RegisteredModel.objects.exists() and not ModelVersion.objects.exists()
    with pytest.raises(NotFound):
        w.registered_models.get(MODEL)


def test_sdk_grants_get_update_effective_and_paged_lists(live_server, admin, governed, owner, reader, make_user):
    w = workspace(live_server, admin)
    model = make_model(owner, MODEL)
    # What the SDK could not parse it dropped: every principal must come back with its privileges.
    by_principal = {a.principal: a.privileges for a in w.grants.get("catalog", "prod").privilege_assignments}
    assert by_principal == {"owner": [Privilege.USE_CATALOG], "reader": [Privilege.USE_CATALOG]}

    w.grants.update("function", MODEL, changes=[PermissionsChange(
        principal="reader", add=[Privilege.EXECUTE, Privilege.APPLY_TAG, Privilege.MANAGE])])
    w.grants.update("schema", "prod.ml_team", changes=[PermissionsChange(
        principal="reader", add=[Privilege.ALL_PRIVILEGES])])
    assert w.grants.get("function", MODEL).privilege_assignments[0].privileges == [
        Privilege.APPLY_TAG, Privilege.EXECUTE, Privilege.MANAGE]
    assert Grant.objects.filter(model=model, user=reader).count() == 3
    w.grants.update("schema", "prod.ml_team", changes=[PermissionsChange(principal="reader",
                                                                        remove=[Privilege.ALL_PRIVILEGES])])

    effective = w.grants.get_effective("function", MODEL, principal="reader").privilege_assignments[0].privileges
    assert EffectivePrivilege(privilege=Privilege.USE_SCHEMA, inherited_from_type=SecurableType.SCHEMA,
                              inherited_from_name="prod.ml_team") in effective
    assert EffectivePrivilege(privilege=Privilege.USE_CATALOG, inherited_from_type=SecurableType.CATALOG,
                              inherited_from_name="prod") in effective
    assert EffectivePrivilege(privilege=Privilege.EXECUTE) in effective
    assert all(p.privilege is not None for p in effective)

    # grants.list / list_effective page by principal; pages under 150 are refused as Databricks refuses them.
    for number in range(160):
        grant_add(actor=admin, securable=governed.catalog, principal=make_user(f"user{number:03d}"),
                  privilege="USE_CATALOG")
    listed = list(w.grants.list("catalog", "prod", page_size=150))
    assert len(listed) == 162 and len({a.principal for a in listed}) == 162
    assert all(a.privileges == [Privilege.USE_CATALOG] for a in listed)
    first = requests.get(f"{live_server.url}{UC}/privilege-assignments/catalog/prod", params={"page_size": 150},
                         headers=w.config.authenticate()).json()
    assert len(first["privilege_assignments"]) == 150 and first["next_page_token"]
    effective = list(w.grants.list_effective("function", MODEL, page_size=150))
    assert len({a.principal for a in effective}) == len(effective) >= 163  # the owner and admin too
    raw = requests.get(f"{live_server.url}{UC}/effective-privilege-assignments/function/{MODEL}",
                       params={"page_size": 1000}, headers=w.config.authenticate()).json()
    spelled = {p["privilege"] for a in raw["effective_privilege_assignments"] for p in a["privileges"]}
    assert spelled <= {p.value for p in Privilege} | {"OWN"}, spelled  # OWN: ownership, our extension
    only = list(w.grants.list_effective("function", MODEL, principal="reader"))
    assert [a.principal for a in only] == ["reader"]
    refused = requests.get(f"{live_server.url}{UC}/privilege-assignments/catalog/prod", params={"page_size": 10},
                           headers=w.config.authenticate())
    assert refused.status_code == 400 and refused.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def _iterate_mutating(iterator, *, mutations: dict) -> list:
    """Names from `iterator`, running `mutations[n]()` once `n` names have been seen (between pages)."""
    seen = []
    for name in iterator:
        seen.append(name)
        if len(seen) in mutations:
            mutations.pop(len(seen))()
    assert not mutations
    return seen


def _paging_world(owner, count=12) -> list[str]:
    names = [f"prod.ml_team.m{number:02d}" for number in range(count)]
    for name in names:
        registered_model_create(actor=owner, name=name)
    return names


def _mutations(owner, names: list[str]) -> dict:
    # After the first page a model is inserted before the cursor; after the second one already listed is deleted
    # and one not yet reached is inserted. With offsets the first listed an object twice and the second skipped one.
    return {
        4: lambda: registered_model_create(actor=owner, name="prod.ml_team.a_first"),
        8: lambda: (registered_model_delete(actor=owner, name=names[0]),
                    registered_model_create(actor=owner, name="prod.ml_team.z_last")),
    }


def test_uc_lists_page_exactly_once_while_models_come_and_go(live_server, governed, owner):
    names = _paging_world(owner)
    w = workspace(live_server, owner)
    listed = (m.full_name for m in w.registered_models.list(catalog_name="prod", schema_name="ml_team",
                                                            max_results=4))
    seen = _iterate_mutating(listed, mutations=_mutations(owner, names))
    for name in names:
        assert seen.count(name) == 1, (name, seen)
    assert "prod.ml_team.z_last" in seen and "prod.ml_team.a_first" not in seen

    # Versions page the same way: a version deleted after it was listed does not make the next one skipped.
    for _ in range(6):
        make_version(owner, names[1])
    versions = (v.version for v in w.model_versions.list(names[1], max_results=2))
    seen_versions = _iterate_mutating(versions, mutations={
        2: lambda: model_version_delete(actor=owner, name=names[1], version=1)})
    assert sorted(seen_versions) == [1, 2, 3, 4, 5, 6]


def test_mlflow_search_pages_exactly_once_while_models_come_and_go(live_server, governed, owner, monkeypatch):
    names = _paging_world(owner)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token_create(actor=owner, user=owner)[1])
    client = MlflowClient(tracking_uri=live_server.url, registry_uri=live_server.url)

    def iterate():
        token = None
        while True:
            page = client.search_registered_models(max_results=4, order_by=["name ASC"], page_token=token)
            yield from (m.name for m in page)
            token = page.token
            if not token:
                return

    seen = _iterate_mutating(iterate(), mutations=_mutations(owner, names))
    for name in names:
        assert seen.count(name) == 1, (name, seen)


# --- the open-source unitycatalog-client ---------------------------------------------------------------------

def test_oss_client_catalogs_schemas_models_versions(live_server, admin, owner, governed):
    async def catalogs_and_schemas(client):
        catalogs, schemas = CatalogsApi(client), SchemasApi(client)
        created = await catalogs.create_catalog(CreateCatalog(name="oss_cat", comment="c", properties={"k": "v"}))
        assert (created.name, created.properties, created.storage_root is not None) == ("oss_cat", {"k": "v"}, True)
        await catalogs.update_catalog("oss_cat", UpdateCatalog(comment="d", properties={"k": "w"}))
        assert (await catalogs.get_catalog("oss_cat")).properties == {"k": "w"}
        assert "oss_cat" in [c.name for c in (await catalogs.list_catalogs()).catalogs]
        schema = await schemas.create_schema(CreateSchema(name="s", catalog_name="oss_cat", properties={"a": "b"}))
        assert (schema.full_name, schema.properties) == ("oss_cat.s", {"a": "b"})
        await schemas.update_schema("oss_cat.s", UpdateSchema(comment="x", properties={"a": "c"}))
        assert [s.properties for s in (await schemas.list_schemas("oss_cat")).schemas] == [{"a": "c"}]
        await schemas.delete_schema("oss_cat.s")
        await catalogs.delete_catalog("oss_cat")

    oss(live_server, admin, catalogs_and_schemas)
    assert not Catalog.objects.filter(name="oss_cat").exists()

    async def create(client):
        model = await RegisteredModelsApi(client).create_registered_model(CreateRegisteredModel(
            name="iris", catalog_name="prod", schema_name="ml_team", comment="flowers"))
        assert model.full_name == MODEL and model.storage_location

    oss(live_server, owner, create)
    for _ in range(2):
        make_version(owner, MODEL)

    async def models(client):
        registered, versions = RegisteredModelsApi(client), ModelVersionsApi(client)
        await registered.update_registered_model(MODEL, UpdateRegisteredModel(comment="petals"))
        assert (await registered.get_registered_model(MODEL)).comment == "petals"
        listed = await registered.list_registered_models(catalog_name="prod", schema_name="ml_team")
        assert [m.full_name for m in listed.registered_models] == [MODEL]
        assert sorted(v.version for v in (await versions.list_model_versions(MODEL)).model_versions) == [1, 2]
        assert (await versions.get_model_version(MODEL, 2)).version == 2
        with pytest.raises(ApiException) as missing:
            await versions.get_model_version(MODEL, 9223372036854775806)
        assert missing.value.status == 404
        await registered.delete_registered_model(MODEL)  # with its versions, no force

    oss(live_server, owner, models)
    assert not RegisteredModel.objects.exists() and not ModelVersion.objects.exists()


def test_oss_client_grants_in_its_spelling_and_the_manage_limit(live_server, admin, owner, reader, governed):
    model = make_model(owner, MODEL)

    async def grants(client):
        api = GrantsApi(client)
        got = await api.get(OssSecurableType.CATALOG, "prod")
        assert {a.principal: a.privileges for a in got.privilege_assignments} == {
            "owner": [OssPrivilege.USE_CATALOG], "reader": [OssPrivilege.USE_CATALOG]}
        changed = await api.update(OssSecurableType.SCHEMA, "prod.ml_team", UpdatePermissions(changes=[
            OssPermissionsChange(principal="reader", add=[OssPrivilege.CREATE_MODEL], remove=[])]))
        assert OssPrivilege.CREATE_MODEL in {p for a in changed.privilege_assignments if a.principal == "reader"
                                             for p in a.privileges}
        got = await api.get(OssSecurableType.REGISTERED_MODEL, MODEL, principal="reader")
        assert got.privilege_assignments[0].privileges == [OssPrivilege.EXECUTE]

    grant_add(actor=owner, securable=model, principal=reader, privilege="EXECUTE")
    oss(live_server, admin, grants)
    assert Grant.objects.filter(schema=governed, user=reader, privilege="CREATE_MODEL").exists()

    # The OSS client's Privilege enum has no MANAGE (nor APPLY TAG, ALL PRIVILEGES): it cannot read a securable
    # holding one. The grant is answered all the same, never hidden (docs/unity-catalog-api.md says so).
    grant_add(actor=owner, securable=model, principal=reader, privilege="MANAGE")
    token = token_create(actor=admin, user=admin)[1]
    raw = requests.get(f"{live_server.url}{UC}/permissions/registered_model/{MODEL}", headers={
        "Authorization": f"Bearer {token}", "User-Agent": "OpenAPI-Generator/0.7.0/python"}).json()
    assert raw == {"privilege_assignments": [{"principal": "reader", "privileges": ["EXECUTE", "MANAGE"]}]}
    assert not hasattr(OssPrivilege, "MANAGE")
