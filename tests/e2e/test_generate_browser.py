"""Generate in a real browser (Debian chromium through Playwright): the offline draft and the chat endpoint's side
by side (a loopback stand-in for the endpoint), the "Built from" facts opened, the chat draft accepted; passes axe
and fits a phone (the drafts stack). Screenshots: docs/screenshots/dialog-generate-drafts.png (1440 px) and
var/test/screenshots/responsive/dialog-generate-drafts-{desktop,phone}.png."""
from __future__ import annotations

import uuid

import pytest

from registry.models import Dataset, Metric, Param, RegisteredModel, Run, RunInput, RunTag
from tests.e2e.browser import SHOTS as DOC_SHOTS
from tests.e2e.browser import sign_in, submit_and_reload
from tests.e2e.test_responsive_a11y import DESKTOP, PHONE, SHOTS, _problems
from tests.explorer.test_llm_generator import chat_server  # noqa: F401  (the fixture)

pytestmark = pytest.mark.slow
MODEL = "prod.ml_team.iris"
INPUTS = ("sepal length (cm)", "sepal width (cm)", "petal length (cm)", "petal width (cm)")


def _setup(owner):
    from registry.services.tracking import experiment_create
    from registry.services.versions import model_version_mark_ready
    from tests.registry.factories import make_model, make_version

    experiment = experiment_create(actor=owner, name="iris-experiments")
    run = Run.objects.create(run_id=uuid.uuid4().hex, experiment=experiment, name="secret-run-name",
                             artifact_uri=f"mlflow-artifacts:/{experiment.pk}/x/artifacts")
    RunTag.objects.create(run=run, key="estimator_name", value="LogisticRegression")
    for key, value in (("C", "1.0"), ("max_iter", "300"), ("solver", "lbfgs")):
        Param.objects.create(run=run, key=key, value=value)
    Metric.objects.create(run=run, key="val_accuracy", value=0.9667, timestamp=1, step=0)
    Metric.objects.create(run=run, key="val_f1_score", value=0.9612, timestamp=1, step=0)
    dataset = Dataset.objects.create(experiment=experiment, name="iris_train", digest="d1", source_type="code",
                                     profile='{"num_rows": 120, "num_elements": 600}')
    RunInput.objects.create(run=run, dataset=dataset, tags=[{"key": "mlflow.data.context", "value": "training"}])
    model = make_model(owner, MODEL, description="Classifies **iris** flowers.")
    mv = make_version(owner, MODEL, source=f"runs:/{run.run_id}/model")
    model_version_mark_ready(version_id=mv.pk, signature={
        "inputs": [{"type": "double", "name": name, "required": True} for name in INPUTS],
        "outputs": [{"type": "long", "required": True}]})
    return model, run


def test_both_drafts_side_by_side_with_what_they_were_built_from(transactional_db, live_server, browser_page, owner,
                                                                 governed, monkeypatch, chat_server):
    monkeypatch.setenv("DESCRIPTION_LLM_URL", f"http://127.0.0.1:{chat_server.server_port}/v1")
    monkeypatch.setenv("DESCRIPTION_LLM_MODEL", "test-model")
    model, run = _setup(owner)
    page, base = browser_page, live_server.url
    sign_in(page, base, "owner")
    page.goto(f"{base}/models/{MODEL}/")
    page.wait_for_selector("body[data-ready='1']", state="attached")
    page.set_viewport_size(DESKTOP)
    page.click("section.panel:has(#desc-h) a.button")
    page.wait_for_selector("#modal[open] textarea[name=description]")
    page.click("#modal button:has-text('Generate')")
    page.wait_for_selector("#modal [data-draft-source=chat] [data-draft]")

    offline = page.inner_text("#modal [data-draft-source=offline] [data-draft]")
    assert "A classifier: predicts a class label from four numeric inputs" in offline
    assert "Trained as a logistic regression (C=1.0, max_iter=300 and solver=lbfgs) on iris_train (120 rows)." \
        in offline
    assert "It scored 0.9667 accuracy and an F1 of 0.9612 on the validation set." in offline
    assert run.name not in offline and run.run_id not in offline
    assert "drafted iris classifier" in page.inner_text("#modal [data-draft-source=chat] [data-draft]")
    # The chat endpoint was sent the facts, not the offline text.
    prompt = chat_server.seen[-1]["body"]["messages"][1]["content"]
    assert '"estimator":"LogisticRegression"' in prompt and "Trained as" not in prompt

    page.click("#modal .built-from summary")
    page.wait_for_selector("#modal .built-from dd:has-text('iris_train (training, 120 rows)')")
    side_by_side = page.evaluate("""() => [...document.querySelectorAll('#modal .draft-column')]
        .map(c => Math.round(c.getBoundingClientRect().top))""")
    assert len(side_by_side) == 2 and side_by_side[0] == side_by_side[1]

    SHOTS.mkdir(parents=True, exist_ok=True)
    DOC_SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(DOC_SHOTS / "dialog-generate-drafts.png"), full_page=False)
    problems = _problems(page, "dialog-generate-drafts", "desktop")
    page.set_viewport_size(PHONE)
    stacked = page.evaluate("""() => [...document.querySelectorAll('#modal .draft-column')]
        .map(c => Math.round(c.getBoundingClientRect().left))""")
    assert stacked[0] == stacked[1]  # one above the other
    problems += _problems(page, "dialog-generate-drafts", "phone")
    page.set_viewport_size(DESKTOP)
    assert problems == []

    # Accept the chat endpoint's draft: that one is saved.
    submit_and_reload(page, "#modal [data-draft-source=chat] button:has-text('Accept')")
    assert RegisteredModel.objects.get(pk=model.pk).description.startswith("A **drafted** iris classifier.")
    assert page.errors == []
