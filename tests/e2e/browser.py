"""What the browser tests share: where Debian's chromium is, where screenshots go, and the steps every scenario
takes (sign in, a dialog submit that reloads the page). The `browser_page` fixture is in conftest.py."""
from __future__ import annotations

from pathlib import Path

SHOTS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
CHROMIUM = "/usr/bin/chromium"


def shot(page, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.wait_for_load_state("networkidle")  # lazy tree nodes loaded
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=False)


def sign_in(page, base: str, username: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", f"pw-{username}")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


def submit_and_reload(page, selector: str) -> None:
    """Click a dialog button whose success reloads the page (HX-Redirect), and wait for the new page's scripts."""
    with page.expect_navigation():
        page.click(selector)
    page.wait_for_selector("body[data-ready='1']", state="attached")


def save_and_close(page, selector: str) -> None:
    """Click a button of a dialog that stays open after saving (tags, aliases), wait for its "saved" notice, then
    close it with Escape: the page behind reloads to show the change."""
    page.click(selector)
    page.wait_for_selector("#modal[open] [data-dialog-changed]")
    with page.expect_navigation():
        page.keyboard.press("Escape")
    page.wait_for_selector("body[data-ready='1']", state="attached")
