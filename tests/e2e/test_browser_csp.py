"""The Content-Security-Policy in a real browser (Debian chromium, headless, through Playwright): every main page
and a dialog are sent with the strict policy and load with no CSP violation and no console error; and the check
itself notices an inline style or handler when one is there."""
from __future__ import annotations

import pytest

from tests.e2e.browser import sign_in

pytestmark = pytest.mark.slow
MODEL = "prod.ml_team.iris"

# Installed before any page script runs, on every page: violations are kept on window for the test to read.
COLLECT_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__cspViolations.push(e.violatedDirective + " blocked " + (e.blockedURI || "inline") + " at " +
                              (e.sourceFile || location.pathname) + ":" + e.lineNumber);
}, true);
"""


def _setup(owner, reader):
    from registry.models import Experiment, Metric, Param
    from registry.services.aliases import alias_set
    from registry.services.grants import grant_add
    from registry.services.tokens import token_create
    from registry.services.versions import model_version_mark_ready
    from tests.explorer.conftest import SIGNATURE
    from tests.registry.factories import make_model, make_run, make_version

    model = make_model(owner, MODEL, description="Classifies **iris** flowers.")
    for _ in range(2):
        mv = make_version(owner, MODEL)  # each leaves a register job for the jobs page
        model_version_mark_ready(version_id=mv.pk, signature=SIGNATURE)
    alias_set(actor=owner, name=MODEL, alias="Champion", version=1)
    grant_add(actor=owner, securable=model, principal=reader, privilege="EXECUTE")
    Experiment.objects.create(id=7, name="fraud-detection", artifact_location="mlflow-artifacts:/7",
                              owner_user=owner, open_to_all=False, creation_time=0, last_update_time=0)
    run = make_run(7)
    run.name, run.status, run.start_time = "baseline", "FINISHED", 1_767_225_600_000
    run.save()
    Param.objects.create(run=run, key="C", value="1.0")
    Metric.objects.bulk_create(Metric(run=run, key="accuracy", value=v, timestamp=s, step=s)
                               for s, v in enumerate([0.7, 0.8, 0.9]))
    token_create(actor=owner, user=owner, name="laptop")
    return run


def _violations(page) -> list[str]:
    return page.evaluate("window.__cspViolations || []")


def _visit(page, url: str) -> None:
    response = page.goto(url)
    assert response.status == 200, url
    policy = response.headers.get("content-security-policy", "")
    directives = dict((part.strip().split(" ", 1) + [""])[:2] for part in policy.split(";") if part.strip())
    assert directives.get("script-src") == "'self'" and directives.get("style-src") == "'self'", (url, policy)
    page.wait_for_selector("body[data-ready='1']", state="attached")
    page.wait_for_load_state("networkidle")  # lazy tree nodes and partials are in


def test_main_pages_and_a_dialog_satisfy_the_policy(transactional_db, live_server, browser_page, owner, reader,
                                                     admin, governed):
    run = _setup(owner, reader)
    page, base = browser_page, live_server.url
    page.add_init_script(COLLECT_VIOLATIONS)
    seen: dict[str, list[str]] = {}
    _visit(page, f"{base}/accounts/login/")
    seen["/accounts/login/"] = _violations(page)
    sign_in(page, base, "owner")

    for path in ("/", "/models/", f"/models/{MODEL}/", f"/models/{MODEL}/versions/1/", "/experiments/7/",
                 f"/runs/{run.run_id}/", "/jobs/", "/settings/tokens/"):
        _visit(page, base + path)
        seen[path] = _violations(page)

    # A dialog loaded by htmx into the modal shell, on the model page.
    _visit(page, f"{base}/models/{MODEL}/")
    page.click("section.panel:has(#aliases-h) a.button")
    page.wait_for_selector("#modal[open] form")
    seen["aliases dialog"] = _violations(page)

    # The audit log is for admins.
    page.context.clear_cookies()
    sign_in(page, base, "admin")
    _visit(page, f"{base}/audit/")
    seen["/audit/"] = _violations(page)

    assert {path: found for path, found in seen.items() if found} == {}
    assert page.errors == []

    # The check can fail: an inline style attribute and an inline handler are refused and reported.
    page.evaluate("""document.body.insertAdjacentHTML("beforeend",
        '<p style="color: red">styled</p><img src="/static/missing.png" onerror="document.title = 1">')""")
    page.wait_for_function("window.__cspViolations.length >= 2")
    directives = {v.split(" ")[0] for v in _violations(page)}
    assert {"style-src-attr", "script-src-attr"} <= directives
