"""A committed write is answered as a success, once (issue 11, item 3): whatever fails after the commit
(publishing the job, recording its task id) is logged and left to the sweeper; an unexpected error before the
commit saves nothing and answers JSON, never the HTML error page. PostgreSQL only: the faults are real
`pg_terminate_backend` calls on the application's own connections."""
from __future__ import annotations

import threading
import time

import pytest
import requests
from django.db import connection, connections
from rest_framework.test import APIClient

from registry import jobs
from registry.models import Job, ModelVersion
from registry.services.models import registered_model_create
from registry.services.tokens import token_create
from tests.registry.factories import default_experiment, make_run

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql",
                                reason="kills PostgreSQL backends (CI runs on PostgreSQL)")

CREATE = "/api/2.0/mlflow/model-versions/create"


@pytest.fixture
def owner_model(transactional_db, owner, governed):
    default_experiment()
    registered_model_create(actor=owner, name="prod.ml_team.fraud")
    return "prod.ml_team.fraud"


def _client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token_create(actor=user, user=user)[1]}")
    client.raise_request_exception = False  # answer as a server would, with the 500 handler
    return client


def _terminate_own_connection() -> None:
    with connection.cursor() as cursor:
        try:
            cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
        except Exception:  # the statement itself dies with the session: that is the point
            pass


def test_connection_lost_between_commit_and_publish_still_answers_the_committed_version(
        owner, owner_model, monkeypatch, settings):
    # To a queue no worker consumes: a worker another test left running would take the job and move its state on.
    settings.CELERY_TASK_DEFAULT_QUEUE = "nobody-consumes-this-queue"
    real_publish = jobs._publish
    calls = []

    def publish_after_losing_the_database(job_id):
        calls.append(job_id)
        _terminate_own_connection()
        real_publish(job_id)  # records the task id on a dead connection: must be logged, not raised

    monkeypatch.setattr(jobs, "_publish", publish_after_losing_the_database)
    client = _client(owner)
    run = make_run()
    response = client.post(CREATE, {"name": owner_model, "source": f"runs:/{run.run_id}/model",
                                    "run_id": run.run_id}, format="json")
    connection.close()  # the test's own (killed) connection
    assert calls, "the job was not published after the commit"
    assert response.status_code == 200, response.content
    assert response.json()["model_version"]["version"] == "1"
    assert ModelVersion.objects.filter(model__name="fraud").count() == 1
    job = Job.objects.get()
    # The task id was never recorded: the sweeper will publish it again (a duplicate delivery waits on the lease).
    assert job.state == Job.State.QUEUED and job.celery_task_id == ""


def test_connection_lost_before_commit_answers_json_and_saves_nothing(owner, owner_model, monkeypatch):
    real = jobs.start_registration  # the service imports it when it runs, so this patch is what it calls

    def lose_database_then_start(**kwargs):
        _terminate_own_connection()
        return real(**kwargs)

    monkeypatch.setattr(jobs, "start_registration", lose_database_then_start)
    client = _client(owner)
    run = make_run()
    response = client.post(CREATE, {"name": owner_model, "source": f"runs:/{run.run_id}/model"}, format="json")
    connection.close()
    assert response.status_code == 500
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error_code"] == "INTERNAL_ERROR"
    assert ModelVersion.objects.count() == 0 and Job.objects.count() == 0


@pytest.mark.slow
def test_dropped_connections_never_turn_a_committed_version_into_an_error(owner, owner_model, live_server):
    """Many version creates over HTTP while another session keeps terminating the server's connections: every
    answer is JSON; every 200 is exactly one version and nothing else made one."""
    token = token_create(actor=owner, user=owner)[1]
    runs = [make_run() for _ in range(8)]
    stop = threading.Event()

    def killer():
        with connections["default"].cursor() as cursor:
            while not stop.is_set():
                cursor.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                               "WHERE datname = current_database() AND pid <> pg_backend_pid() "
                               "AND backend_type = 'client backend'")
                time.sleep(0.01)
        connections["default"].close()  # this thread's own connection

    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    answers = []
    thread = threading.Thread(target=killer)
    thread.start()
    try:
        for i in range(150):
            run = runs[i % len(runs)]
            response = session.post(live_server.url + CREATE, json={
                "name": owner_model, "source": f"runs:/{run.run_id}/model", "run_id": run.run_id}, timeout=30)
            assert response.headers["Content-Type"].startswith("application/json"), response.text[:200]
            answers.append(response.status_code)
    finally:
        stop.set()
        thread.join()
        connections["default"].close()
    succeeded = answers.count(200)
    assert set(answers) <= {200, 500}, answers
    assert 500 in answers, "the faults never hit a request: the test proves nothing"
    numbers = sorted(ModelVersion.objects.filter(model__name="fraud").values_list("version", flat=True))
    assert len(numbers) == succeeded, (len(numbers), succeeded, answers.count(500))
