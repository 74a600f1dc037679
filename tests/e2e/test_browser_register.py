"""Registering a run's logged model in a real browser: the Register-model dialog on a run page creates a new
three-level model and its first version, a real Celery worker copies the artifacts while the version page
follows the job, and a second registration adds version 2 to the now existing model."""
from __future__ import annotations

import io
import time

import pytest
import yaml

from registry import storage
from registry.models import Experiment, Job, LoggedModel, ModelVersion, RegisteredModel, Run
from registry.sources import artifact_path_of
from tests.e2e.browser import shot, sign_in

pytestmark = pytest.mark.slow
EXPERIMENT_ID = 7
NEW_MODEL = "prod.ml_team.iris_from_run"


def _logged_model(run: Run, model_id: str, name: str, created_ms: int) -> LoggedModel:
    """A READY logged model of `run` with real artifacts: an MLmodel with a signature and a data file."""
    lm = LoggedModel.objects.create(
        model_id=model_id, experiment_id=run.experiment_id, name=name, source_run=run, status="LOGGED_MODEL_READY",
        artifact_uri=f"mlflow-artifacts:/{run.experiment_id}/models/{model_id}/artifacts",
        creation_timestamp_ms=created_ms, last_updated_timestamp_ms=created_ms)
    location = artifact_path_of(lm.artifact_uri)
    mlmodel = yaml.safe_dump({"artifact_path": "model", "signature": {
        "inputs": '[{"type": "double", "name": "sepal_length"}]', "outputs": '[{"type": "long", "name": "species"}]'}})
    storage.save_stream(f"{location}/MLmodel", io.BytesIO(mlmodel.encode()))
    storage.save_stream(f"{location}/model.pkl", io.BytesIO(name.encode() * 5000))
    return lm


def _run_with_models(owner) -> tuple[Run, LoggedModel, LoggedModel]:
    now = int(time.time() * 1000)
    experiment = Experiment.objects.create(
        id=EXPERIMENT_ID, name="iris-training", artifact_location=f"mlflow-artifacts:/{EXPERIMENT_ID}",
        owner_user=owner, creation_time=now, last_update_time=now)
    run = Run.objects.create(run_id="a" * 32, experiment=experiment, name="lucky-iris", status="FINISHED",
                             start_time=now, end_time=now, user_id="owner", owner=owner,
                             artifact_uri=f"mlflow-artifacts:/{EXPERIMENT_ID}/{'a' * 32}/artifacts")
    # The newest logged model is the dialog's default; the test picks the older one first.
    first = _logged_model(run, "m-first0001", "logistic", now - 1000)
    second = _logged_model(run, "m-second0002", "forest", now)
    return run, first, second


def _fill_register_dialog(page, base: str, run: Run, logged: LoggedModel, name: str) -> None:
    """Open the run page, then the Register-model dialog, and pick `logged` and `name`."""
    page.goto(f"{base}/runs/{run.run_id}/")
    page.wait_for_selector("body[data-ready='1']", state="attached")
    page.click(".object-actions a:has-text('Register model')")
    page.wait_for_selector("#modal[open] #id_logged_model")
    page.select_option("#modal #id_logged_model", logged.model_id)
    page.fill("#modal #id_name", name)


def _follow_job_until_ready(page) -> None:
    # The version page polls the job's status line; when the job ends it reloads the whole page.
    page.wait_for_selector(".banner.pending", state="detached", timeout=60_000)
    page.wait_for_selector("body[data-ready='1']", state="attached")
    assert page.locator(".banner.failed").count() == 0


def test_register_a_model_from_a_run_page(transactional_db, live_server, celery_worker, browser_page, owner,
                                          governed):
    run, first, second = _run_with_models(owner)
    page, base = browser_page, live_server.url
    sign_in(page, base, "owner")

    # A schema that is not there: the dialog says so (focus back on the name), keeps the choice, changes nothing.
    _fill_register_dialog(page, base, run, first, "prod.elsewhere.iris_from_run")
    page.keyboard.press("Enter")
    page.wait_for_selector("#modal[open] .field.has-error .error")
    assert page.evaluate("document.activeElement.id") == "id_name"
    assert page.locator("#modal #id_logged_model").input_value() == first.model_id
    assert not RegisteredModel.objects.exists() and not ModelVersion.objects.exists()

    # Version 1 of a new model, from the older logged model (not the dialog's default).
    page.fill("#modal #id_name", NEW_MODEL)
    # While typing, the dialog says what registering under that name would do.
    page.wait_for_selector(f"#modal #register-hint:has-text('Creates the three-level model {NEW_MODEL}')")
    assert page.locator("#modal .field.has-error").count() == 0  # the refused name's error went with it
    shot(page, "dialog-register-model")
    with page.expect_navigation():
        page.click("#modal button.primary:has-text('Register')")
    page.wait_for_selector("body[data-ready='1']", state="attached")
    assert page.url == f"{base}/models/{NEW_MODEL}/versions/1/"
    _follow_job_until_ready(page)

    model = RegisteredModel.objects.get(schema=governed, name="iris_from_run")
    v1 = ModelVersion.objects.get(model=model, version=1)
    assert v1.status == "READY"
    assert v1.source == f"models:/{first.model_id}" and v1.logged_model_id == first.model_id
    assert v1.run_id == run.run_id and v1.created_by == owner
    assert v1.signature["inputs"][0]["name"] == "sepal_length"
    job = Job.objects.get(model_version=v1, kind=Job.Kind.REGISTER)
    assert job.state == Job.State.SUCCEEDED and job.files_total == 2
    stored = dict(storage.walk_files(artifact_path_of(v1.storage_location)))
    assert set(stored) == {"MLmodel", "model.pkl"} and stored["model.pkl"] == len(b"logistic") * 5000
    # The finished page shows the signature the job read, and the jobs page links to the new version.
    page.wait_for_selector("#sig-h ~ .sig-grid code:has-text('sepal_length')")
    page.goto(f"{base}/jobs/")
    link = page.locator(f"#jobs-table a[href='/models/{NEW_MODEL}/versions/1/']")
    assert link.inner_text().strip() == f"{NEW_MODEL} v1"
    with page.expect_navigation():
        link.click()
    assert page.url == f"{base}/models/{NEW_MODEL}/versions/1/"
    page.click("nav.tabs a:has-text('Artifacts')")
    page.wait_for_selector("text=model.pkl")

    # Version 2 into the now existing model, from the other logged model.
    _fill_register_dialog(page, base, run, second, NEW_MODEL)
    page.wait_for_selector(f"#modal #register-hint:has-text('Registers version 2 of {NEW_MODEL}')")
    with page.expect_navigation():
        page.click("#modal button.primary:has-text('Register')")
    page.wait_for_selector("body[data-ready='1']", state="attached")
    assert page.url == f"{base}/models/{NEW_MODEL}/versions/2/"
    _follow_job_until_ready(page)
    v2 = ModelVersion.objects.get(model=model, version=2)
    assert v2.status == "READY" and v2.logged_model_id == second.model_id
    assert RegisteredModel.objects.filter(name="iris_from_run").count() == 1
    assert sorted(ModelVersion.objects.filter(model=model).values_list("version", flat=True)) == [1, 2]
    assert Job.objects.filter(model=model, kind=Job.Kind.REGISTER, state=Job.State.SUCCEEDED).count() == 2

    # The model page lists both versions.
    page.goto(f"{base}/models/{NEW_MODEL}/")
    page.wait_for_selector(f"a[href='/models/{NEW_MODEL}/versions/2/']")
    assert page.errors == []
