"""The serving runtime end to end: a supervisor process (`python -m explorer.serve_models`) on the test database
serves real MLflow models in model processes, restarts a killed one, answers a timeout with a JSON 504, stops a
pool over its memory limit, refuses a version whose requirements do not match, drains a retired deployment and
stops cleanly on SIGTERM, handing its deployments to another supervisor.

Model processes take seconds to start and CI time is short: one supervisor serves the whole module, and one test
takes a pair of deployments (an sklearn classifier with two processes, a model that sleeps on request) through
every stage in order. Tests are transactional (the supervisor is another process and must see the rows); the
flush after each test removes its deployments, whose pools the supervisor then stops."""
from __future__ import annotations

import importlib.metadata
import json
import os
import re
import shutil
import signal
import threading
import time
from types import SimpleNamespace

import pytest

from registry.models import ModelVersion, ServedModel, ServingDeployment, ServingEvent
from registry.models.models import Stage
from registry.serving import client
from registry.serving.reconcile import reconcile_all
from tests.conftest import wait_for
from tests.serving.runtime_fixtures import (SupervisorProcess, deployment_of, save_sklearn_model, save_slow_model,
                                            serve, wait_deployment)

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]
State = ServingDeployment.State
Kind = ServingEvent.Kind


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """Models saved once for the module: an sklearn classifier and the sleeping model."""
    base = tmp_path_factory.mktemp("serving-runtime")
    model, X = save_sklearn_model(base / "iris")
    save_slow_model(base / "slow")
    return SimpleNamespace(base=base, model=model, X=X, iris=base / "iris", slow=base / "slow")


@pytest.fixture(scope="module")
def supervisor_env(worker_env):
    return {**worker_env, "SERVING_LEASE_SECONDS": "5", "SERVING_STARTUP_SECONDS": "150"}


@pytest.fixture(scope="module")
def supervisor(supervisor_env, saved):
    """One supervisor process for the module (each test's rows are its own; the flush after a test removes its
    deployments, and the supervisor stops their pools)."""
    process = SupervisorProcess(supervisor_env, saved.base / "supervisor.log")
    yield process
    process.stop()


def _score(deployment, payload: dict, *, timeout: float = 30.0):
    return client.invoke(deployment, json.dumps(payload).encode(), "application/json", timeout=timeout)


def _predictions(result) -> list:
    assert result.status == 200, result.body
    return json.loads(result.body)["predictions"]


def _events(served: ServedModel, kind: str) -> list[ServingEvent]:
    return list(ServingEvent.objects.filter(served_model=served, kind=kind).order_by("pk"))


def test_a_version_whose_requirements_do_not_match_fails_naming_the_package(supervisor, saved, tmp_path):
    model_dir = tmp_path / "old-sklearn"
    shutil.copytree(saved.iris, model_dir)
    requirements = model_dir / "requirements.txt"
    requirements.write_text(re.sub(r"scikit-learn==\S+", "scikit-learn==0.20.0", requirements.read_text()))
    served = serve(model_dir)
    deployment = wait_deployment(served, State.FAILED, timeout=60)
    installed = importlib.metadata.version("scikit-learn")
    assert f"scikit-learn==0.20.0 is required, but scikit-learn {installed} is installed" in deployment.message
    assert supervisor.model_processes(deployment.pk) == []
    assert _events(served, Kind.DEPLOY_FAILED)[0].message == deployment.message
    reconcile_all()
    served.refresh_from_db()
    assert served.state == "FAILED" and "scikit-learn==0.20.0" in served.message


def test_a_pool_over_its_memory_limit_is_stopped_failed_with_the_reason(supervisor, saved):
    served = serve(saved.iris, memory_limit_mb=20)
    deployment = wait_deployment(served, State.FAILED, timeout=60)
    assert "over the memory limit of 20 MB" in deployment.message
    assert supervisor.model_processes(deployment.pk) == []
    assert [e.kind for e in ServingEvent.objects.filter(deployment=deployment)] == [Kind.MEMORY_LIMIT]
    reconcile_all()
    served.refresh_from_db()
    assert served.state == "FAILED" and "memory limit" in served.message


def test_serving_lifecycle(supervisor, supervisor_env, saved):
    """One pair of deployments (model processes take seconds to start) through every stage; each step is a
    function named for the behaviour it proves."""
    iris = serve(saved.iris, workers=2)
    slow = serve(saved.slow)
    for served in (iris, slow):
        deployment = wait_deployment(served, State.READY, State.FAILED, timeout=150)
        assert deployment.state == State.READY, deployment.message + supervisor.log_text()[-3000:]
    run = SimpleNamespace(supervisor=supervisor, env=supervisor_env, saved=saved, iris=iris, slow=slow)

    answers_the_models_own_predictions(run)
    answers_bad_input_with_mlflows_400_and_stays_healthy(run)
    model_processes_hold_no_credentials(run)
    a_request_past_its_timeout_answers_a_json_504(run)
    a_killed_model_process_is_restarted_while_another_deployment_answers(run)
    a_retired_deployment_drains_in_flight_requests_then_stops(run)
    sigterm_stops_the_pools_and_another_supervisor_takes_over_without_running_twice(run)


def answers_the_models_own_predictions(run):
    deployment = deployment_of(run.iris)
    X = run.saved.X
    expected = run.saved.model.predict(X).tolist()
    split = _predictions(_score(deployment, {"dataframe_split": X.to_dict(orient="split")}))
    records = _predictions(_score(deployment, {"dataframe_records": X.iloc[:10].to_dict(orient="records")}))
    assert split == expected
    assert records == expected[:10]
    assert len(run.supervisor.model_processes(deployment.pk)) == 2
    assert deployment.address.startswith("http://127.0.0.1:")
    reconcile_all()
    assert ServedModel.objects.get(pk=run.iris.pk).state == "READY"
    assert [e.version_number for e in _events(run.iris, Kind.VERSION_DEPLOYED)] == [1]
    assert "serving" in client.recent_logs(deployment)  # the model processes' own output


def answers_bad_input_with_mlflows_400_and_stays_healthy(run):
    deployment = deployment_of(run.iris)
    result = client.invoke(deployment, b"{not json", "application/json", timeout=10)
    assert result.status == 400 and json.loads(result.body)["error_code"] == "BAD_REQUEST"
    assert _predictions(_score(deployment, {"dataframe_records": run.saved.X.iloc[:2].to_dict(orient="records")}))


def model_processes_hold_no_credentials(run):
    pids = run.supervisor.model_processes()
    assert len(pids) == 3
    for pid in pids:
        with open(f"/proc/{pid}/environ", "rb") as environ:
            names = {item.split(b"=", 1)[0].decode() for item in environ.read().split(b"\0") if item}
        assert not names & {"DATABASE_URL", "SECRET_KEY", "CELERY_BROKER_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
        assert names <= {"PATH", "HOME", "TMPDIR", "LANG", "MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT",
                         "SERVING_GRACEFUL_SECONDS", "SERVING_BATCHING", "_MLFLOW_IS_IN_SERVING_ENVIRONMENT"}


def a_request_past_its_timeout_answers_a_json_504(run):
    deployment = deployment_of(run.slow)
    started = time.monotonic()
    result = _score(deployment, {"dataframe_records": [{"seconds": 3}]}, timeout=0.5)
    assert time.monotonic() - started < 2
    assert result.status == 504
    assert result.content_type == "application/json"
    assert json.loads(result.body)["error_code"] == "DEADLINE_EXCEEDED"
    assert _predictions(_score(deployment, {"dataframe_records": [{"seconds": 0.1}]})) == [0.2]


def a_killed_model_process_is_restarted_while_another_deployment_answers(run):
    slow, iris = deployment_of(run.slow), deployment_of(run.iris)
    [victim] = run.supervisor.model_processes(slow.pk)
    os.kill(victim, signal.SIGKILL)
    answered = 0

    def restarted():
        nonlocal answered
        assert _predictions(_score(iris, {"dataframe_records": run.saved.X.iloc[:1].to_dict(orient="records")}))
        answered += 1
        return _events(run.slow, Kind.PROCESS_RESTARTED)

    wait_for(restarted, timeout=90, interval=0.2, message="the killed model process to be restarted")
    assert answered >= 3  # the other deployment kept answering all along
    [crash] = _events(run.slow, Kind.PROCESS_CRASHED)
    assert str(victim) in crash.message and "SIGKILL" in crash.message
    [replacement] = run.supervisor.model_processes(slow.pk)
    assert replacement != victim
    assert _predictions(_score(deployment_of(run.slow), {"dataframe_records": [{"seconds": 0}]})) == [0]


def a_retired_deployment_drains_in_flight_requests_then_stops(run):
    deployment = deployment_of(run.slow)
    assert deployment.state == State.READY
    in_flight = {}
    request = threading.Thread(target=lambda: in_flight.setdefault(
        "result", _score(deployment, {"dataframe_records": [{"seconds": 4}]}, timeout=30)))
    request.start()
    time.sleep(0.5)
    ModelVersion.objects.filter(pk=deployment.version_id).update(current_stage=Stage.ARCHIVED)
    reconcile_all()
    assert ServingDeployment.objects.get(pk=deployment.pk).state == State.DRAINING
    stopped = wait_deployment(run.slow, State.STOPPED, timeout=60)
    request.join(timeout=30)
    assert _predictions(in_flight["result"]) == [8]  # finished although retired meanwhile
    assert run.supervisor.model_processes(deployment.pk) == []
    assert stopped.address == ""
    assert "archived" in _events(run.slow, Kind.VERSION_REMOVED)[0].message
    assert client.invoke(stopped, b"{}", "application/json", timeout=5).status == 503


def sigterm_stops_the_pools_and_another_supervisor_takes_over_without_running_twice(run):
    iris = deployment_of(run.iris)
    second = SupervisorProcess(run.env, run.saved.base / "second.log")
    try:
        time.sleep(6)  # longer than a lease: the second must still not take what the first renews
        assert second.model_processes() == []
        assert ServingDeployment.objects.get(pk=iris.pk).supervisor.endswith(f":{run.supervisor.pid}")
        first_processes = run.supervisor.model_processes(iris.pk)

        assert run.supervisor.stop(timeout=60) == 0
        assert not [pid for pid in first_processes if os.path.exists(f"/proc/{pid}")]

        def served_again():
            deployment = deployment_of(run.iris)
            return deployment if deployment.state == State.READY else None

        moved = wait_for(served_again, timeout=150, interval=0.25, message="the second supervisor to serve it")
        assert moved.supervisor.endswith(f":{second.pid}") and moved.address != iris.address
        assert len(second.model_processes(iris.pk)) == 2
        X = run.saved.X.iloc[:5]
        assert _predictions(_score(moved, {"dataframe_split": X.to_dict(orient="split")})) == \
            run.saved.model.predict(X).tolist()
    finally:
        assert second.stop(timeout=60) == 0, second.log_text()
    assert second.model_processes() == []
