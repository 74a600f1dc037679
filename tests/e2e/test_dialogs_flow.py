"""Dialogs that do not fight you (issue 16 §3), by keyboard in a real browser: the tag dialog stays open after
Enter adds a tag (several, then a stray one removed), Escape closes it, and focus comes back to the control that
opened it, also when the dialog's end reloads the page (Grant); Compare stays disabled, with a hint, until two
versions are ticked; the copy dialog says live what the copy would do. Screenshots: var/test/screenshots/dialogs/."""
from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import sign_in
from tests.e2e.test_browser_explorer import MODEL, _setup

pytestmark = pytest.mark.slow
SHOTS = Path(__file__).resolve().parents[2] / "var" / "test" / "screenshots" / "dialogs"
TAGS_PENCIL = "a[aria-label='Edit tags of version 3']"


def _shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"))


def _ready(page) -> None:
    page.wait_for_selector("body[data-ready='1']", state="attached")


def _open(page, base: str, username: str, path: str):
    """Sign in as `username` and open `path`, its scripts wired."""
    sign_in(page, base, username)
    page.goto(base + path)
    _ready(page)
    return page


def _open_by_keyboard(page, opener: str, wait_for: str) -> None:
    """Focus the control that opens a dialog and press Enter, as a keyboard user does."""
    page.focus(opener)
    page.keyboard.press("Enter")
    page.wait_for_selector(wait_for)


def _active(page, attribute: str) -> str | None:
    return page.evaluate(f"document.activeElement && document.activeElement.getAttribute({attribute!r})")


def test_tags_by_keyboard_enter_adds_and_the_dialog_stays_open_escape_closes(
        transactional_db, live_server, browser_page, owner, reader, governed):
    from registry.models import ModelVersion

    _setup(owner, reader)
    page, base = browser_page, live_server.url
    _open(page, base, "owner", f"/models/{MODEL}/")
    _open_by_keyboard(page, TAGS_PENCIL, "#modal[open] #id_key")
    assert _active(page, "id") == "id_key"

    # Enter adds; the dialog stays open with the list updated and focus back in Key for the next one.
    for key, value in (("team", "ml"), ("stray", ""), ("owner_team", "risk")):
        page.keyboard.type(key)
        if value:
            page.keyboard.press("Tab")
            page.keyboard.type(value)
        page.keyboard.press("Enter")
        page.wait_for_selector(f"#modal[open] [data-dialog-changed]:has-text(\"Saved the tag '{key}'.\")")
        page.wait_for_selector(f"#modal button[aria-label='Remove tag {key}']")
        assert _active(page, "id") == "id_key" and page.input_value("#modal #id_key") == ""
    _shot(page, "tags-added")

    # Remove the stray one by keyboard: still open, the others kept.
    page.focus("#modal button[aria-label='Remove tag stray']")
    page.keyboard.press("Enter")
    page.wait_for_selector("#modal[open] [data-dialog-changed]:has-text(\"Removed the tag 'stray'.\")")
    assert page.locator("#modal button[aria-label='Remove tag stray']").count() == 0
    assert page.locator("#modal button[aria-label='Remove tag team']").count() == 1
    _shot(page, "tags-stray-removed")

    # Escape closes; the page reloads to show the tags, and focus is back on the pencil that opened the dialog.
    with page.expect_navigation():
        page.keyboard.press("Escape")
    _ready(page)
    assert not page.evaluate("document.getElementById('modal').open")
    assert _active(page, "aria-label") == "Edit tags of version 3"
    page.wait_for_selector("tr#version-3 .chip:has-text('owner_team')")
    tags = dict(ModelVersion.objects.get(model__name="iris", version=3).tags.values_list("key", "value"))
    assert tags == {"team": "ml", "owner_team": "risk"}

    # A dialog closed without a change does not reload, and focus returns too.
    _open_by_keyboard(page, TAGS_PENCIL, "#modal[open] #id_key")
    page.keyboard.press("Escape")
    page.wait_for_function("!document.getElementById('modal').open")
    # The dialog's close event, which restores focus, is dispatched in a task after `open` turns false: wait.
    expect(page.locator(TAGS_PENCIL)).to_be_focused(timeout=5000)
    assert page.errors == []


def test_after_grant_by_keyboard_focus_returns_to_the_grant_button(
        transactional_db, live_server, browser_page, owner, reader, governed):
    from registry.models import Grant

    _setup(owner, reader)
    page, base = browser_page, live_server.url
    _open(page, base, "owner", f"/models/{MODEL}/permissions/")
    _open_by_keyboard(page, "a.button.primary:has-text('Grant')", "#modal[open] #id_principal")
    page.keyboard.type("reader")
    page.check("#modal input[name=privileges][value='APPLY_TAG']")
    with page.expect_navigation():
        page.keyboard.press("Enter")  # from the checkbox: submits the form
    _ready(page)
    assert Grant.objects.filter(privilege="APPLY_TAG", user=reader).exists()
    assert page.evaluate("document.activeElement !== document.body")
    assert page.evaluate("document.activeElement.matches('a.button.primary[hx-get]')"
                         " && document.activeElement.textContent.trim() === 'Grant'")
    assert page.errors == []


def test_compare_is_disabled_with_a_hint_until_two_versions_are_ticked(
        transactional_db, live_server, browser_page, owner, reader, governed):
    _setup(owner, reader)
    page, base = browser_page, live_server.url
    _open(page, base, "reader", f"/models/{MODEL}/")
    button, hint = "#compare-form button[type=submit]", "#compare-hint"
    assert page.is_disabled(button)
    assert "Tick 2–10 versions" in page.inner_text(hint)
    page.check("input[aria-label='Compare version 3']")
    assert page.is_disabled(button)
    assert page.inner_text(hint) == "1 version chosen: choose at least one more to compare."
    _shot(page, "compare-one-ticked")
    page.check("input[aria-label='Compare version 1']")
    assert page.is_enabled(button) and page.inner_text(hint) == "2 versions chosen."
    page.uncheck("input[aria-label='Compare version 1']")
    assert page.is_disabled(button)
    page.check("input[aria-label='Compare version 2']")
    with page.expect_navigation():
        page.click(button)
    assert page.url.endswith("/compare/?versions=3&versions=2")

    # The compare page's picker: one version is no error page; a typed number counts as chosen.
    response = page.goto(f"{base}/models/{MODEL}/compare/?versions=2")
    assert response.status == 200
    _ready(page)
    picker = "details.compare-picker form button[type=submit]"
    assert page.is_disabled(picker) and page.locator(".notice.danger").count() == 0
    page.fill("#compare-numbers", "1")
    assert page.is_enabled(picker)
    with page.expect_navigation():
        page.click(picker)
    assert page.url.endswith(f"/models/{MODEL}/compare/?versions=2&versions=1")  # one shareable selection
    assert page.locator("section[aria-labelledby='cmp-version-h'] thead th").count() == 3
    assert page.errors == []


def test_copy_dialog_says_live_what_the_copy_would_do(transactional_db, live_server, browser_page, owner, reader,
                                                      governed):
    _setup(owner, reader)
    page, base = browser_page, live_server.url
    _open(page, base, "owner", f"/models/{MODEL}/versions/2/")
    page.click("summary:has-text('Actions')")
    page.click("a[role=menuitem]:has-text('Copy to another model')")
    page.wait_for_selector("#modal[open] #id_destination")
    options = page.eval_on_selector_all("#copy-destinations option", "els => els.map(e => e.value)")
    assert MODEL in options and "prod.ml_team.fraud_detector" in options
    page.fill("#modal #id_destination", "prod.ml_team.iris_prod")
    page.wait_for_selector("#copy-hint:has-text('Creates prod.ml_team.iris_prod (you may create models in "
                           "prod.ml_team)')")
    _shot(page, "copy-creates")
    page.uncheck("#modal #id_create_destination")
    page.wait_for_selector("#copy-hint[data-level=error]:has-text('prod.ml_team.iris_prod does not exist')")
    page.fill("#modal #id_destination", "prod.ml_team.fraud_detector")
    page.wait_for_selector("#copy-hint:has-text('Becomes version 1 of prod.ml_team.fraud_detector.')")
    _shot(page, "copy-new-version")
    page.keyboard.press("Escape")
    page.wait_for_function("!document.getElementById('modal').open")
    expect(page.locator("details.actions-menu > summary")).to_be_focused(timeout=5000)  # after the close event
    assert page.errors == []


def test_a_long_versions_table_filters_and_jumps_and_fits_a_phone(transactional_db, live_server, browser_page, owner,
                                                                   reader, governed):
    from registry.models import ModelVersion
    from tests.e2e.test_responsive_a11y import DESKTOP, PHONE, _problems

    model = _setup(owner, reader)
    first = ModelVersion.objects.get(model=model, version=1)
    ModelVersion.objects.bulk_create(ModelVersion(
        model=model, version=n, source=first.source, run_id=first.run_id, status="READY", signature=first.signature,
        storage_location=f"{model.storage_location}/versions/{n}", created_by=owner) for n in range(4, 121))
    model.last_version_number = 120
    model.save(update_fields=["last_version_number"])
    page, base = browser_page, live_server.url
    _open(page, base, "reader", f"/models/{MODEL}/")
    page.select_option("#vf-size", "10")
    with page.expect_navigation():
        page.click(".versions-filters button[type=submit]")
    assert page.locator("table.versions tbody tr").count() == 10
    # Go to version 37 by keyboard: the page that holds it, its row marked.
    page.focus("#vf-jump")
    page.keyboard.type("37")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    _ready(page)
    assert page.url.endswith(f"/models/{MODEL}/?page_size=10&page=9#version-37")
    assert page.evaluate("document.querySelector('tr:target').id") == "version-37"
    _shot(page, "versions-jump")
    problems = []
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.goto(f"{base}/models/{MODEL}/?page_size=10&alias=*")
        _ready(page)
        assert page.locator("table.versions tbody tr").count() == 1  # Champion, on version 2
        problems += _problems(page, "versions-filtered", size)
    assert problems == []
    assert page.errors == []
