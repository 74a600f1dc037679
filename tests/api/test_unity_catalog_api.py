"""Unity Catalog REST API: catalogs, schemas, registered models, versions and aliases in the open-source UC
server's shapes; paging that only ever shows what the caller may see; and UC's access-control scenario."""
from __future__ import annotations

import uuid

import pytest

from registry.models import AuditEvent, Catalog, Grant, ModelAlias, ModelVersion, RegisteredModel, Schema
from registry.models.models import VersionStatus
from registry.services.catalogs import schema_create
from registry.services.grants import grant_add
from tests.registry.factories import make_model, make_run, make_version, state_fingerprint

UC = "/api/2.1/unity-catalog"
MODEL = "prod.ml_team.iris"


def error(response) -> str:
    return response.json()["error_code"]


def create_model_body(name="iris", comment=""):
    return {"name": name, "catalog_name": "prod", "schema_name": "ml_team", "comment": comment}


def version_body(source=None, **extra):
    return {"catalog_name": "prod", "schema_name": "ml_team", "model_name": "iris",
            "source": source or f"runs:/{make_run().run_id}/model", **extra}


@pytest.fixture
def iris(governed, owner):
    model = make_model(owner, MODEL, description="flowers")
    make_version(owner, MODEL)
    return model


# --- catalogs and schemas ------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_catalog_list_pages_over_visible_catalogs_only(api, admin, governed, reader, outsider):
    from registry.services.catalogs import catalog_create

    for name in ("a1", "a2", "a3"):
        catalog_create(actor=admin, name=name)
    pages, token = [], None
    while True:
        response = api(admin).get(f"{UC}/catalogs", {"max_results": 2, **({"page_token": token} if token else {})})
        assert response.status_code == 200
        body = response.json()
        pages.append([c["name"] for c in body["catalogs"]])
        token = body.get("next_page_token")
        if not token:
            break
    assert pages == [["a1", "a2"], ["a3", "prod"]]
    assert [c["name"] for c in api(reader).get(f"{UC}/catalogs").json()["catalogs"]] == ["prod"]
    assert api(outsider).get(f"{UC}/catalogs").json() == {"catalogs": []}


@pytest.mark.django_db
@pytest.mark.parametrize("query", [{"max_results": -1}, {"max_results": "x"}, {"page_token": "%%%"}])
def test_bad_paging_is_400(api, admin, governed, query):
    response = api(admin).get(f"{UC}/catalogs", query)
    assert response.status_code == 400 and error(response) == "INVALID_PARAMETER_VALUE"


@pytest.mark.django_db
def test_schema_list_needs_a_visible_catalog(api, admin, governed, reader, outsider):
    schema_create(actor=admin, catalog_name="prod", name="hidden")
    assert [s["full_name"] for s in api(admin).get(f"{UC}/schemas", {"catalog_name": "prod"}).json()["schemas"]] == [
        "prod.hidden", "prod.ml_team"]
    assert [s["name"] for s in api(reader).get(f"{UC}/schemas", {"catalog_name": "prod"}).json()["schemas"]] == [
        "ml_team"]
    assert api(outsider).get(f"{UC}/schemas", {"catalog_name": "prod"}).status_code == 404
    assert api(admin).get(f"{UC}/schemas").status_code == 400


@pytest.mark.django_db
def test_catalog_update_comment_name_and_owner(api, admin, governed, team):
    response = api(admin).patch(f"{UC}/catalogs/prod", {"comment": "live", "new_name": "production",
                                                         "owner": "ml_team"}, format="json")
    assert response.status_code == 200, response.content
    info = response.json()
    assert (info["name"], info["comment"], info["owner"]) == ("production", "live", "ml_team")
    event = AuditEvent.objects.get(action="owner.set")
    assert "PATCH /api/2.1/unity-catalog/catalogs/prod" in event.parameters["statement"]


@pytest.mark.django_db
def test_catalog_update_by_a_reader_is_403_and_changes_nothing(api, governed, reader):
    before = state_fingerprint()
    response = api(reader).patch(f"{UC}/catalogs/prod", {"comment": "mine"}, format="json")
    assert response.status_code == 403
    assert api(reader).patch(f"{UC}/catalogs/prod", {"owner": "reader"}, format="json").status_code == 403
    assert state_fingerprint() == before


@pytest.mark.django_db
def test_unknown_owner_is_400_before_anything_changes(api, admin, governed):
    before = state_fingerprint()
    response = api(admin).patch(f"{UC}/schemas/prod.ml_team", {"comment": "x", "owner": "nobody"}, format="json")
    assert response.status_code == 400 and "nobody" in response.json()["message"]
    assert state_fingerprint() == before


@pytest.mark.django_db
def test_model_patch_is_all_or_nothing_and_the_refused_part_is_audited(api, governed, owner, iris):
    """The comment may change but the new name is taken: nothing changes, and the failed rename is in the audit
    log (recorded after the rollback, which would otherwise have taken it along)."""
    make_model(owner, "prod.ml_team.taken")
    before = state_fingerprint()
    response = api(owner).patch(f"{UC}/models/{MODEL}", {"comment": "changed", "new_name": "taken"}, format="json")
    assert response.status_code in (400, 409), response.content
    assert state_fingerprint() == before
    assert AuditEvent.objects.filter(action="registered_model.rename", outcome=AuditEvent.Outcome.FAILED).count() == 1
    assert not AuditEvent.objects.filter(action="registered_model.update", outcome=AuditEvent.Outcome.SUCCESS,
                                         parameters__description="changed").exists()


@pytest.mark.django_db
def test_schema_update_and_delete_with_force(api, admin, iris):
    response = api(admin).patch(f"{UC}/schemas/prod.ml_team", {"comment": "new", "owner": "reader"}, format="json")
    assert response.json()["comment"] == "new" and response.json()["owner"] == "reader"
    refused = api(admin).delete(f"{UC}/schemas/prod.ml_team")
    assert refused.status_code == 400 and "not empty" in refused.json()["message"]
    assert api(admin).delete(f"{UC}/catalogs/prod").status_code == 400
    assert api(admin).delete(f"{UC}/schemas/prod.ml_team?force=true").status_code == 200
    assert not Schema.objects.exists() and not RegisteredModel.objects.exists()
    assert api(admin).delete(f"{UC}/catalogs/prod").json() == {}
    assert not Catalog.objects.exists()


# --- registered models -------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_create_model_in_uc_shape(api, governed, owner):
    response = api(owner).post(f"{UC}/models", create_model_body(comment="flowers"), format="json")
    assert response.status_code == 200, response.content
    info = response.json()
    assert info["full_name"] == MODEL and info["name"] == "iris"
    assert (info["catalog_name"], info["schema_name"], info["comment"]) == ("prod", "ml_team", "flowers")
    assert info["owner"] == "owner" and info["created_by"] == "owner" and info["updated_by"] == "owner"
    assert info["storage_location"].startswith("mlflow-artifacts:/registry/")
    uuid.UUID(info["id"])
    assert isinstance(info["created_at"], int) and info["updated_at"] >= info["created_at"]


@pytest.mark.django_db
@pytest.mark.parametrize("body", [
    {"name": "a.b", "catalog_name": "prod", "schema_name": "ml_team"},
    {"name": "iris", "catalog_name": "prod"},
    {"name": "iris", "catalog_name": "prod.ml_team", "schema_name": "x"},
    {"name": ["x"], "catalog_name": "prod", "schema_name": "ml_team"},
    {"name": "iris", "catalog_name": "prod", "schema_name": "ml_team", "comment": {"a": 1}},
])
def test_bad_model_create_is_400(api, governed, owner, body):
    response = api(owner).post(f"{UC}/models", body, format="json")
    assert response.status_code == 400, response.content
    assert not RegisteredModel.objects.exists()


@pytest.mark.django_db
def test_model_list_filters_and_pages_with_visibility(api, admin, governed, owner, reader, outsider):
    for i in range(5):
        make_model(owner, f"prod.ml_team.m{i}")
    grant_add(actor=owner, securable=RegisteredModel.objects.get(name="m3"), principal=reader, privilege="EXECUTE")
    names, token = [], None
    for _ in range(5):
        query = {"catalog_name": "prod", "schema_name": "ml_team", "max_results": 2}
        body = api(owner).get(f"{UC}/models", {**query, **({"page_token": token} if token else {})}).json()
        names += [m["name"] for m in body["registered_models"]]
        token = body.get("next_page_token")
        if not token:
            break
    assert names == ["m0", "m1", "m2", "m3", "m4"]
    assert [m["full_name"] for m in api(reader).get(f"{UC}/models").json()["registered_models"]] == [
        "prod.ml_team.m3"]
    assert api(outsider).get(f"{UC}/models").json() == {"registered_models": []}
    assert api(outsider).get(f"{UC}/models", {"catalog_name": "prod"}).status_code == 404
    assert api(reader).get(f"{UC}/models", {"schema_name": "ml_team"}).status_code == 400


@pytest.mark.django_db
def test_workspace_models_are_not_part_of_unity_catalog(api, owner, governed):
    make_model(owner, "flat")
    assert api(owner).get(f"{UC}/models").json() == {"registered_models": []}
    response = api(owner).get(f"{UC}/models/flat")
    assert response.status_code == 400 and "<catalog>.<schema>.<model>" in response.json()["message"]


@pytest.mark.django_db
def test_model_get_update_rename_owner_and_delete(api, iris, owner, team):
    response = api(owner).get(f"{UC}/models/Prod.ML_Team.Iris")
    assert response.status_code == 200 and response.json()["comment"] == "flowers"
    response = api(owner).patch(f"{UC}/models/{MODEL}", {"comment": "petals", "new_name": "iris2"}, format="json")
    assert response.status_code == 200, response.content
    assert response.json()["full_name"] == "prod.ml_team.iris2" and response.json()["comment"] == "petals"
    response = api(owner).patch(f"{UC}/models/prod.ml_team.iris2", {"new_name": "prod.other.iris"}, format="json")
    assert response.status_code == 400
    response = api(owner).patch(f"{UC}/models/prod.ml_team.iris2", {"owner": "ml_team"}, format="json")
    assert response.json()["owner"] == "ml_team"
    # Handing the model to a group she is not in leaves the owner of the schema's objects without rights on it.
    assert api(owner).delete(f"{UC}/models/prod.ml_team.iris2").status_code == 404


@pytest.mark.django_db
def test_model_delete_takes_its_versions_with_or_without_force(api, iris, owner):
    make_version(owner, MODEL)
    assert api(owner).delete(f"{UC}/models/{MODEL}").json() == {}
    assert not RegisteredModel.objects.exists() and not ModelVersion.objects.exists()
    make_model(owner, MODEL)
    assert api(owner).delete(f"{UC}/models/{MODEL}?force=true").json() == {}
    assert not RegisteredModel.objects.exists()


# --- versions ------------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_version_create_goes_through_registration(api, iris, owner):
    run = make_run()
    response = api(owner).post(f"{UC}/models/versions",
                               version_body(f"runs:/{run.run_id}/model", run_id=run.run_id, comment="v2"),
                               format="json")
    assert response.status_code == 200, response.content
    info = response.json()
    assert info["version"] == 2 and isinstance(info["version"], int)
    assert (info["model_name"], info["catalog_name"], info["schema_name"]) == ("iris", "prod", "ml_team")
    assert info["status"] == "PENDING_REGISTRATION" and info["run_id"] == run.run_id
    assert info["comment"] == "v2" and info["storage_location"].endswith("/versions/2")
    uuid.UUID(info["id"])
    finalize = api(owner).patch(f"{UC}/models/{MODEL}/versions/2/finalize", {}, format="json")
    assert finalize.status_code == 200 and finalize.json()["status"] == "PENDING_REGISTRATION"
    ModelVersion.objects.filter(version=2).update(status=VersionStatus.FAILED_REGISTRATION,
                                                  status_message="MLmodel has no signature")
    failed = api(owner).patch(f"{UC}/models/{MODEL}/versions/2/finalize", {}, format="json")
    assert failed.status_code == 400 and "signature" in failed.json()["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("source", ["file:///etc/passwd", "runs:/../../x", "s3://bucket/model", ""])
def test_version_create_refuses_sources_the_registry_does_not_manage(api, iris, owner, source):
    before = state_fingerprint()
    response = api(owner).post(f"{UC}/models/versions", {**version_body(), "source": source}, format="json")
    assert response.status_code in (400, 404), response.content
    assert state_fingerprint() == before


@pytest.mark.django_db
def test_version_list_get_update_delete(api, iris, owner):
    make_version(owner, MODEL)
    make_version(owner, MODEL)
    body = api(owner).get(f"{UC}/models/{MODEL}/versions", {"max_results": 2}).json()
    assert [v["version"] for v in body["model_versions"]] == [1, 2]
    rest = api(owner).get(f"{UC}/models/{MODEL}/versions", {"page_token": body["next_page_token"]}).json()
    assert [v["version"] for v in rest["model_versions"]] == [3] and "next_page_token" not in rest
    response = api(owner).patch(f"{UC}/models/{MODEL}/versions/2", {"comment": "second"}, format="json")
    assert response.json()["comment"] == "second"
    assert api(owner).get(f"{UC}/models/{MODEL}/versions/2").json()["comment"] == "second"
    assert api(owner).delete(f"{UC}/models/{MODEL}/versions/2").json() == {}
    assert api(owner).get(f"{UC}/models/{MODEL}/versions/2").status_code == 404
    assert api(owner).get(f"{UC}/models/{MODEL}/versions/x").status_code == 400


# --- aliases -------------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_aliases_set_get_move_and_delete(api, iris, owner):
    make_version(owner, MODEL)
    response = api(owner).put(f"{UC}/models/{MODEL}/aliases/Champion", {"version_num": 1}, format="json")
    where = {"catalog_name": "prod", "schema_name": "ml_team", "model_name": "iris"}
    alias_id = response.json().pop("id")
    assert response.status_code == 200 and response.json() == {"alias_name": "Champion", "version_num": 1, **where}
    assert api(owner).get(f"{UC}/models/{MODEL}/aliases/Champion").json()["version"] == 1
    api(owner).put(f"{UC}/models/{MODEL}/aliases/Champion", {"version_num": 2}, format="json")
    info = api(owner).get(f"{UC}/models/{MODEL}", {"include_aliases": "true"}).json()
    assert info["aliases"] == [{"alias_name": "Champion", "version_num": 2, **where, "id": alias_id}]
    assert "aliases" not in api(owner).get(f"{UC}/models/{MODEL}").json()
    assert api(owner).get(f"{UC}/models/{MODEL}/versions/2").json()["aliases"] == [
        {"alias_name": "Champion", "version_num": 2, **where, "id": alias_id}]
    assert api(owner).delete(f"{UC}/models/{MODEL}/aliases/Champion").json() == {}
    assert not ModelAlias.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("alias,body", [("latest", {"version_num": 1}), ("v1", {"version_num": 1}),
                                        ("ok", {"version_num": "one"}), ("ok", {}), ("ok", {"version_num": 9})])
def test_bad_alias_requests_change_nothing(api, iris, owner, alias, body):
    response = api(owner).put(f"{UC}/models/{MODEL}/aliases/{alias}", body, format="json")
    assert response.status_code in (400, 404)
    assert not ModelAlias.objects.exists()


# --- the open-source Unity Catalog access-control scenario ----------------------------------------------------

@pytest.mark.django_db
def test_uc_access_control_scenario(api, governed, owner, reader):
    """reader holds only USE CATALOG + USE SCHEMA: sees no model and every call on one is "not found"; the owner
    succeeds; after EXECUTE is granted through PATCH permissions the reader may get and load, not change."""
    assert api(owner).post(f"{UC}/models", create_model_body(), format="json").status_code == 200
    assert api(owner).post(f"{UC}/models/versions", version_body(), format="json").status_code == 200
    assert set(Grant.objects.filter(user=reader).values_list("privilege", flat=True)) == {"USE_CATALOG",
                                                                                         "USE_SCHEMA"}
    client = api(reader)
    before = state_fingerprint()
    assert client.get(f"{UC}/models", {"catalog_name": "prod", "schema_name": "ml_team"}).json() == {
        "registered_models": []}
    calls = [
        lambda: client.get(f"{UC}/models/{MODEL}"),
        lambda: client.patch(f"{UC}/models/{MODEL}", {"comment": "x"}, format="json"),
        lambda: client.post(f"{UC}/models/versions", version_body(), format="json"),
        lambda: client.get(f"{UC}/models/{MODEL}/versions"),
        lambda: client.get(f"{UC}/models/{MODEL}/versions/1"),
        lambda: client.delete(f"{UC}/models/{MODEL}/versions/1"),
        lambda: client.delete(f"{UC}/models/{MODEL}?force=true"),
        lambda: client.put(f"{UC}/models/{MODEL}/aliases/Champion", {"version_num": 1}, format="json"),
    ]
    for call in calls:
        response = call()
        assert response.status_code == 404, response.content
        assert response.json() == {"error_code": "RESOURCE_DOES_NOT_EXIST",
                                   "message": f"Registered Model with name={MODEL} not found"}
    assert state_fingerprint() == before

    # The owner succeeds at each of them.
    assert api(owner).get(f"{UC}/models/{MODEL}").status_code == 200
    assert api(owner).patch(f"{UC}/models/{MODEL}", {"comment": "owned"}, format="json").status_code == 200
    assert api(owner).get(f"{UC}/models/{MODEL}/versions/1").status_code == 200

    granted = api(owner).patch(f"{UC}/permissions/function/{MODEL}",
                               {"changes": [{"principal": "reader", "add": ["EXECUTE"]}]}, format="json")
    assert granted.status_code == 200, granted.content
    assert granted.json() == {"privilege_assignments": [{"principal": "reader", "privileges": ["EXECUTE"]}]}

    assert client.get(f"{UC}/models/{MODEL}").json()["comment"] == "owned"
    assert [m["full_name"] for m in client.get(f"{UC}/models").json()["registered_models"]] == [MODEL]
    assert client.get(f"{UC}/models/{MODEL}/versions/1").json()["version"] == 1  # load
    before = state_fingerprint()
    for call in calls[1:2] + calls[2:3] + calls[5:]:
        response = call()
        assert response.status_code == 403, response.content
        assert error(response) == "PERMISSION_DENIED"
    assert state_fingerprint() == before
