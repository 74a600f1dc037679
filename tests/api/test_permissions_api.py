"""Grants over REST: the permissions API (GET/PATCH), effective permissions with where each privilege comes
from, the statements endpoint, and groups — each change audited with the request or statement that made it."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from registry.models import AuditEvent, Grant
from registry.services.grants import grant_add, owner_set
from tests.registry.factories import make_model, state_fingerprint

UC = "/api/2.1/unity-catalog"
MODEL = "prod.ml_team.iris"


def error(response) -> str:
    return response.json()["error_code"]


@pytest.fixture
def iris(governed, owner):
    return make_model(owner, MODEL)


# --- GET/PATCH permissions ---------------------------------------------------------------------------------

@pytest.mark.django_db
def test_get_permissions_of_a_catalog_lists_direct_grants_per_principal(api, admin, governed, reader, team):
    grant_add(actor=admin, securable=governed.catalog, principal=team, privilege="CREATE SCHEMA")
    body = api(reader).get(f"{UC}/permissions/catalog/prod").json()
    assert body == {"privilege_assignments": [
        {"principal": "ml_team", "privileges": ["CREATE_SCHEMA"]},
        {"principal": "owner", "privileges": ["USE_CATALOG"]},
        {"principal": "reader", "privileges": ["USE_CATALOG"]},
    ]}
    only = api(reader).get(f"{UC}/permissions/catalog/prod", {"principal": "ml_team"}).json()
    assert only == {"privilege_assignments": [{"principal": "ml_team", "privileges": ["CREATE_SCHEMA"]}]}


@pytest.mark.django_db
@pytest.mark.parametrize("securable_type", ["function", "registered_model", "FUNCTION"])
def test_models_are_function_securables(api, iris, owner, reader, securable_type):
    response = api(owner).patch(f"{UC}/permissions/{securable_type}/{MODEL}",
                                {"changes": [{"principal": "reader", "add": ["execute", "APPLY_TAG"]}]},
                                format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"privilege_assignments": [{"principal": "reader",
                                                           "privileges": ["APPLY_TAG", "EXECUTE"]}]}
    removed = api(owner).patch(f"{UC}/permissions/{securable_type}/{MODEL}",
                               {"changes": [{"principal": "reader", "add": [], "remove": ["APPLY TAG"]}]},
                               format="json")
    assert removed.json() == {"privilege_assignments": [{"principal": "reader", "privileges": ["EXECUTE"]}]}


@pytest.mark.django_db
def test_patch_is_audited_with_the_request(api, admin, governed, team):
    body = {"changes": [{"principal": "ml_team", "add": ["USE SCHEMA", "CREATE MODEL"]}]}
    assert api(admin).patch(f"{UC}/permissions/schema/prod.ml_team", body, format="json").status_code == 200
    events = AuditEvent.objects.filter(action="grant.add", parameters__principal="ml_team")
    assert events.count() == 2
    for event in events:
        assert event.via == "api" and event.actor_name == "admin" and event.object_name == "prod.ml_team"
        assert event.parameters["statement"].startswith("PATCH /api/2.1/unity-catalog/permissions/schema/prod.ml_team")
        assert "CREATE MODEL" in event.parameters["statement"]


@pytest.mark.django_db
def test_only_grant_managers_may_patch(api, iris, reader, outsider):
    grant_add(actor=iris.owner_user, securable=iris, principal=reader, privilege="EXECUTE")
    before = state_fingerprint()
    body = {"changes": [{"principal": "outsider", "add": ["EXECUTE"]}]}
    seen = api(reader).patch(f"{UC}/permissions/function/{MODEL}", body, format="json")
    assert seen.status_code == 403 and error(seen) == "PERMISSION_DENIED"
    assert api(reader).get(f"{UC}/permissions/function/{MODEL}").status_code == 200
    hidden = api(outsider).patch(f"{UC}/permissions/function/{MODEL}", body, format="json")
    assert hidden.status_code == 404
    assert api(outsider).get(f"{UC}/permissions/function/{MODEL}").status_code == 404
    assert api(outsider).get(f"{UC}/permissions/catalog/prod").status_code == 404
    assert state_fingerprint() == before
    # The reader's refusal is audited by the service; the outsider never gets past "not found".
    assert AuditEvent.objects.filter(action="permissions.update", outcome="denied").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize("body", [
    {"changes": [{"principal": "reader", "add": ["EXECUTE"]}, {"principal": "nobody", "add": ["EXECUTE"]}]},
    {"changes": [{"principal": "reader", "add": ["EXECUTE", "SUPERUSER"]}]},
    {"changes": [{"principal": "reader", "add": ["EXECUTE", "USE CATALOG"]}]},  # not grantable on a model
    {"changes": [{"principal": "reader", "add": "EXECUTE"}]},
    {"changes": [{"principal": "reader", "add": ["EXECUTE"], "grant_option": True}]},
    {"changes": ["reader"]},
    {"changes": {"principal": "reader"}},
    {},
    ["changes"],
])
def test_bad_patches_are_400_and_all_or_nothing(api, iris, owner, body):
    before = state_fingerprint()
    response = api(owner).patch(f"{UC}/permissions/function/{MODEL}", body, format="json")
    assert response.status_code == 400, response.content
    assert error(response) in ("INVALID_PARAMETER_VALUE", "MALFORMED_REQUEST")
    assert state_fingerprint() == before


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["table/prod.ml_team.iris", "catalog/prod.ml_team", "schema/prod",
                                  "function/prod.ml_team", "metastore/prod", "schema/prod.ml%20team"])
def test_bad_securables_are_400(api, admin, iris, path):
    response = api(admin).get(f"{UC}/permissions/{path}")
    assert response.status_code == 400, response.content


def test_anonymous_gets_401(db):
    assert APIClient().get(f"{UC}/permissions/catalog/prod").status_code == 401
    assert APIClient().post(f"{UC}/statements", {"statement": "SHOW GRANTS"}, format="json").status_code == 401


# --- effective permissions ---------------------------------------------------------------------------------

@pytest.mark.django_db
def test_effective_permissions_show_where_each_privilege_comes_from(api, admin, iris, reader, member, team):
    grant_add(actor=admin, securable=iris, principal=team, privilege="EXECUTE")
    grant_add(actor=admin, securable=iris.schema, principal=member, privilege="USE SCHEMA")
    grant_add(actor=admin, securable=iris.schema.catalog, principal=team, privilege="USE CATALOG")
    body = api(admin).get(f"{UC}/effective-permissions/function/{MODEL}", {"principal": "member"}).json()
    assert body == {"privilege_assignments": [{"principal": "member", "privileges": [
        {"privilege": "EXECUTE", "via_group": "ml_team"},
        {"privilege": "USE_SCHEMA", "inherited_from_type": "SCHEMA", "inherited_from_name": "prod.ml_team"},
        {"privilege": "USE_CATALOG", "inherited_from_type": "CATALOG", "inherited_from_name": "prod",
         "via_group": "ml_team"},
    ]}]}
    owner_view = api(admin).get(f"{UC}/effective-permissions/registered_model/{MODEL}",
                                {"principal": "owner"}).json()["privilege_assignments"][0]["privileges"]
    assert {"privilege": "OWN"} in owner_view
    assert {"privilege": "USE_SCHEMA", "inherited_from_type": "SCHEMA",
            "inherited_from_name": "prod.ml_team"} in owner_view
    # CREATE MODEL on the schema means nothing for the model itself, so it is not listed there.
    assert all(p["privilege"] != "CREATE_MODEL" for p in owner_view)


@pytest.mark.django_db
def test_effective_permissions_of_everyone_include_owners_and_admins(api, admin, iris):
    everyone = api(admin).get(f"{UC}/effective-permissions/schema/prod.ml_team").json()["privilege_assignments"]
    by_name = {a["principal"]: a["privileges"] for a in everyone}
    assert {"privilege": "OWN"} in by_name["admin"]
    assert {"privilege": "USE_CATALOG", "inherited_from_type": "CATALOG",
            "inherited_from_name": "prod"} in by_name["reader"]
    admin_view = api(admin).get(f"{UC}/effective-permissions/catalog/prod", {"principal": "admin"}).json()
    assert {"privilege": "ALL_PRIVILEGES", "via_metastore_admin": True} in \
        admin_view["privilege_assignments"][0]["privileges"]


@pytest.mark.django_db
def test_group_ownership_shows_as_own_via_group(api, admin, iris, member, team):
    owner_set(actor=admin, securable=iris, principal=team)
    body = api(admin).get(f"{UC}/effective-permissions/function/{MODEL}", {"principal": "member"}).json()
    assert body["privilege_assignments"][0]["privileges"] == [{"privilege": "OWN", "via_group": "ml_team"}]


# --- statements --------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_statement_endpoint_grants_and_shows(api, admin, iris, reader):
    text = f"GRANT EXECUTE ON MODEL {MODEL} TO reader"
    response = api(admin).post(f"{UC}/statements", {"statement": text}, format="json")
    assert response.status_code == 200, response.content
    assert response.json() == {"statement_type": "GRANT", "securable_type": "model", "full_name": MODEL,
                               "principal": "reader", "privileges": ["EXECUTE"]}
    assert Grant.objects.filter(model=iris, user=reader, privilege="EXECUTE").exists()
    assert AuditEvent.objects.get(action="grant.add", object_name=MODEL).parameters["statement"] == text
    shown = api(reader).post(f"{UC}/statements", {"statement": f"SHOW GRANTS reader ON FUNCTION {MODEL}"},
                             format="json").json()
    assert shown["columns"] == ["principal", "action_type", "object_type", "object_key"]
    assert shown["rows"] == [
        {"principal": "reader", "action_type": "EXECUTE", "object_type": "FUNCTION", "object_key": MODEL},
        {"principal": "reader", "action_type": "USE SCHEMA", "object_type": "SCHEMA", "object_key": "prod.ml_team"},
        {"principal": "reader", "action_type": "USE CATALOG", "object_type": "CATALOG", "object_key": "prod"},
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("body", [{}, {"statement": 5}, {"statement": ["GRANT"]}, {"statement": ""},
                                  {"statement": "GRANT EXECUTE ON MODEL prod.ml_team.iris TO reader; DROP TABLE x"}])
def test_bad_statement_requests_are_400(api, admin, iris, body):
    before = state_fingerprint()
    response = api(admin).post(f"{UC}/statements", body, format="json")
    assert response.status_code == 400 and error(response) == "INVALID_PARAMETER_VALUE"
    assert state_fingerprint() == before


@pytest.mark.django_db
def test_statement_on_a_hidden_object_is_404_for_everyone_but_its_managers(api, iris, outsider):
    response = api(outsider).post(f"{UC}/statements", {"statement": f"GRANT EXECUTE ON MODEL {MODEL} TO outsider"},
                                  format="json")
    assert response.status_code == 404
    assert not Grant.objects.filter(user=outsider).exists()
    assert AuditEvent.objects.filter(action="statement.execute", outcome="denied").exists()


# --- groups ------------------------------------------------------------------------------------------------

@pytest.mark.django_db
def test_admin_manages_groups_and_members_over_rest(api, admin, reader, owner):
    client = api(admin)
    created = client.post(f"{UC}/groups", {"name": "data-eng"}, format="json")
    assert created.status_code == 200 and created.json()["members"] == []
    assert client.post(f"{UC}/groups/data-eng/members", {"user": "reader"}, format="json").json()["members"] == [
        "reader"]
    client.post(f"{UC}/groups/data-eng/members", {"user": "owner"}, format="json")
    assert client.get(f"{UC}/groups/data-eng").json()["members"] == ["owner", "reader"]
    assert client.delete(f"{UC}/groups/data-eng/members/reader").json()["members"] == ["owner"]
    assert [g["name"] for g in api(reader).get(f"{UC}/groups").json()["groups"]] == ["data-eng"]
    assert "members" not in api(reader).get(f"{UC}/groups").json()["groups"][0]
    assert client.delete(f"{UC}/groups/data-eng").json() == {}
    assert client.get(f"{UC}/groups/data-eng").status_code == 404
    actions = list(AuditEvent.objects.filter(action__startswith="group.").values_list("action", flat=True))
    assert sorted(actions) == ["group.create", "group.delete", "group.member_add", "group.member_add",
                               "group.member_remove"]


@pytest.mark.django_db
def test_group_grants_work_through_statements(api, admin, iris, make_user):
    analyst = make_user("analyst")
    client = api(admin)
    client.post(f"{UC}/groups", {"name": "ml-readers"}, format="json")
    client.post(f"{UC}/groups/ml-readers/members", {"user": "analyst"}, format="json")
    for text in ("GRANT USE CATALOG ON CATALOG prod TO `ml-readers`",
                 "GRANT USE_SCHEMA ON SCHEMA prod.ml_team TO `ml-readers`",
                 f"GRANT EXECUTE ON REGISTERED MODEL {MODEL} TO 'ml-readers'"):
        assert client.post(f"{UC}/statements", {"statement": text}, format="json").status_code == 200
    assert api(analyst).get(f"{UC}/models/{MODEL}").status_code == 200


@pytest.mark.django_db
@pytest.mark.parametrize("request_", [
    ("post", "/groups", {"name": "x"}), ("post", "/groups/ml_team/members", {"user": "reader"}),
    ("delete", "/groups/ml_team/members/member", None), ("delete", "/groups/ml_team", None),
])
def test_only_admins_change_groups(api, reader, member, team, request_):
    method, path, body = request_
    response = getattr(api(reader), method)(f"{UC}{path}", body, format="json")
    assert response.status_code == 403
    assert sorted(team.user_set.values_list("username", flat=True)) == ["member"]


@pytest.mark.django_db
@pytest.mark.parametrize("name", ["", " padded", "a\x00b", "x" * 151, "group:x", 7, "reader", "ml_team"])
def test_bad_group_names_are_400(api, admin, reader, team, name):
    response = api(admin).post(f"{UC}/groups", {"name": name}, format="json")
    assert response.status_code == 400, response.content
