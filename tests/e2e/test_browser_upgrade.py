"""Upgrading a workspace model to Unity Catalog in a real browser: Actions -> Upgrade to Unity Catalog, the hint
answering as the destination is typed, a stage's alias edited, then a real Celery worker runs the job while the
Overview follows it, until it says where the model went; the new model's History says where it came from. The
dialog passes axe and fits a phone. Screenshots: docs/screenshots/upgrade-*.png."""
from __future__ import annotations

import pytest

from registry.models import ModelAlias, RegisteredModel
from tests.e2e.browser import shot, sign_in, submit_and_reload
from tests.e2e.test_responsive_a11y import PHONE, SHOTS, _problems
from tests.upgrades import workspace_model

pytestmark = pytest.mark.slow
SOURCE = "LegacyFraud"


def test_upgrade_a_workspace_model_from_its_page(transactional_db, live_server, celery_worker, browser_page, owner,
                                                 governed):
    workspace_model(owner, SOURCE)
    page, base = browser_page, live_server.url
    sign_in(page, base, "owner")
    page.goto(f"{base}/models/{SOURCE}/")
    page.wait_for_selector("body[data-ready='1']", state="attached")
    page.click(".actions-menu summary")
    page.click(".actions-menu a:has-text('Upgrade to Unity Catalog')")
    page.wait_for_selector("#modal[open] #id_destination")
    assert page.input_value("#modal #id_alias_production") == "Champion"
    assert page.input_value("#modal #id_alias_staging") == "Challenger"

    # The hint follows the typing: a schema the owner may not use, then a new model where it may.
    page.fill("#modal #id_destination", "hr.private.fraud")
    page.wait_for_selector("#register-hint:has-text('does not exist')")
    page.fill("#modal #id_destination", "prod.ml_team.fraud")
    page.wait_for_selector("#register-hint:has-text('Creates the three-level model prod.ml_team.fraud')")
    page.fill("#modal #id_alias_staging", "Candidate")
    shot(page, "upgrade-dialog")
    SHOTS.mkdir(parents=True, exist_ok=True)
    problems = _problems(page, "upgrade-dialog", "desktop")
    page.set_viewport_size(PHONE)
    problems += _problems(page, "upgrade-dialog", "phone")
    page.set_viewport_size({"width": 1400, "height": 900})
    assert not problems, problems

    submit_and_reload(page, "#modal button:has-text('Start upgrade')")
    # The Overview follows the job (its status line is polled) and reloads when it ends.
    page.wait_for_selector(".banner.ok:has-text('Upgraded to prod.ml_team.fraud')", timeout=90_000)
    assert page.locator(".banner.failed").count() == 0, celery_worker.log_text()[-3000:]
    shot(page, "upgrade-done")
    destination = RegisteredModel.objects.get(schema__isnull=False, name="fraud")
    assert dict(ModelAlias.objects.filter(model=destination).values_list("alias", "version__version")) == {
        "Champion": 2, "Candidate": 1}

    page.click(".banner.ok a:has-text('prod.ml_team.fraud')")
    page.wait_for_selector("body[data-ready='1']", state="attached")
    page.click("nav.tabs a:has-text('History')")
    page.wait_for_selector(f"td.params a:has-text('Upgraded from workspace model {SOURCE}')")
    shot(page, "upgrade-history")
    assert not page.errors, page.errors
