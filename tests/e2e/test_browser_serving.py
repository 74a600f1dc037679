"""The Serving tab in a real browser, on the real stack: an sklearn model logged to a run is registered as a
three-level version (a real Celery worker copies its files), the owner enables serving from the tab, a real
serving supervisor (`python -m explorer.serve_models`) deploys it while the tab polls to Ready, then Load example
fills in the version's logged example and Send shows the model's predictions. Screenshots at desktop and phone
sizes, and axe-core finds no serious or critical violation on the tab."""
from __future__ import annotations

import json
import re

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from registry import storage
from registry.models import ModelVersion
from registry.services.aliases import alias_set
from registry.services.grants import grant_add
from registry.sources import artifact_path_of
from tests.conftest import wait_for
from tests.e2e.browser import shot, sign_in
from tests.registry.factories import make_model, make_run, make_version
from tests.serving.runtime_fixtures import SupervisorProcess, save_sklearn_model

pytestmark = pytest.mark.slow
MODEL = "prod.ml_team.iris_served"
TAB = f"/models/{MODEL}/serving/"


def _registered_version(owner, reader, model_dir):
    """Version 1 of MODEL from a run's logged files, READY once the Celery worker has copied them."""
    run = make_run()
    root = f"{artifact_path_of(run.artifact_uri)}/model"
    for path in sorted(model_dir.rglob("*")):
        if path.is_file():
            with open(path, "rb") as stream:
                storage.save_stream(f"{root}/{path.relative_to(model_dir).as_posix()}", stream)
    model = make_model(owner, MODEL)
    grant_add(actor=owner, securable=model, principal=reader, privilege="EXECUTE")
    version = make_version(owner, MODEL, source=f"runs:/{run.run_id}/model")
    wait_for(lambda: ModelVersion.objects.get(pk=version.pk).status == "READY", timeout=60,
             message="the registration job")
    alias_set(actor=owner, name=MODEL, alias="Champion", version=1)
    return model


def _serious(page, selector: str = "main") -> list[str]:
    """Serious and critical axe-core violations in the page's main part (the tab; the shared catalog tree in the
    sidebar is another page's concern), or in `selector`."""
    results = Axe().run(page, context={"include": [[selector]]})
    return [f"{v['id']} ({v['impact']}): {v['help']} at {[n['target'] for n in v['nodes']][:3]}"
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


def test_enable_serving_from_the_tab_then_query_the_model(transactional_db, live_server, celery_worker, worker_env,
                                                          browser_page, owner, reader, governed, tmp_path):
    sklearn_model, X = save_sklearn_model(tmp_path / "iris")
    _registered_version(owner, reader, tmp_path / "iris")
    supervisor = SupervisorProcess({**worker_env, "SERVING_LEASE_SECONDS": "3"}, tmp_path / "supervisor.log")
    page, base = browser_page, live_server.url
    try:
        page.set_viewport_size({"width": 1440, "height": 900})
        sign_in(page, base, "owner")
        page.goto(base + TAB)
        page.wait_for_selector("body[data-ready='1']", state="attached")
        assert page.locator("#serving-status[data-serving-state='DISABLED']").count() == 1

        # Enable serving (a plain form post): Pending, polled by htmx until the supervisor's pool answers.
        with page.expect_navigation():
            page.click("button:has-text('Enable serving')")
        page.wait_for_selector("#serving-status[data-serving-state='PENDING']")
        page.wait_for_selector("#serving-status[data-serving-state='READY']", timeout=120_000)
        assert page.locator("#serving-status[hx-trigger]").count() == 0  # a final state stops the polling
        uris = page.locator(".uri-list input").evaluate_all("(inputs) => inputs.map(i => i.value)")
        assert uris == [f"{base}/model/{MODEL}/1/invocations", f"{base}/model/{MODEL}/Champion/invocations"]
        copy = page.locator(".uri-list button[data-copy]").first
        copy.click()
        expect(copy).to_have_text("Copied")

        # Load example (the version's serving_input_example.json), then Send it through the invocation path.
        page.select_option("#serving-reference", "Champion")
        page.click("button:has-text('Load example')")
        expect(page.locator("#serving-payload")).to_have_value(re.compile("dataframe_split"))
        example = json.loads(page.locator("#serving-payload").input_value())
        assert example["dataframe_split"]["columns"] == list(X.columns)
        page.click("button:has-text('Send')")
        page.wait_for_selector(".serving-answer:has-text('HTTP 200')", timeout=30_000)
        answer = json.loads(page.locator(".serving-response").inner_text())
        assert answer["predictions"] == sklearn_model.predict(X.iloc[:3]).tolist()
        assert "answered by version 1" in page.locator(".answer-meta").inner_text()
        assert page.locator("[data-elapsed]").inner_text().endswith(" ms")

        # Model events say what happened, newest first.
        page.reload()
        page.wait_for_selector("body[data-ready='1']", state="attached")
        events = page.locator("#serving-events").inner_text()
        assert "Version deployed" in events and "Enabled" in events

        # Looks: desktop and phone, and no serious accessibility violation.
        page.select_option("#serving-reference", "Champion")
        page.click("button:has-text('Load example')")
        expect(page.locator("#serving-payload")).to_have_value(re.compile("dataframe_split"))
        page.focus("#serving-payload")
        page.keyboard.press("Control+Enter")  # sends, as the Send button does (static/js/serving.js)
        page.wait_for_selector(".serving-answer:has-text('HTTP 200')")
        page.evaluate("window.scrollTo(0, 0)")
        shot(page, "serving-tab")
        assert _serious(page) == []
        # The settings dialog (the pool's workers, memory and tags) is accessible too.
        page.click("a:has-text('Edit')")
        page.wait_for_selector("#modal[open] #id_workers")
        assert page.locator("#modal").inner_text().count("the old pool drains, then stops") == 1
        assert _serious(page, "#modal") == []
        page.keyboard.press("Escape")
        page.wait_for_selector("#modal", state="hidden")
        page.set_viewport_size({"width": 390, "height": 844})
        page.evaluate("window.scrollTo(0, 0)")
        shot(page, "serving-tab-mobile")
        assert _serious(page) == []

        # The version's logs and events, for the owner.
        page.goto(f"{base}{TAB}versions/1/")
        page.wait_for_selector("#served-logs-h")
        assert page.locator(".serving-logs").count() == 1
        assert _serious(page) == []
        assert page.errors == []
    except Exception:
        print(supervisor.log_text()[-4000:])
        raise
    finally:
        supervisor.stop()  # SIGTERM: its model processes stop with it
