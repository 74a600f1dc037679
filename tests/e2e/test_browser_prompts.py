"""Prompts in a real browser (Debian chromium through Playwright): from the navigation to the Prompts list, a
prompt's versions with their templates, the diff between two versions, the schema's Prompts tab and the
permissions tab, at 1440 px and 390 px, axe-clean (no serious or critical violation), never wider than a phone,
with no JavaScript errors. Screenshots: docs/screenshots/prompts-*.png."""
from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.e2e.browser import SHOTS, save_and_close, sign_in

pytestmark = pytest.mark.slow
NAME = "prod.ml_team.summarize_support_ticket"
DESKTOP, PHONE = {"width": 1440, "height": 900}, {"width": 390, "height": 844}
V1 = "You are a support assistant.\nSummarize the ticket below in {{ n }} sentences.\n\nTicket:\n{{ ticket }}"
V2 = ("You are a support assistant for {{ product }}.\nSummarize the ticket below in {{ n }} sentences.\n"
      "Name the customer's main problem first.\n\nTicket:\n{{ ticket }}")


def _seed(owner, reader):
    from registry.models import RegisteredModel
    from registry.services.aliases import alias_set
    from registry.services.grants import grant_add
    from tests.explorer.test_prompt_pages import make_prompt

    make_prompt(owner, NAME, V1, V2, tags={"team": "support", "language": "en"})
    alias_set(actor=owner, name=NAME, alias="production", version=1)
    alias_set(actor=owner, name=NAME, alias="staging", version=2)
    make_prompt(owner, "greeting", "Hello {{name}}!")
    grant_add(actor=owner, securable=RegisteredModel.objects.get(name=NAME.rsplit(".", 1)[1]), principal=reader,
              privilege="EXECUTE")


def _load(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", state="attached")
    page.wait_for_load_state("networkidle")


def _check(page, name: str, size: str) -> list[str]:
    page.screenshot(path=str(SHOTS / f"prompts-{name}-{size}.png"), full_page=False)
    found = []
    if size == "phone":
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if widths[0] > widths[1]:
            found.append(f"{name} at {size}: scrollWidth {widths[0]} > innerWidth {widths[1]}")
    results = Axe().run(page)
    found += [f"{name} at {size}: {v['id']} ({v['impact']}) {[n['target'] for n in v['nodes']][:3]}"
              for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    return found


def test_prompts_list_page_and_diff(transactional_db, live_server, browser_page, owner, reader, governed):
    _seed(owner, reader)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page, base = browser_page, live_server.url
    sign_in(page, base, "owner")
    page.set_viewport_size(DESKTOP)

    # From the navigation to the list, to the prompt, to the diff, by clicking.
    page.click("nav.topnav >> text=Prompts")
    page.wait_for_url(f"{base}/prompts/")
    rows = page.locator("table.prompts tbody tr")
    assert rows.count() == 2
    assert "production: Version 1" in rows.filter(has_text=NAME).inner_text()
    page.click(f"table.prompts >> text={NAME}")
    page.wait_for_url(f"{base}/prompts/{NAME}/")
    templates = page.locator("pre.prompt-template")
    assert templates.count() == 2
    assert templates.first.inner_text() == V2  # newest first, whitespace and {{ }} as written
    assert "Name the customer's main problem first." in page.locator("#version-2").inner_text()
    assert "commit 2" in page.locator("#version-2 .commit-message").inner_text()
    page.select_option("#diff-from", "1")
    page.select_option("#diff-to", "2")
    page.click("text=Show diff")
    page.wait_for_url(f"{base}/prompts/{NAME}/compare/?from=1&to=2")
    assert page.locator("tr.diff-insert").count() == 2 and page.locator("tr.diff-delete").count() == 1
    assert page.locator("tr.diff-insert ins").first.inner_text() == "You are a support assistant for {{ product }}."
    assert page.locator("#diff-summary").inner_text() == "2 lines added, 1 line removed."

    problems = []
    pages = {
        "list": "/prompts/", "prompt": f"/prompts/{NAME}/", "diff": f"/prompts/{NAME}/compare/?from=1&to=2",
        "schema": "/schemas/prod.ml_team/prompts/", "permissions": f"/prompts/{NAME}/permissions/",
    }
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        for name, path in pages.items():
            _load(page, base + path)
            problems += _check(page, name, size)
    assert not problems, "\n".join(problems)

    # The grant dialog of a prompt is the model's, and it comes back to the prompt's permissions.
    page.set_viewport_size(DESKTOP)
    _load(page, base + pages["permissions"])
    page.click("a.button:text-is('Grant')")
    page.wait_for_selector("#modal[open]")
    problems = _check(page, "grant-dialog", "desktop")
    assert not problems, "\n".join(problems)
    page.keyboard.press("Escape")

    # The aliases dialog is the model's: an alias set on the prompt page shows there after the dialog closes.
    _load(page, base + pages["prompt"])
    page.click(f"a[aria-label='Edit aliases of {NAME.rsplit('.', 1)[1]}']")
    page.wait_for_selector("#modal[open] #id_alias")
    page.fill("#modal #id_alias", "canary")
    page.select_option("#modal #id_version", "2")
    save_and_close(page, "#modal button.primary:has-text('Save alias')")
    assert page.locator("#version-2 .chip.alias:has-text('@canary')").count() == 1
    assert page.url == base + pages["prompt"]

    # A reader with EXECUTE sees the prompt, not the permission buttons; the other prompt is not listed.
    page.context.clear_cookies()
    sign_in(page, base, "reader")
    _load(page, base + "/prompts/")
    assert page.locator("table.prompts tbody tr").count() == 1
    _load(page, base + pages["permissions"])
    assert page.locator("a.button:text-is('Grant')").count() == 0
    assert "Only owners, holders of MANAGE and metastore admins may change permissions." in page.content()
    assert not page.errors, page.errors
