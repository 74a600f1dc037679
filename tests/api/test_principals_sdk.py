"""Service principals, groups and their tokens through the real `databricks-sdk` (SCIM ServicePrincipals and
Groups, token-management on-behalf-of tokens), against a live server; the token then used by the unmodified
mlflow client and the serving door, and refused once revoked or the principal deactivated."""
from __future__ import annotations

import pytest
import requests
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import NotFound, PermissionDenied
from databricks.sdk.service.iam import ComplexValue, Patch, PatchOp, PatchSchema
from mlflow import MlflowClient

from registry.services.grants import grant_add, principal_resolve
from registry.services.tokens import token_create
from tests.registry.factories import make_model, make_version

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MODEL = "prod.ml_team.iris"


def workspace(live_server, user) -> WorkspaceClient:
    return WorkspaceClient(host=live_server.url, token=token_create(actor=user, user=user)[1], auth_type="pat")


def test_sdk_service_principal_lifecycle_and_obo_token(live_server, admin, owner, governed, monkeypatch):
    w = workspace(live_server, admin)
    sp = w.service_principals.create(display_name="ci-bot")
    assert sp.id and sp.application_id and sp.display_name == "ci-bot" and sp.active is True
    assert [p.display_name for p in w.service_principals.list()] == ["ci-bot"]
    assert [p.id for p in w.service_principals.list(filter='displayName eq "ci-bot"')] == [sp.id]
    assert list(w.service_principals.list(filter='displayName co "nobody"')) == []
    assert w.service_principals.get(sp.id).application_id == sp.application_id

    # Grants name it by its application id, like any principal.
    model = make_model(owner, MODEL)
    make_version(owner, MODEL)
    principal = principal_resolve(sp.application_id)
    grant_add(actor=admin, securable=governed.catalog, principal=principal, privilege="USE CATALOG")
    grant_add(actor=admin, securable=governed, principal=principal, privilege="USE SCHEMA")
    grant_add(actor=owner, securable=model, principal=principal, privilege="EXECUTE")

    created = w.token_management.create_obo_token(application_id=sp.application_id, lifetime_seconds=3600,
                                                  comment="ci pipeline")
    secret = created.token_value
    assert secret and created.token_info.comment == "ci pipeline" and created.token_info.owner_id == int(sp.id)
    assert 0 < created.token_info.expiry_time - created.token_info.creation_time <= 3600 * 1000
    listed = list(w.token_management.list(created_by_id=int(sp.id)))
    assert [t.token_id for t in listed] == [created.token_info.token_id]

    # The unmodified mlflow client with the service principal's token.
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", secret)
    client = MlflowClient(tracking_uri=live_server.url, registry_uri=live_server.url)
    assert client.get_registered_model(MODEL).name == MODEL
    assert [v.version for v in client.search_model_versions(f"name = '{MODEL}'")] == ["1"]
    # The serving door takes the same token.
    status = requests.get(f"{live_server.url}/api/2.0/explorer/serving/models/status",
                          params={"registered_model_name": MODEL}, headers={"Authorization": f"Bearer {secret}"},
                          timeout=10)
    assert status.status_code == 200 and status.json()["state"] == "DISABLED", status.text
    # Not served: the invocation door authenticates and authorizes it (EXECUTE), then says serving is off (to
    # whom may not read the model it would say the model does not exist).
    invoked = requests.post(f"{live_server.url}/model/{MODEL}/1/invocations", json={"inputs": [[1, 2, 3, 4]]},
                            headers={"Authorization": f"Bearer {secret}"}, timeout=10)
    assert "Serving is not enabled for model" in invoked.json()["message"], invoked.text

    # Deactivated: its token stops working at once; active again, it works again.
    # As Databricks documents it: [{"value": false}] (the SDK's Patch drops a bare False value).
    w.service_principals.patch(sp.id, operations=[Patch(op=PatchOp.REPLACE, path="active", value=[{"value": False}])],
                               schemas=[PatchSchema.URN_IETF_PARAMS_SCIM_API_MESSAGES_2_0_PATCH_OP])
    assert w.service_principals.get(sp.id).active is False
    refused = requests.get(f"{live_server.url}/api/2.0/mlflow/registered-models/get", params={"name": MODEL},
                           headers={"Authorization": f"Bearer {secret}"}, timeout=10)
    assert refused.status_code == 401 and refused.json()["error_code"] == "UNAUTHENTICATED"
    w.service_principals.patch(sp.id, operations=[Patch(op=PatchOp.REPLACE, path="active", value=True)])
    assert client.get_registered_model(MODEL).name == MODEL

    # Revoked through token management.
    w.token_management.delete(created.token_info.token_id)
    with pytest.raises(NotFound):
        w.token_management.get(created.token_info.token_id)
    refused = requests.get(f"{live_server.url}/api/2.0/mlflow/registered-models/get", params={"name": MODEL},
                           headers={"Authorization": f"Bearer {secret}"}, timeout=10)
    assert refused.status_code == 401

    w.service_principals.delete(sp.id)
    with pytest.raises(NotFound):
        w.service_principals.get(sp.id)


def test_sdk_groups_with_a_service_principal_member(live_server, admin):
    w = workspace(live_server, admin)
    sp = w.service_principals.create(display_name="deployer")
    group = w.groups.create(display_name="bots", members=[ComplexValue(value=sp.id)])
    assert group.display_name == "bots" and [m.display for m in group.members] == ["deployer"]
    w.groups.patch(group.id, operations=[Patch(op=PatchOp.REMOVE, path=f'members[value eq "{sp.id}"]')])
    assert not w.groups.get(group.id).members
    w.groups.patch(group.id, operations=[Patch(op=PatchOp.ADD, path="members", value=[{"value": sp.id}])])
    assert [g.display for g in w.service_principals.get(sp.id).groups] == ["bots"]
    assert [g.display_name for g in w.groups.list(filter='displayName sw "bo"')] == ["bots"]
    w.groups.delete(group.id)
    with pytest.raises(NotFound):
        w.groups.get(group.id)


def test_non_admins_are_refused_and_bad_input_is_400(live_server, admin, owner):
    w = workspace(live_server, owner)
    with pytest.raises(PermissionDenied):
        list(w.service_principals.list())
    with pytest.raises(PermissionDenied):
        w.token_management.create_obo_token(application_id="00000000-0000-0000-0000-000000000000")
    a = workspace(live_server, admin)
    with pytest.raises(NotFound):
        a.token_management.create_obo_token(application_id="00000000-0000-0000-0000-000000000000")
    headers = {"Authorization": f"Bearer {token_create(actor=admin, user=admin)[1]}"}
    for method, path, body in [
        ("post", "/api/2.0/preview/scim/v2/ServicePrincipals", {"displayName": "\u202e"}),
        ("post", "/api/2.0/preview/scim/v2/ServicePrincipals", ["not an object"]),
        ("get", "/api/2.0/preview/scim/v2/ServicePrincipals?filter=displayName%20gt%201", None),
        ("get", "/api/2.0/preview/scim/v2/ServicePrincipals?count=-1", None),
        ("patch", "/api/2.0/preview/scim/v2/ServicePrincipals/1", {"Operations": "x"}),
        ("post", "/api/2.0/token-management/on-behalf-of/tokens", {"application_id": 5}),
        ("get", "/api/2.0/token-management/tokens?created_by_id=abc", None),
    ]:
        response = getattr(requests, method)(f"{live_server.url}{path}", json=body, headers=headers, timeout=10)
        assert response.status_code in (400, 404), (path, response.status_code, response.text)
        assert set(response.json()) == {"error_code", "message"}


def test_principal_api_says_groups_grants_and_reach(live_server, admin, owner, governed):
    w = workspace(live_server, admin)
    sp = w.service_principals.create(display_name="scorer")
    group = w.groups.create(display_name="scorers", members=[ComplexValue(value=sp.id)])
    from django.contrib.auth.models import Group
    grant_add(actor=admin, securable=governed.catalog, principal=Group.objects.get(pk=int(group.id)),
              privilege="USE CATALOG")
    grant_add(actor=admin, securable=governed, principal=principal_resolve(sp.application_id), privilege="USE SCHEMA")
    headers = {"Authorization": f"Bearer {token_create(actor=admin, user=admin)[1]}"}
    body = requests.get(f"{live_server.url}/api/2.0/explorer/principals/service_principal/{sp.application_id}",
                        headers=headers, timeout=10).json()
    assert body["display_name"] == "scorer" and body["groups"] == ["scorers"] and body["active"] is True
    assert body["privilege_assignments"] == [{"securable_type": "SCHEMA", "full_name": "prod.ml_team",
                                              "privilege": "USE_SCHEMA"}]
    assert body["reach"]["catalogs"] == [{"full_name": "prod", "privileges": ["USE_CATALOG"],
                                          "sources": ["USE CATALOG here through group scorers"]}]
    assert body["reach"]["schemas"][0]["privileges"] == ["USE_CATALOG", "USE_SCHEMA"]
    owner_headers = {"Authorization": f"Bearer {token_create(actor=owner, user=owner)[1]}"}
    refused = requests.get(f"{live_server.url}/api/2.0/explorer/principals/user/admin", headers=owner_headers,
                           timeout=10)
    assert refused.status_code == 403 and set(refused.json()) == {"error_code", "message"}
    missing = requests.get(f"{live_server.url}/api/2.0/explorer/principals/robot/x", headers=headers, timeout=10)
    assert missing.status_code == 404 and set(missing.json()) == {"error_code", "message"}
