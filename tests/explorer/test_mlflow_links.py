"""/mlflow-link/?fragment=: every MLflow UI link shape (the part after `#`, handed over by static/js/head.js)
redirects to our page for the same object; a logged model the user may not see answers like a missing one."""
from __future__ import annotations

import re

import pytest

from registry.models import Experiment, LoggedModel
from tests.registry.factories import make_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def experiment(owner):
    return Experiment.objects.create(id=7, name="iris-training", artifact_location="mlflow-artifacts:/7",
                                     owner_user=owner, open_to_all=False, creation_time=0, last_update_time=0)


@pytest.fixture
def run(experiment):
    return make_run(7)


@pytest.fixture
def logged(experiment, run):
    return LoggedModel.objects.create(model_id="m-0123", experiment=experiment, name="model", source_run=run,
                                      artifact_uri="mlflow-artifacts:/7/models/m-0123/artifacts",
                                      creation_timestamp_ms=0, last_updated_timestamp_ms=0)


def _landing(client, fragment: str) -> str:
    response = client.get("/mlflow-link/", {"fragment": fragment})
    assert response.status_code == 302, (fragment, response.status_code)
    return response["Location"]


@pytest.mark.parametrize("fragment, landing", [
    ("/experiments/7/runs/{run}", "/runs/{run}/"),
    ("#/experiments/7/runs/{run}", "/runs/{run}/"),
    ("/experiments/7/runs/{run}?workspace=team-a", "/runs/{run}/"),
    ("/experiments/7/runs/{run}/model-metrics", "/runs/{run}/"),
    ("/experiments/7/runs/{run}/artifacts", "/runs/{run}/artifacts/"),
    ("/experiments/7/runs/{run}/artifacts/model/MLmodel", "/runs/{run}/artifacts/?path=model%2FMLmodel"),
    ("/experiments/7", "/experiments/7/"),
    ("/experiments/7/overview", "/experiments/7/"),
    ("/experiments/7/traces", "/experiments/7/"),
    ("/experiments", "/experiments/"),
    ("/experiments/7/models/m-0123", "/runs/{run}/"),
    ("/models", "/models/"),
    ("/models/prod.ml_team.iris", "/models/prod.ml_team.iris/"),
    ("/models/prod.ml_team.iris/versions/3", "/models/prod.ml_team.iris/versions/3/"),
    ("/models/iris%20flat", "/models/iris%20flat/"),
    ('/compare-runs?runs=["{run}","abc"]&experiments=["7"]', "/experiments/7/"),
    ('/compare-runs?runs=["{run}"]&experiments=["7"]', "/runs/{run}/"),
    ('/metric?runs=["{run}"]&metric="accuracy"&experiments=["7"]', "/runs/{run}/"),
    ("/compare-experiments/s?experiments=[\"7\",\"8\"]", "/experiments/"),
    ("/prompts", "/"),
    ("", "/"),
])
def test_each_mlflow_link_shape_lands_on_our_page(client_for, owner, run, logged, fragment, landing):
    assert _landing(client_for(owner), fragment.format(run=run.run_id)) == landing.format(run=run.run_id)


def test_a_hidden_logged_model_answers_like_a_missing_one(client_for, outsider, logged):
    client = client_for(outsider)
    hidden = client.get("/mlflow-link/", {"fragment": "/experiments/7/models/m-0123"})
    missing = client.get("/mlflow-link/", {"fragment": "/experiments/7/models/m-none"})
    assert hidden.status_code == missing.status_code == 404
    assert _without_csrf(hidden.content) == _without_csrf(missing.content)


def _without_csrf(page: bytes) -> bytes:
    return re.sub(rb'("X-CSRFToken": "|name="csrfmiddlewaretoken" value=")[^"]+', rb"\1", page)


def test_signed_out_goes_to_sign_in_and_back(client, run):
    response = client.get("/mlflow-link/", {"fragment": f"/experiments/7/runs/{run.run_id}"})
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/?next=/mlflow-link/")


def test_a_name_that_cannot_be_a_page_is_a_404(client_for, owner):
    assert client_for(owner).get("/mlflow-link/", {"fragment": "/models/a%2Fb"}).status_code == 404
