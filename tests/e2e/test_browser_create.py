"""The Create dialogs in a real browser: an admin creates a catalog from the home page, a schema inside it and a model
inside that, each through its modal dialog, landing on the new object's page every time — with a duplicate name
answered inside the dialog, and no JavaScript errors."""
from __future__ import annotations

import pytest

from registry.models import AuditEvent, Catalog, RegisteredModel, Schema
from tests.e2e.browser import shot, sign_in, submit_and_reload

pytestmark = pytest.mark.slow


def test_admin_creates_catalog_schema_and_model_through_dialogs(transactional_db, live_server, browser_page, admin,
                                                                governed):
    page, base = browser_page, live_server.url
    sign_in(page, base, "admin")

    # Home -> Create catalog.
    page.click("a:has-text('Create catalog')")
    page.locator("#modal[open] #id_name").fill("Sandbox")
    page.locator("#modal[open] #id_comment").fill("Where new models are tried out.")
    submit_and_reload(page, "#modal button.primary")
    assert page.url == f"{base}/catalogs/sandbox/"
    assert Catalog.objects.get(name="sandbox").owner_user == admin

    # Catalog -> Create schema: a taken name is answered in the dialog, then a free one is created.
    page.click("a:has-text('Create schema')")
    page.locator("#modal[open] #id_name").fill("features")
    page.locator("#modal[open] #id_comment").fill("Feature-engineering models.")
    submit_and_reload(page, "#modal button.primary")
    assert page.url == f"{base}/schemas/sandbox.features/"
    page.goto(f"{base}/catalogs/sandbox/")
    page.wait_for_selector("body[data-ready='1']", state="attached")
    page.click("a:has-text('Create schema')")
    page.locator("#modal[open] #id_name").fill("Features")
    page.locator("#modal[open] #id_comment").fill("Models that score live traffic.")
    page.click("#modal button.primary")
    page.wait_for_selector("#modal[open] .error:has-text(\"Schema 'sandbox.features' already exists.\")")
    assert page.evaluate("document.activeElement.id") == "id_name"  # focus on the field in error
    assert page.locator("#modal #id_comment").input_value() == "Models that score live traffic."  # kept
    shot(page, "dialog-create-schema")
    page.locator("#modal[open] #id_name").fill("scoring")
    submit_and_reload(page, "#modal button.primary")
    assert page.url == f"{base}/schemas/sandbox.scoring/"
    assert Schema.objects.filter(catalog__name="sandbox").count() == 2

    # Schema -> Create model, landing on the model page.
    page.click("a:has-text('Create model')")
    page.locator("#modal[open] #id_name").fill("fraud_detector")
    page.locator("#modal[open] #id_description").fill("Flags **fraudulent** payments.")
    submit_and_reload(page, "#modal button.primary")
    assert page.url == f"{base}/models/sandbox.scoring.fraud_detector/"
    page.wait_for_selector("strong:has-text('fraudulent')")
    model = RegisteredModel.objects.get(schema__catalog__name="sandbox", schema__name="scoring", name="fraud_detector")
    assert model.owner_user == admin
    assert AuditEvent.objects.filter(action__in=["catalog.create", "schema.create", "registered_model.create"],
                                     outcome="success", via="ui").count() == 4

    assert page.errors == []
