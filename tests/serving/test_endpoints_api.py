"""Serving endpoints over REST, the web side: the Databricks shapes of create/get/list/update_config/delete and
the permissions API, validation (names, entities, routes summing to 100), who may do what (creator manages;
CAN_VIEW/CAN_QUERY/CAN_MANAGE granted to users and groups; EXECUTE on the served models), the rollout of a config
update (the old config answers until the new one is READY; a failed update leaves it serving), the routing, the
per-entity metrics, and the audit trail.

Deployments are made READY by hand at a real MLflow scoring server, as a supervisor leaves them;
tests/serving/test_endpoints_sdk.py runs the real supervisor with the real databricks-sdk."""
from __future__ import annotations

from collections import Counter
from datetime import timedelta

import pytest
from django.utils import timezone

from registry.models import AuditEvent, ServingDeployment, ServingEndpoint, ServingEndpointMinute
from registry.serving import endpoint_metrics
from registry.serving.endpoint_routing import route
from registry.serving.reconcile import reconcile_all
from registry.services.grants import grant_add
from registry.services.versions import model_version_mark_ready
from tests.registry.factories import make_model, make_version
from tests.serving.legacy_fixtures import ScoringServer, save_iris

API = "/api/2.0/serving-endpoints"
PERMISSIONS = "/api/2.0/permissions/serving-endpoints"
UC, WS = "prod.ml_team.iris", "iris_ws"
SIGNATURE = {"inputs": [{"type": "double", "name": n, "required": True} for n in
                        ("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)")],
             "outputs": [{"type": "long", "required": True}], "params": None}


@pytest.fixture(scope="module")
def iris_server(tmp_path_factory):
    root = tmp_path_factory.mktemp("iris")
    model, X = save_iris(root / "model")
    server = ScoringServer(root / "model", root / "server.log")
    try:
        server.wait_ready()
        server.X = X
        yield server
    finally:
        server.stop()


@pytest.fixture
def models(governed, admin, owner, reader):
    """Two READY versions of a three-level and of a workspace model, owned by `owner`; `reader` has EXECUTE."""
    for name in (UC, WS):
        model = make_model(owner, name)
        for _ in range(2):
            version = make_version(owner, name)
            if model.is_unity_catalog:
                model_version_mark_ready(version_id=version.pk, signature=SIGNATURE)
        grant_add(actor=owner, securable=model, principal=reader, privilege="EXECUTE")


def split_config(name=UC, a="1", b="2", pa=90, pb=10) -> dict:
    return {"served_entities": [{"entity_name": name, "entity_version": a, "workload_size": "Small",
                                 "scale_to_zero_enabled": True},
                                {"name": "challenger", "entity_name": name, "entity_version": b}],
            "traffic_config": {"routes": [{"served_model_name": f"{name.replace('.', '_')}-{a}",
                                           "traffic_percentage": pa},
                                          {"served_entity_name": "challenger", "traffic_percentage": pb}]}}


def create(client, name="iris", config=None):
    return client.post(API, {"name": name, "config": config or split_config()}, format="json")


def make_ready(endpoint_name: str, address: str, *, state="READY", generation=None) -> None:
    """What a supervisor does once the pools answer, then its next reconcile (and what that schedules on commit:
    the retirement of a config that lost)."""
    deployments = ServingDeployment.objects.filter(endpoint__name=endpoint_name, state="PENDING")
    if generation is not None:
        deployments = deployments.filter(generation=generation)
    deployments.update(state=state, address=address if state == "READY" else "", supervisor="test:1",
                       message="" if state == "READY" else "No module named 'nothing'",
                       lease_expires_at=timezone.now() + timedelta(minutes=5))
    from django.test import TestCase

    with TestCase.captureOnCommitCallbacks(execute=True):
        reconcile_all()


def query(client, name: str, X, **extra):
    body = {"dataframe_split": {"columns": list(X.columns), "data": X.values[:2].tolist()}}
    return client.post(f"/serving-endpoints/{name}/invocations", body, format="json", **extra)


# Create, get, list -------------------------------------------------------------------------------------------

def test_create_answers_the_databricks_shape_and_rolls_out(api, models, reader, iris_server):
    client = api(reader)
    response = create(client)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["name"] == "iris" and body["creator"] == "reader" and body["permission_level"] == "CAN_MANAGE"
    assert body["state"] == {"ready": "NOT_READY", "config_update": "IN_PROGRESS"}
    assert "config" not in body
    pending = body["pending_config"]
    assert pending["config_version"] == 1
    assert [(e["name"], e["entity_name"], e["entity_version"], e["workload_size"]) for e in pending["served_entities"]] \
        == [("prod_ml_team_iris-1", UC, "1", "Small"), ("challenger", UC, "2", "Small")]
    assert pending["served_entities"][0]["state"]["deployment"] == "DEPLOYMENT_CREATING"
    assert pending["traffic_config"]["routes"][0] == {"served_model_name": "prod_ml_team_iris-1",
                                                       "served_entity_name": "prod_ml_team_iris-1",
                                                       "traffic_percentage": 90}
    assert AuditEvent.objects.filter(action="serving_endpoint.create", outcome="success", object_name="iris").exists()

    reconcile_all()  # what the commit's callback does
    assert ServingDeployment.objects.filter(endpoint__name="iris", state="PENDING").count() == 2
    make_ready("iris", iris_server.address)
    body = client.get(f"{API}/iris").json()
    assert body["state"] == {"ready": "READY", "config_update": "NOT_UPDATING"}
    assert "pending_config" not in body
    assert [e["state"]["deployment"] for e in body["config"]["served_entities"]] == ["DEPLOYMENT_READY"] * 2
    assert body["config"]["served_models"][1]["model_name"] == UC

    listed = client.get(API).json()["endpoints"]
    assert [(e["name"], e["state"]["ready"]) for e in listed] == [("iris", "READY")]
    assert listed[0]["config"]["served_entities"][1] == {"name": "challenger", "entity_name": UC, "entity_version": "2"}


def test_an_alias_is_pinned_to_its_version_and_kept_as_an_extension(api, models, owner, reader):
    from registry.services.aliases import alias_set

    alias_set(actor=owner, name=WS, alias="champion", version=2)
    config = {"served_entities": [{"entity_name": WS, "entity_version": "champion"}]}
    response = create(api(reader), config=config)
    assert response.status_code == 200, response.content
    entity = response.json()["pending_config"]["served_entities"][0]
    assert (entity["name"], entity["entity_version"], entity["entity_alias"]) == ("iris_ws-2", "2", "champion")
    assert response.json()["pending_config"]["traffic_config"]["routes"][0]["traffic_percentage"] == 100


def test_the_deprecated_served_models_spelling_is_accepted(api, models, reader):
    config = {"served_models": [{"model_name": UC, "model_version": "2", "workload_size": "Medium"}]}
    response = create(api(reader), config=config)
    assert response.status_code == 200, response.content
    pending = response.json()["pending_config"]
    assert pending["served_models"][0]["model_name"] == UC and pending["served_models"][0]["model_version"] == "2"
    assert pending["served_entities"][0]["name"] == "prod_ml_team_iris-2"
    reconcile_all()
    assert ServingDeployment.objects.get(endpoint__name="iris").workers == 2  # Medium


@pytest.mark.parametrize("config, says", [
    (split_config(pa=80, pb=10), "must sum to 100, got 90"),
    (split_config(pa=90, pb=20), "must sum to 100, got 110"),
    ({**split_config(), "traffic_config": {"routes": [{"served_entity_name": "nobody", "traffic_percentage": 100}]}},
     "not in served_entities"),
    ({"served_entities": []}, "non-empty list"),
    ({"served_entities": [{"entity_name": UC}]}, "entity_version is required"),
    ({"served_entities": [{"entity_name": UC, "entity_version": "1", "workload_size": "Huge"}]}, "workload_size"),
    ({"served_entities": [{"entity_name": UC, "entity_version": "1"}, {"entity_name": UC, "entity_version": "2"}]},
     "traffic_config.routes is required"),
    ({"served_entities": [{"entity_name": UC, "entity_version": "1"}, {"entity_name": UC, "entity_version": "1"}]},
     "used twice"),
])
def test_invalid_configs_are_400_saying_what_is_wrong(api, models, reader, config, says):
    response = create(api(reader), config=config)
    assert response.status_code == 400, response.content
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    assert says in response.json()["message"]
    assert not ServingEndpoint.objects.exists()


@pytest.mark.parametrize("name", ["", "has space", "a" * 64, "dots.not.allowed"])
def test_invalid_endpoint_names_are_400(api, models, reader, name):
    response = create(api(reader), name=name)
    assert response.status_code == 400 and response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_a_second_endpoint_of_the_same_name_is_refused(api, models, reader):
    assert create(api(reader)).status_code == 200
    response = create(api(reader))
    assert response.status_code == 400 and response.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"


def test_serving_a_model_without_execute_is_not_found(api, models, outsider):
    response = create(api(outsider))
    assert response.status_code == 404 and response.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert AuditEvent.objects.filter(action="serving_endpoint.create", outcome__in=["failed", "denied"]).exists()
    assert not ServingEndpoint.objects.exists()


# Config updates ----------------------------------------------------------------------------------------------

def test_update_keeps_the_old_config_serving_until_the_new_one_is_ready(api, models, reader, iris_server):
    client = api(reader)
    create(client)
    reconcile_all()
    make_ready("iris", iris_server.address)
    new = {"served_entities": [{"name": "next", "entity_name": WS, "entity_version": "2"}],
           "traffic_config": {"routes": [{"served_model_name": "next", "traffic_percentage": 100}]}}
    response = client.put(f"{API}/iris/config", new, format="json")
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["state"] == {"ready": "READY", "config_update": "IN_PROGRESS"}
    assert body["config"]["config_version"] == 1 and body["pending_config"]["config_version"] == 2
    reconcile_all()
    again = client.put(f"{API}/iris/config", new, format="json")
    assert again.status_code == 409 and again.json()["error_code"] == "RESOURCE_CONFLICT"
    answered = {query(client, "iris", iris_server.X)["served-model-name"] for _ in range(20)}
    assert answered <= {"prod_ml_team_iris-1", "challenger"}  # the old config still answers

    make_ready("iris", iris_server.address, generation=2)
    body = client.get(f"{API}/iris").json()
    assert body["state"] == {"ready": "READY", "config_update": "NOT_UPDATING"}
    assert [e["name"] for e in body["config"]["served_entities"]] == ["next"]
    old = ServingDeployment.objects.filter(endpoint__name="iris", generation=1)
    assert set(old.values_list("state", flat=True)) == {"DRAINING"}  # leased: its supervisor drains it
    assert query(client, "iris", iris_server.X)["served-model-name"] == "next"
    assert AuditEvent.objects.filter(action="serving_endpoint.update_config", outcome="success").exists()


def test_an_unchanged_entity_keeps_its_deployment_across_an_update(api, models, reader, iris_server):
    client = api(reader)
    create(client)
    reconcile_all()
    make_ready("iris", iris_server.address)
    config = split_config(pa=50, pb=50)
    assert client.put(f"{API}/iris/config", config, format="json").status_code == 200
    reconcile_all()
    body = client.get(f"{API}/iris").json()
    assert body["state"]["config_update"] == "NOT_UPDATING"  # nothing to deploy: switched at once
    assert ServingDeployment.objects.filter(endpoint__name="iris").count() == 2
    assert [r["traffic_percentage"] for r in body["config"]["traffic_config"]["routes"]] == [50, 50]


def test_a_failed_update_leaves_the_old_config_serving(api, models, reader, iris_server):
    client = api(reader)
    create(client)
    reconcile_all()
    make_ready("iris", iris_server.address)
    client.put(f"{API}/iris/config", {"served_entities": [{"entity_name": WS, "entity_version": "1"}]}, format="json")
    reconcile_all()
    make_ready("iris", iris_server.address, state="FAILED", generation=2)
    body = client.get(f"{API}/iris").json()
    assert body["state"] == {"ready": "READY", "config_update": "UPDATE_FAILED"}
    assert "No module named 'nothing'" in body["state_message"]
    assert body["config"]["config_version"] == 1 and "pending_config" not in body
    assert query(client, "iris", iris_server.X).status_code == 200
    # A failed update does not block the next one.
    assert client.put(f"{API}/iris/config", split_config(), format="json").status_code == 200


# Permissions -------------------------------------------------------------------------------------------------

def test_permissions_creator_manages_grants_to_users_and_groups(api, models, reader, outsider, member, team, owner):
    client = api(reader)
    endpoint_id = create(client).json()["id"]
    reconcile_all()
    make_ready("iris", "http://127.0.0.1:9")  # the first config rolled out: updates are possible
    acl = client.get(f"{PERMISSIONS}/{endpoint_id}").json()
    assert acl["object_id"] == f"/serving-endpoints/{endpoint_id}" and acl["object_type"] == "serving-endpoint"
    assert acl["access_control_list"] == [{"user_name": "reader", "display_name": "reader", "all_permissions": [
        {"permission_level": "CAN_MANAGE", "inherited": False}]}]

    assert api(outsider).get(f"{API}/iris").status_code == 404
    assert api(outsider).get(f"{PERMISSIONS}/{endpoint_id}").status_code == 404
    assert api(outsider).get(API).json() == {"endpoints": []}

    response = client.put(f"{PERMISSIONS}/{endpoint_id}", {"access_control_list": [
        {"user_name": "outsider", "permission_level": "CAN_VIEW"},
        {"group_name": "ml_team", "permission_level": "CAN_QUERY"}]}, format="json")
    assert response.status_code == 200, response.content
    levels = {(e.get("user_name") or e.get("group_name")): e["all_permissions"][0]["permission_level"]
              for e in response.json()["access_control_list"]}
    assert levels == {"reader": "CAN_MANAGE", "outsider": "CAN_VIEW", "ml_team": "CAN_QUERY"}
    assert api(outsider).get(f"{API}/iris").json()["permission_level"] == "CAN_VIEW"
    assert api(member).get(f"{API}/iris").json()["permission_level"] == "CAN_QUERY"
    refused = api(outsider).put(f"{API}/iris/config", split_config(), format="json")
    assert refused.status_code == 403 and refused.json()["error_code"] == "PERMISSION_DENIED"
    assert api(member).delete(f"{API}/iris").status_code == 403

    response = client.patch(f"{PERMISSIONS}/{endpoint_id}", {"access_control_list": [
        {"user_name": "owner", "permission_level": "CAN_MANAGE"}]}, format="json")
    assert len(response.json()["access_control_list"]) == 4  # PATCH adds; PUT replaced
    assert api(owner).put(f"{API}/iris/config", split_config(pa=70, pb=30), format="json").status_code == 200
    response = client.put(f"{PERMISSIONS}/{endpoint_id}", {"access_control_list": []}, format="json")
    assert [e["user_name"] for e in response.json()["access_control_list"]] == ["reader"]  # the creator stays
    assert api(outsider).get(f"{API}/iris").status_code == 404
    assert AuditEvent.objects.filter(action="serving_endpoint.update_permissions", outcome="success").count() == 3


@pytest.mark.parametrize("entry, says", [
    ({"user_name": "nobody", "permission_level": "CAN_QUERY"}, "does not exist"),
    ({"user_name": "owner", "permission_level": "CAN_EVERYTHING"}, "permission_level must be one of"),
    ({"permission_level": "CAN_QUERY"}, "exactly one user_name or group_name"),
])
def test_invalid_permission_entries_are_400(api, models, reader, entry, says):
    endpoint_id = create(api(reader)).json()["id"]
    response = api(reader).patch(f"{PERMISSIONS}/{endpoint_id}", {"access_control_list": [entry]}, format="json")
    assert response.status_code == 400 and says in response.json()["message"]


def test_querying_needs_can_query_and_execute_on_the_served_models(api, models, reader, outsider, member, admin,
                                                                     iris_server):
    client = api(reader)
    endpoint_id = create(client).json()["id"]
    reconcile_all()
    make_ready("iris", iris_server.address)
    response = query(client, "iris", iris_server.X)
    assert response.status_code == 200, response.content
    assert response["served-model-name"] in ("prod_ml_team_iris-1", "challenger")
    assert len(response.json()["predictions"]) == 2

    assert query(api(outsider), "iris", iris_server.X).status_code == 404
    client.put(f"{PERMISSIONS}/{endpoint_id}", {"access_control_list": [
        {"user_name": "outsider", "permission_level": "CAN_VIEW"},
        {"user_name": "member", "permission_level": "CAN_QUERY"}]}, format="json")
    viewer = query(api(outsider), "iris", iris_server.X)
    assert viewer.status_code == 403 and "CAN_QUERY" in viewer.json()["message"]
    no_execute = query(api(member), "iris", iris_server.X)  # CAN_QUERY, but no EXECUTE on the model
    assert no_execute.status_code == 403 and "EXECUTE on model prod.ml_team.iris" in no_execute.json()["message"]
    assert query(api(admin), "iris", iris_server.X).status_code == 200
    assert query(api(), "iris", iris_server.X).status_code == 401
    assert client.post("/serving-endpoints/none/invocations", {}, format="json").status_code == 404


def test_a_renamed_model_keeps_answering_and_execute_is_still_checked(api, models, owner, reader, iris_server):
    from registry.services.grants import grant_remove
    from registry.services.models import registered_model_rename

    client = api(reader)
    create(client, config={"served_entities": [{"entity_name": WS, "entity_version": "1"}]})
    reconcile_all()
    make_ready("iris", iris_server.address)
    registered_model_rename(actor=owner, name=WS, new_name="iris_ws_renamed")
    assert query(client, "iris", iris_server.X).status_code == 200
    assert client.get(f"{API}/iris").json()["config"]["served_entities"][0]["entity_name"] == "iris_ws_renamed"
    grant_remove(actor=owner, securable=models_by_name("iris_ws_renamed"), principal=reader, privilege="EXECUTE")
    assert query(client, "iris", iris_server.X).status_code == 403  # revoking EXECUTE takes effect at once


def models_by_name(name):
    from registry.models import RegisteredModel

    return RegisteredModel.objects.get(name=name)


def test_a_query_before_anything_is_ready_is_503(api, models, reader, iris_server):
    client = api(reader)
    create(client)
    response = query(client, "iris", iris_server.X)
    assert response.status_code == 503 and response.json()["error_code"] == "TEMPORARILY_UNAVAILABLE"


# Routing and metrics -----------------------------------------------------------------------------------------

def test_routing_follows_the_percentages_over_ready_entities(api, models, reader, iris_server):
    create(api(reader))
    reconcile_all()
    make_ready("iris", iris_server.address)
    counts = Counter(route(actor=reader, name="iris").entity["name"] for _ in range(2000))
    assert 0.87 < counts["prod_ml_team_iris-1"] / 2000 < 0.93, counts
    # An entity that stops being READY gets none of the traffic; the others take all of it.
    ServingDeployment.objects.filter(endpoint__name="iris", entity_name="prod_ml_team_iris-1").update(state="FAILED")
    assert {route(actor=reader, name="iris").entity["name"] for _ in range(50)} == {"challenger"}


def test_metrics_count_requests_and_latency_per_entity_over_the_last_hour(api, models, reader, iris_server):
    client = api(reader)
    create(client)
    reconcile_all()
    make_ready("iris", iris_server.address)
    answered = Counter(query(client, "iris", iris_server.X)["served-model-name"] for _ in range(30))
    endpoint = ServingEndpoint.objects.get(name="iris")
    ServingEndpointMinute.objects.create(endpoint=endpoint, entity_name="challenger", count=500, bucket=3,
                                         minute=timezone.now() - timedelta(hours=2))  # outside the window
    metrics = client.get(f"{API}/iris").json()["served_entity_metrics"]
    assert {name: m["request_count"] for name, m in metrics.items()} == dict(answered)
    some = next(iter(metrics.values()))
    assert 0 < some["latency_p50_ms"] <= some["latency_p99_ms"]
    assert sum(m["request_count"] for m in some["per_minute"]) == some["request_count"]


def test_percentiles_read_off_the_histogram():
    histogram = {endpoint_metrics.bucket_of(3): 50, endpoint_metrics.bucket_of(100): 49,
                 endpoint_metrics.bucket_of(5000): 1}
    assert endpoint_metrics._percentile(histogram, 100, 0.5) == 3.0
    assert endpoint_metrics._percentile(histogram, 100, 0.99) == 100.0
    assert endpoint_metrics._percentile({}, 0, 0.5) is None


# Delete ------------------------------------------------------------------------------------------------------

def test_delete_removes_the_endpoint_and_its_deployments_and_is_audited(api, models, reader, outsider):
    client = api(reader)
    create(client)
    reconcile_all()
    assert api(outsider).delete(f"{API}/iris").status_code == 404
    response = client.delete(f"{API}/iris")
    assert response.status_code == 200 and response.json() == {}
    assert client.get(f"{API}/iris").status_code == 404
    assert not ServingDeployment.objects.filter(endpoint__isnull=False).exists()
    assert AuditEvent.objects.filter(action="serving_endpoint.delete", outcome="success", object_name="iris").exists()
    assert AuditEvent.objects.filter(action="serving_endpoint.delete", outcome="failed").exists() or \
        AuditEvent.objects.filter(action="serving_endpoint.delete", outcome="denied").exists()
