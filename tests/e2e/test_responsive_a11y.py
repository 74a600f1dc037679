"""Every main page in a real browser at 1440x900 and at 390x844, signed in, with seeded data: nothing scrolls
sideways on the phone (`scrollWidth <= innerWidth`), and axe-core finds no serious or critical violation, with the
main dialogs open too. MLflow UI links (`http://host/#/experiments/1/runs/<id>`, as the MLflow client prints them)
land on our page for the same object. Screenshots go to var/test/screenshots/responsive/."""
from __future__ import annotations

import io
from pathlib import Path

import pytest
from axe_playwright_python.sync_playwright import Axe

from tests.conftest import wait_for
from tests.e2e.browser import sign_in

pytestmark = pytest.mark.slow
MODEL = "prod.ml_team.iris_classifier_with_a_long_name"
SHOTS = Path(__file__).resolve().parents[2] / "var" / "test" / "screenshots" / "responsive"
DESKTOP, PHONE = {"width": 1440, "height": 900}, {"width": 390, "height": 844}


def _seed(owner, reader):
    from registry.models import Experiment, LoggedModel, Metric, Param, RunTag, ServingDeployment
    from registry.serving.endpoint_services import endpoint_create
    from registry.services.aliases import alias_set
    from registry.services.grants import grant_add
    from registry.services.tags import model_tag_set, version_tag_set
    from registry.services.versions import model_version_mark_ready
    from tests.explorer.conftest import SIGNATURE
    from tests.registry.factories import make_model, make_run, make_version

    experiment = Experiment.objects.create(id=7, name="iris-training", artifact_location="mlflow-artifacts:/7",
                                           owner_user=owner, open_to_all=False, creation_time=0, last_update_time=0)
    grant_add(actor=owner, securable=experiment, principal=reader, privilege="EXECUTE")
    runs = []
    for n, (name, c, accuracy) in enumerate([("baseline-logistic-regression", "1.0", [0.71, 0.82, 0.86]),
                                             ("strong-regularisation", "0.1", [0.80, 0.88, 0.91])]):
        run = make_run(7)
        run.name, run.status, run.user_id = name, "FINISHED", "owner"
        run.start_time = 1_767_225_600_000 + n * 3_600_000
        run.save()
        Param.objects.bulk_create([Param(run=run, key="C", value=c), Param(run=run, key="solver", value="lbfgs"),
                                   Param(run=run, key="a_rather_long_parameter_name", value="x" * 60)])
        Metric.objects.bulk_create(Metric(run=run, key=key, value=v, timestamp=s, step=s)
                                   for key in ("accuracy", "f1_score_macro_average") for s, v in enumerate(accuracy))
        RunTag.objects.create(run=run, key="team", value="ml")
        runs.append(run)
    logged = LoggedModel.objects.create(model_id="m-0123456789abcdef", experiment=experiment, name="model",
                                        source_run=runs[0], artifact_uri=f"{runs[0].artifact_uri}/model",
                                        status="LOGGED_MODEL_READY", creation_timestamp_ms=0,
                                        last_updated_timestamp_ms=0)
    model = make_model(owner, MODEL, description="Classifies **iris** flowers from `sepal_length`.")
    for _ in range(3):
        version = make_version(owner, MODEL, source=f"runs:/{runs[0].run_id}/model",
                               description="Trained on the **2024** data set.")
        model_version_mark_ready(version_id=version.pk, signature=SIGNATURE)
    alias_set(actor=owner, name=MODEL, alias="Champion", version=2)
    alias_set(actor=owner, name=MODEL, alias="Challenger", version=3)
    version_tag_set(actor=owner, name=MODEL, version=2, key="validation_status", value="approved")
    model_tag_set(actor=owner, name=MODEL, key="task", value="classification")
    grant_add(actor=owner, securable=model, principal=reader, privilege="EXECUTE")
    endpoint_create(actor=owner, name="iris", config={
        "served_entities": [{"name": "a", "entity_name": MODEL, "entity_version": "1"},
                            {"name": "b", "entity_name": MODEL, "entity_version": "2"}],
        "traffic_config": {"routes": [{"served_entity_name": "a", "traffic_percentage": 90},
                                      {"served_entity_name": "b", "traffic_percentage": 10}]}})
    ServingDeployment.objects.filter(endpoint__name="iris").update(state="READY", address="http://127.0.0.1:9")
    return runs, logged


def _pages(run_id: str) -> dict[str, str]:
    m, v = f"/models/{MODEL}", f"/models/{MODEL}/versions/2"
    return {
        "home": "/", "catalog": "/catalogs/prod/", "catalog-permissions": "/catalogs/prod/permissions/",
        "schema": "/schemas/prod.ml_team/", "schema-permissions": "/schemas/prod.ml_team/permissions/",
        "models": "/models/", "workspace": "/workspace/", "search": "/search/?q=iris",
        "model": f"{m}/", "model-details": f"{m}/details/", "model-permissions": f"{m}/permissions/",
        "model-lineage": f"{m}/lineage/", "model-history": f"{m}/history/", "model-serving": f"{m}/serving/",
        "model-compare": f"{m}/compare/?versions=1&versions=2&versions=3",
        "version": f"{v}/", "version-artifacts": f"{v}/artifacts/", "version-lineage": f"{v}/lineage/",
        "version-history": f"{v}/history/",
        "experiments": "/experiments/", "experiment": "/experiments/7/", "run": f"/runs/{run_id}/",
        "run-artifacts": f"/runs/{run_id}/artifacts/", "run-lineage": f"/runs/{run_id}/lineage/",
        "jobs": "/jobs/", "audit": "/audit/", "tokens": "/settings/tokens/", "console": "/console/",
        "endpoint": "/endpoints/iris/",
    }


def _dialogs(run_id: str) -> dict[str, tuple[str, str]]:
    """name -> (the page it opens on, the dialog's URL, loaded into the modal as its trigger would)."""
    m, v = f"/models/{MODEL}", f"/models/{MODEL}/versions/2"
    return {
        "grant": (f"{m}/permissions/", f"/grants/model/{MODEL}/grant/"),
        "aliases": (f"{m}/", f"{m}/aliases/?version=3"),
        "model-tags": (f"{m}/", f"{m}/tags/"),
        "description": (f"{m}/", f"{m}/description/"),
        "version-tags": (f"{v}/", f"{v}/tags/"),
        "copy-version": (f"{v}/", f"{v}/copy/"),
        "delete-version": (f"{v}/", f"{v}/delete/"),
        "register": (f"/runs/{run_id}/", f"/runs/{run_id}/register/"),
        "create-model": ("/schemas/prod.ml_team/", "/schemas/prod.ml_team/create-model/"),
    }


def _load(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", state="attached")
    page.wait_for_load_state("networkidle")  # lazy tree nodes, polled fragments


def _problems(page, name: str, size: str) -> list[str]:
    """What is wrong with the page as it is now: sideways scrolling on the phone, serious axe violations."""
    page.screenshot(path=str(SHOTS / f"{name}-{size}.png"), full_page=False)
    found = []
    if size == "phone":
        widths = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
        if widths[0] > widths[1]:
            # Where it starts: elements wider than the window inside a parent that is not.
            wide = page.evaluate("""() => [...document.querySelectorAll('body *')]
                .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1 &&
                             e.parentElement.getBoundingClientRect().right <= window.innerWidth + 1)
                .slice(0, 4).map(e => e.tagName.toLowerCase() + (e.className ? '.' + e.className : '') +
                                      ' in ' + e.parentElement.tagName.toLowerCase())""")
            found.append(f"{name} at {size}: scrollWidth {widths[0]} > innerWidth {widths[1]} ({wide})")
    results = Axe().run(page)
    found += [f"{name} at {size}: {v['id']} ({v['impact']}) {[n['target'] for n in v['nodes']][:3]}"
              for v in results.response["violations"] if v["impact"] in ("serious", "critical")]
    return found


def test_every_main_page_fits_a_phone_and_passes_axe(transactional_db, live_server, browser_page, admin, owner,
                                                     reader, governed):
    runs, _ = _seed(owner, reader)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page, base = browser_page, live_server.url
    sign_in(page, base, "admin")
    problems = []
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        for name, path in _pages(runs[0].run_id).items():
            _load(page, base + path)
            assert page.url.startswith(base + path.split("?")[0]), f"{name}: landed on {page.url}"
            problems += _problems(page, name, size)
        for name, (path, dialog) in _dialogs(runs[0].run_id).items():
            _load(page, base + path)
            page.evaluate("(url) => htmx.ajax('GET', url, {target: '#modal-content'})", dialog)
            page.wait_for_selector("#modal[open] #modal-content > *")
            problems += _problems(page, f"dialog-{name}", size)
    assert problems == [], "\n".join(problems)
    assert page.errors == []


def test_phone_top_bar_and_catalog_drawer(transactional_db, live_server, browser_page, owner, reader, governed):
    _seed(owner, reader)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page, base = browser_page, live_server.url
    sign_in(page, base, "owner")
    page.set_viewport_size(PHONE)
    _load(page, f"{base}/models/{MODEL}/")

    # The search sits behind an icon button; opening it focuses the field.
    search_toggle = page.locator("button[aria-controls='global-search-form']")
    assert search_toggle.get_attribute("aria-expanded") == "false"
    assert not page.locator("#global-search").is_visible()
    search_toggle.click()
    assert search_toggle.get_attribute("aria-expanded") == "true"
    assert page.evaluate("document.activeElement.id") == "global-search"
    page.screenshot(path=str(SHOTS / "search-open-phone.png"))
    assert _problems(page, "search-open", "phone") == []
    page.keyboard.press("Escape")
    assert search_toggle.get_attribute("aria-expanded") == "false"
    assert page.evaluate("document.activeElement.getAttribute('aria-controls')") == "global-search-form"

    # The catalog tree is a drawer: the toggle opens it and moves focus in, Escape closes it and focus returns.
    drawer_toggle = page.locator("button[aria-controls='catalog-tree']")
    assert not page.locator("#catalog-tree").is_visible()
    drawer_toggle.click()
    assert drawer_toggle.get_attribute("aria-expanded") == "true"
    assert page.locator("#catalog-tree").is_visible()
    assert page.evaluate("document.getElementById('catalog-tree').contains(document.activeElement)")
    page.screenshot(path=str(SHOTS / "drawer-open-phone.png"))
    assert _problems(page, "drawer-open", "phone") == []
    page.keyboard.press("Escape")
    assert drawer_toggle.get_attribute("aria-expanded") == "false"
    assert not page.locator("#catalog-tree").is_visible()
    assert page.evaluate("document.activeElement.getAttribute('aria-controls')") == "catalog-tree"

    # The versions table is wider than the phone: it scrolls in its own box, a named region reachable by Tab.
    box = page.locator("section.panel:has(#versions-h) .table-scroll")
    assert box.get_attribute("role") == "region" and box.get_attribute("tabindex") == "0"
    assert box.get_attribute("aria-label").startswith("Versions")
    box.focus()
    page.keyboard.press("ArrowRight")
    wait_for(lambda: page.evaluate("document.activeElement.scrollLeft") > 0, timeout=5, message="scrolled by keyboard")

    # On a desktop the tree is always there and the toggles are not.
    page.set_viewport_size(DESKTOP)
    assert page.locator("#catalog-tree").is_visible()
    assert not drawer_toggle.is_visible() and not search_toggle.is_visible()
    assert page.locator("#global-search").is_visible()
    assert page.errors == []


def test_mlflow_ui_links_land_on_our_pages(transactional_db, live_server, browser_page, settings, tmp_path, owner,
                                           reader, outsider, governed):
    from registry import storage

    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    runs, logged = _seed(owner, reader)
    run = runs[0]
    storage.save_stream(f"7/{run.run_id}/artifacts/model/MLmodel", io.BytesIO(b"artifact_path: model\n"))
    page, base = browser_page, live_server.url

    # Signed out: the link survives signing in.
    page.goto(f"{base}/#/experiments/7/runs/{run.run_id}")
    page.wait_for_url("**/accounts/login/**")
    page.fill("#id_username", "reader")
    page.fill("#id_password", "pw-reader")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/runs/{run.run_id}/")
    assert run.name in page.inner_text("h1")

    cases = {
        f"/#/experiments/7/runs/{run.run_id}": f"/runs/{run.run_id}/",
        f"/#/experiments/7/runs/{run.run_id}/artifacts/model/MLmodel": f"/runs/{run.run_id}/artifacts/?path=model%2FMLmodel",
        "/#/experiments/7": "/experiments/7/",
        "/#/experiments/7/overview?workspace=default": "/experiments/7/",
        "/#/experiments": "/experiments/",
        f"/#/experiments/7/models/{logged.model_id}": f"/runs/{run.run_id}/",
        f"/#/models/{MODEL}": f"/models/{MODEL}/",
        f"/#/models/{MODEL}/versions/2": f"/models/{MODEL}/versions/2/",
        "/#/models": "/models/",
        f'/#/compare-runs?runs=["{runs[0].run_id}","{runs[1].run_id}"]&experiments=["7"]': "/experiments/7/",
        f'/#/metric?runs=["{run.run_id}"]&metric="accuracy"&experiments=["7"]': f"/runs/{run.run_id}/",
        "/#/prompts": "/",
    }
    for link, landing in cases.items():
        page.goto(base + link)
        page.wait_for_url(base + landing)
        page.wait_for_selector("body[data-ready='1']", state="attached")
    # The page's own anchors are not MLflow links.
    page.goto(f"{base}/models/{MODEL}/#main")
    page.wait_for_selector("body[data-ready='1']", state="attached")
    assert page.url == f"{base}/models/{MODEL}/#main"
    # A fragment pasted into an open page (only the hash changes) is followed too.
    page.evaluate("location.hash = '#/models/" + MODEL + "/versions/3'")
    page.wait_for_url(f"{base}/models/{MODEL}/versions/3/")
    assert page.errors == []

    # Someone who may not see the experiment gets the same answer for its logged model as for a missing one.
    page.context.clear_cookies()
    sign_in(page, base, "outsider")
    hidden = page.goto(f"{base}/mlflow-link/?fragment=/experiments/7/models/{logged.model_id}")
    missing = page.goto(f"{base}/mlflow-link/?fragment=/experiments/7/models/m-missing")
    assert hidden.status == missing.status == 404
    assert page.goto(f"{base}/mlflow-link/?fragment=/experiments/7/runs/{run.run_id}").status == 404  # the run page
