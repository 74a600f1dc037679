"""In Chromium: an admin creates a service principal, issues it a token (shown once), puts it in a group from the
group's page and sees what it reaches; the header search suggests as you type, by keyboard (ArrowDown, Enter,
Escape) as an ARIA 1.2 combobox, never suggesting what the user may not see. Every screen at 1440 and 390 px,
without sideways scrolling on the phone and without serious or critical axe violations. Screenshots
docs/screenshots/principals-*.png and search-suggest-*.png."""
from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from registry.models import Experiment, Run, ServicePrincipal
from registry.services.aliases import alias_set
from registry.services.grants import grant_add
from registry.services.versions import model_version_mark_ready
from tests.e2e.browser import SHOTS, sign_in
from tests.registry.factories import make_model, make_version

pytestmark = pytest.mark.slow
MODEL = "prod.ml_team.iris"
DESKTOP, PHONE = {"width": 1440, "height": 900}, {"width": 390, "height": 844}
SIGNATURE = {"inputs": [{"type": "double", "name": "x", "required": True}], "outputs": [{"type": "long"}],
             "params": None}


def _load(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", state="attached")
    page.wait_for_load_state("networkidle")


def _problems(page, name: str) -> list[str]:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)
    found = []
    widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    if widths[0] > widths[1]:
        found.append(f"{name}: scrollWidth {widths[0]} > innerWidth {widths[1]}")
    results = Axe().run(page)
    found += [f"{name}: {v['id']} ({v['impact']}) {[n['target'] for n in v['nodes']][:3]}"
              for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    return found


def _seed(owner, reader):
    model = make_model(owner, MODEL, description="Classifies **iris** flowers with `sklearn`.")
    mv = make_version(owner, MODEL)
    model_version_mark_ready(version_id=mv.pk, signature=SIGNATURE)
    alias_set(actor=owner, name=MODEL, alias="Champion", version=1)
    grant_add(actor=owner, securable=model, principal=reader, privilege="EXECUTE")
    make_model(owner, "prod.ml_team.iris_secret")
    experiment = Experiment.objects.create(id=11, name="iris-tuning", artifact_location="x", owner_user=owner,
                                           creation_time=0, last_update_time=0)
    Run.objects.create(run_id="b" * 32, experiment=experiment, name="iris-run-7", owner=owner, artifact_uri="x",
                       start_time=1, status="FINISHED")
    return model


def test_admin_manages_a_service_principal_and_its_group(transactional_db, live_server, browser_page, admin, owner,
                                                          reader, governed):
    _seed(owner, reader)
    page, base = browser_page, live_server.url
    page.set_viewport_size(DESKTOP)
    sign_in(page, base, "admin")
    problems = []

    # The account menu leads to service principals; one is created and issued a token, shown once.
    page.click("details.user-menu > summary")
    page.click("text=Service principals")
    page.wait_for_selector("body[data-ready='1']", state="attached")
    page.fill("#id_display_name", "ci-deployer")
    with page.expect_navigation():
        page.click("button:has-text('Create')")
    sp = ServicePrincipal.objects.get()
    assert page.url.endswith(f"/settings/service-principals/{sp.application_id}/")
    page.fill("#id_name", "github actions")
    with page.expect_navigation():
        page.click("button:has-text('Issue token')")
    secret = page.input_value("#new-token")
    assert secret.startswith("cex_")
    problems += _problems(page, "principals-sp-token-desktop")
    page.set_viewport_size(PHONE)
    problems += _problems(page, "principals-sp-token-phone")
    page.set_viewport_size(DESKTOP)
    _load(page, page.url)
    assert not page.locator("#new-token").count() and page.locator("td", has_text="github actions").count() == 1

    # A group gets the service principal as a member (picked by its application id) and a grant.
    _load(page, f"{base}/settings/groups/")
    page.fill("#id_name", "deployers")
    with page.expect_navigation():
        page.click("button:has-text('Create group')")
    page.fill("#id_member", str(sp.application_id))
    with page.expect_navigation():
        page.click("button:has-text('Add member')")
    assert page.locator("table.list a", has_text="ci-deployer").count() == 1
    from django.contrib.auth.models import Group
    grant_add(actor=admin, securable=governed.catalog, principal=Group.objects.get(name="deployers"),
              privilege="USE CATALOG")
    grant_add(actor=admin, securable=governed, principal=sp.user, privilege="USE SCHEMA")
    _load(page, page.url)
    problems += _problems(page, "principals-group-desktop")
    page.set_viewport_size(PHONE)
    problems += _problems(page, "principals-group-phone")

    # The service principal's page says what it reaches and why.
    page.set_viewport_size(DESKTOP)
    _load(page, f"{base}/settings/service-principals/{sp.application_id}/")
    reach = page.locator("section:has(#reach-h)")
    assert reach.locator("td", has_text="USE CATALOG here through group deployers").count() == 1
    assert reach.locator("li", has_text="USE SCHEMA inherited from schema prod.ml_team").count() >= 1
    page.locator("#reach-h").scroll_into_view_if_needed()
    problems += _problems(page, "principals-sp-reach-desktop")
    page.set_viewport_size(PHONE)
    problems += _problems(page, "principals-sp-reach-phone")
    # The lists: service principals and users.
    for name, path in (("principals-sps", "/settings/service-principals/"), ("principals-users", "/settings/users/")):
        for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(viewport)
            _load(page, base + path)
            problems += _problems(page, f"{name}-{size}")
    assert page.locator("main a", has_text="reader").count() == 1
    assert problems == []
    assert page.errors == []


def test_header_search_suggests_by_keyboard_within_visibility(transactional_db, live_server, browser_page, owner,
                                                               reader, governed):
    _seed(owner, reader)
    page, base = browser_page, live_server.url
    problems = []
    sign_in(page, base, "reader")
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        _load(page, f"{base}/")
        box = page.locator("#global-search")
        if size == "phone":
            page.click("button[aria-controls='global-search-form']")
        box.click()
        box.type("iri")
        page.wait_for_selector("#global-search-listbox [role=option]")
        assert box.get_attribute("role") == "combobox" and box.get_attribute("aria-expanded") == "true"
        labels = page.locator("#global-search-listbox .suggestion-label").all_inner_texts()
        assert labels == [MODEL, "Search for “iri”"], labels  # not iris_secret, iris-tuning or iris-run-7
        page.keyboard.press("ArrowDown")
        first = page.locator("#global-search-listbox [role=option]").first
        assert first.get_attribute("aria-selected") == "true"
        assert box.get_attribute("aria-activedescendant") == first.get_attribute("id")
        problems += _problems(page, f"search-suggest-{size}")
        page.keyboard.press("Escape")
        assert box.get_attribute("aria-expanded") == "false" and box.is_visible()
        page.keyboard.press("ArrowDown")  # opens the list again
        page.wait_for_selector("#global-search-listbox:not([hidden])")
        # A version by its alias: type on, choose it with the arrow keys, open it with Enter.
        box.fill("")
        box.type("champ")
        page.wait_for_selector("#global-search-listbox .suggestion-label:text-is('prod.ml_team.iris@Champion')")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowUp")
        chosen = page.locator("#global-search-listbox [aria-selected=true]")
        assert chosen.locator(".suggestion-detail").inner_text() == "version 1"
        with page.expect_navigation():
            page.keyboard.press("Enter")
        assert page.url == f"{base}/models/{MODEL}/versions/1/"
    # Enter with nothing chosen searches; result snippets are plain text.
    page.set_viewport_size(DESKTOP)
    _load(page, f"{base}/")
    page.fill("#global-search", "iris")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    assert "/search/?q=iris" in page.url
    text = page.locator("main").inner_text()
    assert "Classifies iris flowers with sklearn." in text and "**" not in text
    problems += _problems(page, "search-results-desktop")
    assert problems == []
    assert page.errors == []


def test_owner_sees_runs_and_experiments_tabs(transactional_db, live_server, browser_page, owner, reader, governed):
    _seed(owner, reader)
    page, base = browser_page, live_server.url
    sign_in(page, base, "owner")
    page.set_viewport_size(PHONE)
    _load(page, f"{base}/search/?q=iris&type=runs")
    assert page.locator("main a", has_text="iris-run-7").count() == 1
    assert page.locator("nav.tabs a[aria-current=page]").inner_text() == "Runs"
    problems = _problems(page, "search-runs-phone")
    page.click("nav.tabs a:has-text('Experiments')")
    page.wait_for_selector("body[data-ready='1']", state="attached")
    assert page.locator("main a", has_text="iris-tuning").count() == 1
    assert problems == []
    assert page.errors == []
