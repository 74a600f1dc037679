"""The modal dialogs in a real browser: an unsaved description asks before it is thrown away (closing the
modal, or leaving the full-page dialog), and keyboard users get focus on the first field, a Tab cycle that
stays inside the dialog, Enter to submit, and focus back on the control that opened it."""
from __future__ import annotations

import pytest
from playwright.sync_api import expect

from registry.models import ModelAlias, RegisteredModel
from tests.e2e.browser import save_and_close, sign_in
from tests.e2e.test_browser_explorer import MODEL, _setup

pytestmark = pytest.mark.slow
DISCARD = "Discard your unsaved description?"
ORIGINAL = "Classifies **iris** flowers."
DESCRIPTION = "section.panel:has(#desc-h) a.button"


class Prompts:
    """Records every JavaScript dialog (confirm, beforeunload) and answers each with the next queued answer."""

    def __init__(self, page):
        self.seen: list[tuple[str, str]] = []
        self.answers: list[bool] = []
        page.on("dialog", self._answer)

    def _answer(self, dialog) -> None:
        self.seen.append((dialog.type, dialog.message))
        accept = self.answers.pop(0) if self.answers else False
        dialog.accept() if accept else dialog.dismiss()

    def take(self) -> list[tuple[str, str]]:
        seen, self.seen = self.seen, []
        return seen


def ready(page) -> None:
    page.wait_for_selector("body[data-ready='1']", state="attached")


def modal_open(page) -> bool:
    return page.evaluate("document.getElementById('modal').open")


def active_in_modal(page) -> bool:
    return page.evaluate("!!(document.activeElement && document.activeElement.closest('#modal'))")


def open_description(page):
    page.click(DESCRIPTION)
    page.wait_for_selector("#modal[open] textarea[data-original]")
    return page.locator("#modal textarea[data-original]")


def test_unsaved_description_asks_before_the_modal_closes(transactional_db, live_server, browser_page, owner,
                                                          reader, governed):
    model = _setup(owner, reader)
    page, base = browser_page, live_server.url
    prompts = Prompts(page)
    sign_in(page, base, "owner")
    page.goto(f"{base}/models/{MODEL}/")
    ready(page)

    # Nothing changed: Escape closes at once.
    open_description(page)
    page.keyboard.press("Escape")
    page.wait_for_selector("#modal", state="hidden")
    assert prompts.take() == []

    # Changed text: Escape, Cancel and × each ask; dismissing keeps the dialog and the text.
    area = open_description(page)
    area.click()
    page.keyboard.press("End")
    page.keyboard.type(" Unsaved words.")
    typed = area.input_value()
    assert typed.endswith("Unsaved words.")
    for close in ("Escape", "#modal .dialog-actions a:has-text('Cancel')", "#modal a.close", "Escape"):
        page.keyboard.press(close) if close == "Escape" else page.click(close)
        assert prompts.take() == [("confirm", DISCARD)], close
        assert modal_open(page) and area.input_value() == typed, close

    # Back to the original text: nothing to lose, no question.
    area.fill(ORIGINAL)
    page.keyboard.press("Escape")
    page.wait_for_selector("#modal", state="hidden")
    assert prompts.take() == []

    # Accepting the question closes the dialog and keeps the stored description.
    area = open_description(page)
    area.fill("Thrown away.")
    prompts.answers.append(True)
    page.click("#modal .dialog-actions a:has-text('Cancel')")
    page.wait_for_selector("#modal", state="hidden")
    assert prompts.take() == [("confirm", DISCARD)]
    page.wait_for_selector("#modal textarea", state="detached")  # the close event empties the modal
    assert RegisteredModel.objects.get(pk=model.pk).description == ORIGINAL

    # A preview keeps the text tracked; Save then reloads the page without any question.
    area = open_description(page)
    area.fill("Saved **for good**.")
    page.click("#modal button[value=preview]")
    page.wait_for_selector("#modal .preview-box strong:has-text('for good')")
    page.keyboard.press("Escape")
    assert prompts.take() == [("confirm", DISCARD)] and modal_open(page)
    with page.expect_navigation():
        page.click("#modal button[data-save]")
    ready(page)
    assert prompts.take() == []
    assert RegisteredModel.objects.get(pk=model.pk).description == "Saved **for good**."
    page.wait_for_selector("section.panel:has(#desc-h) .markdown strong:has-text('for good')")

    # A generated draft accepted with Accept: no question either.
    open_description(page)
    page.click("#modal button:has-text('Generate')")
    page.wait_for_selector("#modal [data-draft]")
    with page.expect_navigation():
        page.click("#modal button:has-text('Accept')")
    ready(page)
    assert prompts.take() == []
    assert "Unity Catalog model" in RegisteredModel.objects.get(pk=model.pk).description
    assert page.errors == []


def test_unsaved_description_on_the_full_page_dialog_warns_before_leaving(transactional_db, live_server,
                                                                          browser_page, owner, reader, governed):
    model = _setup(owner, reader)
    page, base = browser_page, live_server.url
    prompts = Prompts(page)
    sign_in(page, base, "owner")
    url = f"{base}/models/{MODEL}/description/"
    page.goto(url)
    ready(page)
    assert page.locator("#modal textarea").count() == 0 and page.locator(".dialog-page textarea").count() == 1

    # Unchanged: Cancel leaves without a warning.
    with page.expect_navigation():
        page.click(".dialog-page a:has-text('Cancel')")
    assert page.url == f"{base}/models/{MODEL}/" and prompts.take() == []

    # Changed: leaving warns; staying keeps the text, leaving anyway discards it.
    page.goto(url)
    ready(page)
    area = page.locator(".dialog-page textarea[data-original]")
    area.click()
    page.keyboard.type("Draft text. ")
    page.click(".dialog-page a:has-text('Cancel')")
    page.wait_for_timeout(300)
    assert [t for t, _ in prompts.take()] == ["beforeunload"]
    assert page.url == url and area.input_value() == ORIGINAL + "Draft text. "
    prompts.answers.append(True)
    with page.expect_navigation():
        page.click(".dialog-page a:has-text('Cancel')")
    assert [t for t, _ in prompts.take()] == ["beforeunload"]
    assert page.url == f"{base}/models/{MODEL}/"
    assert RegisteredModel.objects.get(pk=model.pk).description == ORIGINAL

    # Preview and Save are form posts: they carry the text on, so they leave without a warning.
    page.goto(url)
    ready(page)
    area = page.locator(".dialog-page textarea[data-original]")
    area.click()
    page.keyboard.press("Control+A")
    page.keyboard.type("Saved from the page.")
    with page.expect_navigation():
        page.click(".dialog-page button[value=preview]")
    ready(page)
    assert prompts.take() == []
    page.wait_for_selector(".dialog-page .preview-box:has-text('Saved from the page.')")
    with page.expect_navigation():
        page.click(".dialog-page button[data-save]")
    assert prompts.take() == []
    assert page.url == f"{base}/models/{MODEL}/"
    assert RegisteredModel.objects.get(pk=model.pk).description == "Saved from the page."
    assert page.errors == []


def _check_dialog_keyboard(page, opener, first_field: str, *, returns_to=None, close: str = "Escape") -> None:
    """Open the dialog with the keyboard from `opener`; the first field has focus, Tab and Shift+Tab stay in
    the dialog, and closing it (Escape or a button) puts focus back on `returns_to` (default: the opener)."""
    returns_to = returns_to or opener
    opener.focus()
    page.keyboard.press("Enter")
    page.wait_for_selector(f"#modal[open] {first_field}")
    expect(page.locator(f"#modal {first_field}")).to_be_focused()
    for key in ["Tab"] * 20 + ["Shift+Tab"] * 20:
        page.keyboard.press(key)
        assert active_in_modal(page), f"focus left the dialog after {key}"
    if close == "Escape":
        page.keyboard.press("Escape")
    else:
        page.click(close)
    page.wait_for_selector("#modal", state="hidden")
    expect(page.locator("#modal")).not_to_have_attribute("open", "")
    # The dialog's close event (which restores focus) is dispatched in a task after `open` turns false. The
    # waits are locator assertions, not wait_for_function: the pages' CSP forbids evaluating strings.
    expect(returns_to).to_be_focused(timeout=5000)


def test_dialogs_keep_and_return_focus_and_submit_with_enter(transactional_db, live_server, browser_page, owner,
                                                             reader, governed):
    _setup(owner, reader)
    page, base = browser_page, live_server.url
    prompts = Prompts(page)
    sign_in(page, base, "owner")
    page.goto(f"{base}/models/{MODEL}/")
    ready(page)

    # A button in a panel, closed with Escape, then with Cancel and with ×.
    edit = page.locator(DESCRIPTION)
    _check_dialog_keyboard(page, edit, "textarea[name=description]")
    _check_dialog_keyboard(page, edit, "textarea[name=description]",
                           close="#modal .dialog-actions a:has-text('Cancel')")
    _check_dialog_keyboard(page, edit, "textarea[name=description]", close="#modal a.close")
    # An icon link in a table row.
    aliases = page.locator("a[aria-label='Edit aliases of version 3']")
    _check_dialog_keyboard(page, aliases, "#id_alias")
    # A menu item: the menu closes when the dialog opens, so focus returns to the menu's button.
    menu = page.locator(".object-actions details.menu summary")
    menu.focus()
    page.keyboard.press("Enter")
    rename = page.locator(".object-actions a:has-text('Rename')")
    rename.wait_for()
    _check_dialog_keyboard(page, rename, "#id_new_name", returns_to=menu)
    assert page.locator(".object-actions details.menu[open]").count() == 0

    # Enter submits: a refused name shows the error with focus back in the field, a good one renames.
    menu.focus()
    page.keyboard.press("Enter")
    rename.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#modal #id_new_name")).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type("not a valid name!")
    page.keyboard.press("Enter")
    page.wait_for_selector("#modal[open] .error")
    expect(page.locator("#modal #id_new_name")).to_be_focused()
    page.keyboard.press("Control+A")
    page.keyboard.type("iris_renamed")
    with page.expect_navigation():
        page.keyboard.press("Enter")
    ready(page)
    assert page.url == f"{base}/models/prod.ml_team.iris_renamed/"
    assert RegisteredModel.objects.filter(name="iris_renamed").exists()
    assert prompts.take() == []
    assert page.errors == []


def _add_versions(owner, name: str, count: int) -> None:
    from tests.registry.factories import make_version

    for _ in range(count):
        make_version(owner, name)


def test_alias_dialog_treats_another_case_as_the_alias_it_names(transactional_db, live_server, browser_page, owner,
                                                                reader, governed):
    """Champion is on version 2. Typing `champion` for version 4 warns that it moves *Champion* (the same rule the
    alias service applies), and Move alias leaves one alias, which loads version 4 under either spelling. On a
    workspace model, which matches aliases exactly as MLflow does, the other spelling is refused at once."""
    from registry.selectors import version_get_by_alias
    from registry.services.aliases import alias_set
    from tests.registry.factories import make_model

    model = _setup(owner, reader)
    _add_versions(owner, MODEL, 1)
    page, base = browser_page, live_server.url
    sign_in(page, base, "owner")
    page.goto(f"{base}/models/{MODEL}/")
    ready(page)
    hint_urls = []
    page.on("request", lambda request: hint_urls.append(request.url) if "hint=1" in request.url else None)
    page.click("a[aria-label='Edit aliases of version 4']")
    page.locator("#modal[open] #id_alias").fill("champion")
    page.wait_for_selector("#modal #alias-hint[data-level=warn]:has-text(\"the alias 'Champion', which is on version 2\")")
    page.select_option("#modal #id_version", "2")  # the version select asks too
    page.wait_for_selector("#modal #alias-hint[data-level='']:has-text('is already on version 2')")
    page.select_option("#modal #id_version", "4")
    page.wait_for_selector("#modal #alias-hint[data-level=warn]:has-text('moves it from version 2 to version 4')")
    assert hint_urls and not any("csrf" in url for url in hint_urls), hint_urls
    page.click("#modal button.primary:has-text('Save alias')")
    page.wait_for_selector("#modal .notice.warn[role=alert]:has-text('moves it from version 2 to version 4')")
    save_and_close(page, "#modal button.primary:has-text('Move alias')")
    assert list(model.aliases.values_list("alias", "version__version")) == [("Champion", 4)]
    for spelling in ("Champion", "champion"):
        assert version_get_by_alias(actor=owner, name=MODEL, alias=spelling).version == 4
    page.wait_for_selector("td.chips .chip.alias:has-text('@Champion')")

    make_model(owner, "Legacy")
    _add_versions(owner, "Legacy", 2)
    alias_set(actor=owner, name="Legacy", alias="Champion", version=1)
    page.goto(f"{base}/models/Legacy/")
    ready(page)
    page.click("a[aria-label='Edit aliases of version 2']")
    page.locator("#modal[open] #id_alias").fill("champion")
    page.wait_for_selector("#modal #alias-hint[data-level=error]:has-text('only in case')")
    page.click("#modal button.primary:has-text('Save alias')")
    page.wait_for_selector("#modal .field.has-error .error:has-text('only in case')")
    assert list(ModelAlias.objects.filter(model__name="Legacy").values_list("alias", "version__version")) == [
        ("Champion", 1)]
    assert page.errors == []


def _tag_value_after_typing(page, version: int, key: str, typed: str) -> None:
    """Open the tag dialog of `version`, type the key, click into Value and type, as a user does; save."""
    page.click(f"a[aria-label='Edit tags of version {version}']")
    page.locator("#modal[open] #id_key").fill(key)
    page.click("#modal #id_value")
    page.keyboard.type(typed)
    save_and_close(page, "#modal button.primary:has-text('Save tag')")


def test_tag_dialog_never_appends_to_a_value_it_filled_in(transactional_db, live_server, browser_page, owner, reader,
                                                         governed):
    """Version 2 has `validation_status: approved`. On version 3, clicking into Value after typing that key
    leaves Value empty (the sibling's value is only a placeholder), so `passed` is stored, not `approvedpassed`.
    On version 2 itself, the current value is pre-filled *selected*, so typing replaces it."""
    from registry.models import ModelVersion

    _setup(owner, reader)
    page, base = browser_page, live_server.url
    sign_in(page, base, "owner")
    page.goto(f"{base}/models/{MODEL}/")
    ready(page)

    page.click("a[aria-label='Edit tags of version 3']")
    page.locator("#modal[open] #id_key").fill("validation_status")
    page.click("#modal #id_value")
    value = page.locator("#modal #id_value")
    assert value.input_value() == "" and "approved" in (value.get_attribute("placeholder") or "")
    page.keyboard.type("passed")
    save_and_close(page, "#modal button.primary:has-text('Save tag')")
    assert ModelVersion.objects.get(model__name="iris", version=3).tags.get(key="validation_status").value == "passed"

    _tag_value_after_typing(page, 2, "validation_status", "rejected")
    assert ModelVersion.objects.get(model__name="iris", version=2).tags.get(key="validation_status").value == "rejected"
    assert page.errors == []
