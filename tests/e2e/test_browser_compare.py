"""Compare versions in a real browser (Debian chromium, headless, through Playwright): tick two versions on the
model page, Compare, read the side-by-side page and its charts, switch to differences only — with no JavaScript
errors. The page's screenshot goes to docs/screenshots/compare-versions.png."""
from __future__ import annotations

import math

import pytest

from tests.e2e.browser import SHOTS

pytestmark = pytest.mark.slow
MODEL = "prod.ml_team.iris"


def _setup(owner, reader):
    """Three READY versions trained with different settings: params, metric histories, an alias and tags."""
    from registry.models import Metric, Param, Run
    from registry.services.aliases import alias_set
    from registry.services.grants import grant_add
    from registry.services.tags import version_tag_set
    from registry.services.versions import model_version_mark_ready
    from tests.explorer.conftest import SIGNATURE
    from tests.registry.factories import make_model, make_version

    model = make_model(owner, MODEL, description="Classifies **iris** flowers.")
    settings = [("0.1", "3", "lbfgs"), ("0.05", "5", "lbfgs"), ("0.05", "8", "saga")]
    for n, (lr, depth, solver) in enumerate(settings, start=1):
        signature = SIGNATURE if n < 3 else {**SIGNATURE, "inputs": SIGNATURE["inputs"] + [
            {"type": "double", "name": "petal_length", "required": True}]}
        mv = make_version(owner, MODEL)
        model_version_mark_ready(version_id=mv.pk, signature=signature)
        run = Run.objects.get(run_id=mv.run_id)
        run.name, run.status = f"train-{['baseline', 'deeper', 'saga'][n - 1]}", "FINISHED"
        run.save()
        Param.objects.bulk_create(Param(run=run, key=k, value=v) for k, v in (
            ("learning_rate", lr), ("max_depth", depth), ("solver", solver), ("seed", "42")))
        rate = 0.12 + 0.05 * n
        Metric.objects.bulk_create(
            [Metric(run=run, key="accuracy", value=0.97 - 0.5 * math.exp(-rate * s), timestamp=s, step=s)
             for s in range(30)]
            + [Metric(run=run, key="loss", value=1.2 * math.exp(-rate * s) + 0.05 * n, timestamp=s, step=s)
               for s in range(30)]
            + [Metric(run=run, key="f1", value=0.90 + 0.02 * n, timestamp=30, step=29)])
    alias_set(actor=owner, name=MODEL, alias="Champion", version=3)
    version_tag_set(actor=owner, name=MODEL, version=1, key="validation_status", value="approved")
    version_tag_set(actor=owner, name=MODEL, version=3, key="validation_status", value="pending")
    grant_add(actor=owner, securable=model, principal=reader, privilege="EXECUTE")
    return model


def test_compare_two_versions_from_the_model_page(transactional_db, live_server, browser_page, owner, reader, governed):
    _setup(owner, reader)
    page = browser_page
    base = live_server.url

    page.goto(f"{base}/accounts/login/?next=/models/{MODEL}/")
    page.fill("#id_username", "reader")
    page.fill("#id_password", "pw-reader")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/models/{MODEL}/")

    # Tick two versions in the versions table and press Compare (a plain GET form).
    page.get_by_label("Compare version 1").check()
    page.get_by_label("Compare version 3").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Compare").click()
    assert "/compare/?versions=3&versions=1" in page.url
    page.wait_for_selector("h2#compare-h")
    headers = page.locator("section[aria-labelledby='cmp-version-h'] thead th").all_text_contents()
    assert [h.strip() for h in headers[1:]] == ["Version 1", "Version 3"]
    assert page.locator("tr.differs th:has-text('solver')").count() == 1
    assert page.locator("tr:not(.differs) th:has-text('seed')").count() == 1
    assert page.locator("figure.compare-chart").count() == 3  # accuracy, f1, loss
    assert page.locator("figure.compare-chart:has(code:text('accuracy')) polyline").count() == 2
    assert page.locator("a:has-text('train-saga')").count() == 1
    page.wait_for_load_state("networkidle")
    SHOTS.mkdir(parents=True, exist_ok=True)
    # A viewport as tall as the page, so the sticky sidebar is drawn full height too.
    page.set_viewport_size({"width": 1400, "height": page.evaluate("document.documentElement.scrollHeight")})
    page.screenshot(path=str(SHOTS / "compare-versions.png"))
    page.set_viewport_size({"width": 1400, "height": 900})

    # Differences only: a link, no script needed; equal rows go, differing ones stay.
    with page.expect_navigation():
        page.get_by_role("link", name="Show differences only").click()
    assert "diff=1" in page.url
    assert page.locator("th:has-text('seed')").count() == 0
    assert page.locator("tr.differs th:has-text('solver')").count() == 1
    assert page.locator("a[aria-current='true']:has-text('Show differences only')").count() == 1

    # And back to every row.
    with page.expect_navigation():
        page.get_by_role("link", name="All rows", exact=True).click()
    assert page.locator("th:has-text('seed')").count() == 1

    # A single version is not a comparison yet: no error page, the picker opened to choose a second, its button
    # disabled until one is ticked.
    response = page.goto(f"{base}/models/{MODEL}/compare/?versions=2")
    assert response.status == 200
    page.wait_for_selector(".notice[role=status]:has-text('Pick at least 2 versions')")
    page.wait_for_selector("body[data-ready='1']", state="attached")
    assert page.locator("details.compare-picker").get_by_role("button", name="Compare").is_disabled()
    page.locator("details.compare-picker").get_by_label("Version 3").check()
    with page.expect_navigation():
        page.locator("details.compare-picker").get_by_role("button", name="Compare").click()
    assert page.url.endswith("/compare/?versions=3&versions=2")
    assert page.locator("section[aria-labelledby='cmp-version-h'] thead th").count() == 3

    # 400 pages log a console error in Chromium ("Failed to load resource"); everything else must be clean.
    assert [e for e in page.errors if "status of 400" not in e] == []
