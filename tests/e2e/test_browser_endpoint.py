"""Browser test of a serving endpoint's page in Chromium: the split editor shows the sum as it is typed, refuses
to save a split that does not sum to 100 (nothing is sent), saves one that does (a new config rolls out), and
the page loads under the strict CSP with no console error."""
from __future__ import annotations

import pytest

from registry.models import ServingDeployment, ServingEndpoint
from registry.serving.endpoint_services import endpoint_create
from registry.serving.reconcile import reconcile_all
from tests.e2e.browser import sign_in
from tests.registry.factories import make_model, make_version

pytestmark = pytest.mark.slow


def test_split_editor_says_the_sum_must_be_100_before_saving(transactional_db, live_server, browser_page, owner):
    make_model(owner, "iris_browser")
    for _ in range(2):
        make_version(owner, "iris_browser")
    endpoint_create(actor=owner, name="iris", config={
        "served_entities": [{"name": "a", "entity_name": "iris_browser", "entity_version": "1"},
                            {"name": "b", "entity_name": "iris_browser", "entity_version": "2"}],
        "traffic_config": {"routes": [{"served_entity_name": "a", "traffic_percentage": 90},
                                      {"served_entity_name": "b", "traffic_percentage": 10}]}})
    ServingDeployment.objects.filter(endpoint__name="iris").update(state="READY", address="http://127.0.0.1:9")
    reconcile_all()
    page, base = browser_page, live_server.url
    sign_in(page, base, "owner")
    page.goto(f"{base}/endpoints/iris/")
    total = page.locator("[data-traffic-total]")
    assert total.inner_text() == "Total: 100 %."
    page.fill("#traffic_a", "50")
    assert "must sum to 100" in total.inner_text() and "60" in total.inner_text()
    page.click("form[data-traffic-split] button[type=submit]")
    page.wait_for_timeout(300)
    assert page.url == f"{base}/endpoints/iris/"
    assert ServingEndpoint.objects.get(name="iris").config_version == 1  # nothing was sent
    page.fill("#traffic_b", "50")
    with page.expect_navigation():
        page.click("form[data-traffic-split] button[type=submit]")
    endpoint = ServingEndpoint.objects.get(name="iris")
    assert endpoint.config_version == 2
    assert [r["traffic_percentage"] for r in (endpoint.config or {}).get("traffic_config", {}).get("routes", [])] \
        == [50, 50]  # the same entities: switched at once
    assert page.locator("#traffic_a").input_value() == "50"
    assert page.errors == []
