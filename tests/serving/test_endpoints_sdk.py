"""Serving endpoints through the real `databricks-sdk`, nothing of ours mocked: `WorkspaceClient(host=<live
server>, token=<PAT>)` creates an endpoint with a 90/10 split of two versions of an sklearn model, waits until it
is READY (a real serving supervisor, `python -m explorer.serve_models`, runs the pools), queries it 1,000 times
and sees the split within a few percent and predictions equal to the models' own, grants CAN_QUERY to a second
user, updates the config (the old one answers until the new is READY), reads the per-entity metrics, deletes."""
from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import numpy as np
import pytest
from databricks.sdk import WorkspaceClient
from databricks.sdk.errors import NotFound, PermissionDenied
from databricks.sdk.service.serving import (
    EndpointCoreConfigInput,
    EndpointStateConfigUpdate,
    EndpointStateReady,
    Route,
    ServedEntityInput,
    ServingEndpointAccessControlRequest,
    ServingEndpointPermissionLevel,
    TrafficConfig,
)

from registry.models import ModelVersion, ServingDeployment
from registry.services.grants import grant_add
from registry.services.tokens import token_create
from tests.registry.factories import make_model
from tests.serving.runtime_fixtures import SupervisorProcess, save_sklearn_model, store_files

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

MODEL = "iris_split"
QUERIES = 1000


@pytest.fixture
def supervisor(worker_env, tmp_path):
    process = SupervisorProcess({**worker_env, "SERVING_LEASE_SECONDS": "5"}, tmp_path / "supervisor.log")
    try:
        yield process
    finally:
        process.stop()


@pytest.fixture
def iris_versions(owner, tmp_path):
    """A workspace model with two versions whose files are sklearn models (in the registry's storage)."""
    model = make_model(owner, MODEL)
    fitted = {}
    for number in (1, 2):
        estimator, X = save_sklearn_model(tmp_path / f"v{number}")
        location = store_files(tmp_path / f"v{number}")
        ModelVersion.objects.create(model=model, version=number, source=location, storage_location=location)
        fitted[number] = estimator
    model.last_version_number = 2
    model.save(update_fields=["last_version_number"])
    return model, fitted, X


def workspace(live_server, user) -> WorkspaceClient:
    return WorkspaceClient(host=live_server.url, token=token_create(actor=user, user=user)[1], auth_type="pat")


def entity(version: int, name: str) -> ServedEntityInput:
    return ServedEntityInput(name=name, entity_name=MODEL, entity_version=str(version), workload_size="Small",
                             scale_to_zero_enabled=False)


def test_sdk_creates_splits_updates_and_deletes(live_server, supervisor, iris_versions, owner, reader):
    model, fitted, X = iris_versions
    started = time.monotonic()
    w = workspace(live_server, owner)
    config = EndpointCoreConfigInput(
        name="iris-split", served_entities=[entity(1, "champion"), entity(2, "challenger")],
        traffic_config=TrafficConfig(routes=[Route(served_model_name="champion", traffic_percentage=90),
                                             Route(served_model_name="challenger", traffic_percentage=10)]))
    waiter = w.serving_endpoints.create(name="iris-split", config=config)
    assert waiter.response.state.config_update == EndpointStateConfigUpdate.IN_PROGRESS
    endpoint = waiter.result(timeout=timedelta(minutes=2))
    assert endpoint.state.ready == EndpointStateReady.READY, supervisor.log_text()[-3000:]
    assert endpoint.state.config_update == EndpointStateConfigUpdate.NOT_UPDATING
    assert [e.name for e in endpoint.config.served_entities] == ["champion", "challenger"]
    assert endpoint.creator == "owner"
    assert [e.name for e in w.serving_endpoints.list()] == ["iris-split"]

    print(f"ready after {time.monotonic() - started:.1f} s")
    rows = X.iloc[:3]
    expected = {"champion": fitted[1].predict(rows).tolist(), "challenger": fitted[2].predict(rows).tolist()}

    def one_query(_):
        response = w.serving_endpoints.query(name="iris-split", dataframe_records=rows.to_dict(orient="records"))
        assert response.predictions == expected[response.served_model_name]
        return response.served_model_name

    # A few callers at once, as services do (and so the 1,000 take seconds, not minutes).
    with ThreadPoolExecutor(max_workers=4) as callers:
        answered = Counter(callers.map(one_query, range(QUERIES)))
    print(f"{QUERIES} queries done at {time.monotonic() - started:.1f} s")
    assert set(answered) == {"champion", "challenger"}
    assert 0.87 <= answered["champion"] / QUERIES <= 0.93, answered

    # Another user: CAN_QUERY on the endpoint is not enough without EXECUTE on the model.
    w.serving_endpoints.update_permissions(str(endpoint.id), access_control_list=[
        ServingEndpointAccessControlRequest(user_name="reader",
                                            permission_level=ServingEndpointPermissionLevel.CAN_QUERY)])
    levels = {a.user_name: a.all_permissions[0].permission_level
              for a in w.serving_endpoints.get_permissions(str(endpoint.id)).access_control_list}
    assert levels == {"owner": ServingEndpointPermissionLevel.CAN_MANAGE,
                      "reader": ServingEndpointPermissionLevel.CAN_QUERY}
    as_reader = workspace(live_server, reader)
    with pytest.raises(PermissionDenied):
        as_reader.serving_endpoints.query(name="iris-split", dataframe_records=rows.to_dict(orient="records"))
    grant_add(actor=owner, securable=model, principal=reader, privilege="EXECUTE")
    assert as_reader.serving_endpoints.query(name="iris-split", dataframe_records=rows.to_dict(
        orient="records")).served_model_name in ("champion", "challenger")

    # All traffic to version 2 under a new name: a new pool; the old ones serve until it is READY, then drain.
    updated = w.serving_endpoints.update_config(
        name="iris-split", served_entities=[entity(2, "v2")],
        traffic_config=TrafficConfig(routes=[Route(served_model_name="v2", traffic_percentage=100)]))
    assert updated.response.state.config_update == EndpointStateConfigUpdate.IN_PROGRESS
    while w.serving_endpoints.get("iris-split").state.config_update == EndpointStateConfigUpdate.IN_PROGRESS:
        name = w.serving_endpoints.query(name="iris-split", dataframe_records=rows.to_dict(
            orient="records")).served_model_name
        assert name in ("champion", "challenger", "v2")
        time.sleep(0.2)
    endpoint = w.serving_endpoints.get("iris-split")
    assert endpoint.state.config_update == EndpointStateConfigUpdate.NOT_UPDATING
    assert endpoint.config.config_version == 2 and [e.name for e in endpoint.config.served_entities] == ["v2"]
    assert {w.serving_endpoints.query(name="iris-split", dataframe_records=rows.to_dict(
        orient="records")).served_model_name for _ in range(10)} == {"v2"}

    metrics = w.api_client.do("GET", "/api/2.0/serving-endpoints/iris-split")["served_entity_metrics"]
    assert metrics["champion"]["request_count"] + metrics["challenger"]["request_count"] >= QUERIES + 1
    assert metrics["champion"]["latency_p50_ms"] <= metrics["champion"]["latency_p99_ms"]

    w.serving_endpoints.delete("iris-split")
    with pytest.raises(NotFound):
        w.serving_endpoints.get("iris-split")
    deadline = time.monotonic() + 30
    while supervisor.model_processes() and time.monotonic() < deadline:
        time.sleep(0.2)
    assert supervisor.model_processes() == []  # the deleted endpoint's pools were stopped
    assert not ServingDeployment.objects.filter(endpoint__isnull=False).exists()
    print(f"SDK test took {time.monotonic() - started:.1f} s")
