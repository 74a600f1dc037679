"""Charts and lineage in a real browser (issue 16 §4; Debian chromium through Playwright, uPlot as vendored): a run's
metric chart answers a hover with the exact step and value, by step or by time, and a metric logged once is a
value; the experiment page overlays the compared runs' histories, draws a param against a metric, and its column
chooser changes the table; a lineage graph too large for its box opens on the selected node, Fit shows all of it
with the selected node still in view, zoom keeps it there, and every node is a link. Each screen at 1440 and 390 px,
axe-clean, no sideways scroll on the phone. Screenshots: docs/screenshots/charts-*.png and lineage-*.png."""
from __future__ import annotations

import json
import time

import pytest

from tests.e2e.browser import SHOTS, sign_in
from tests.e2e.test_responsive_a11y import DESKTOP, PHONE, _problems

pytestmark = pytest.mark.slow

RUNS = [  # name, C, solver, accuracy by step, f1 (logged once)
    ("baseline", "1.0", "lbfgs", [0.61, 0.74, 0.81, 0.86], 0.84),
    ("strong-reg", "0.1", "lbfgs", [0.70, 0.80, 0.88, 0.91], 0.89),
    ("saga", "1.0", "saga", [0.65, 0.78, 0.90], 0.87),
    ("weak-reg", "10.0", "lbfgs", [0.82, 0.90, 0.93, 0.94], 0.92),
    ("liblinear", "0.5", "liblinear", [0.75, 0.85, 0.89], 0.86),
    ("newton", "2.0", "newton-cg", [0.72, 0.83, 0.87, 0.88], 0.85),
]
T0 = 1_767_225_600_000


def _seed(owner, reader):
    from registry.models import Dataset, Experiment, Metric, Param, RunInput
    from registry.services.grants import grant_add
    from registry.services.versions import model_version_mark_ready
    from tests.explorer.conftest import SIGNATURE
    from tests.registry.factories import make_model, make_run, make_version

    exp = Experiment.objects.create(id=9, name="wine-quality", artifact_location="mlflow-artifacts:/9",
                                    owner_user=owner, open_to_all=False, creation_time=0, last_update_time=0)
    grant_add(actor=owner, securable=exp, principal=reader, privilege="EXECUTE")
    runs = {}
    for n, (name, c, solver, accuracy, f1) in enumerate(RUNS):
        run = make_run(9)
        run.name, run.status, run.user_id, run.start_time = name, "FINISHED", "alice", T0 + n * 3_600_000
        run.save()
        Param.objects.bulk_create([Param(run=run, key="C", value=c), Param(run=run, key="solver", value=solver)])
        Metric.objects.bulk_create(
            [Metric(run=run, key="accuracy", value=v, timestamp=T0 + s * 60_000, step=s) for s, v in enumerate(accuracy)]
            + [Metric(run=run, key="loss", value=1 - v, timestamp=T0 + s * 60_000, step=s)
               for s, v in enumerate(accuracy)]
            + [Metric(run=run, key="f1", value=f1, timestamp=T0, step=0)])
        runs[name] = run
    # The best run read 24 tables and one CSV: its lineage is far taller than the box it is drawn in.
    best = runs["weak-reg"]
    for i in range(24):
        d = Dataset.objects.create(experiment=exp, name=f"part_{i:02d}", digest=f"d{i:02d}", source_type="local",
                                   source=json.dumps({"uri": f"main.raw.wine_part_{i:02d}"}))
        RunInput.objects.create(run=best, dataset=d, tags=[{"key": "mlflow.data.context", "value": "training"}])
    csv = Dataset.objects.create(experiment=exp, name="holdout", digest="h1", source_type="s3",
                                 source=json.dumps({"uri": "s3://wine-bucket/holdout.csv"}))
    RunInput.objects.create(run=best, dataset=csv, tags=[{"key": "mlflow.data.context", "value": "evaluation"}])
    model = make_model(owner, "prod.ml_team.wine")
    mv = make_version(owner, "prod.ml_team.wine", source=f"runs:/{best.run_id}/model")
    model_version_mark_ready(version_id=mv.pk, signature=SIGNATURE)
    grant_add(actor=owner, securable=model, principal=reader, privilege="EXECUTE")
    return exp, runs


def _load(page, url: str) -> None:
    page.goto(url)
    page.wait_for_selector("body[data-ready='1']", state="attached")
    page.wait_for_load_state("networkidle")


def _until(page, expression: str, timeout: float = 10.0) -> None:
    """Poll `expression` in the page (page.wait_for_function evaluates strings, which the CSP forbids)."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        assert time.monotonic() < deadline, f"timed out waiting for {expression}"
        page.wait_for_timeout(50)


def _legend(page, figure: str) -> str:
    return page.locator(f"{figure} .u-legend").inner_text()


def _hover_end(page, figure: str, where: float = 0.999) -> None:
    over = page.locator(f"{figure} .u-over")
    box = over.bounding_box()
    page.mouse.move(box["x"] + box["width"] * where, box["y"] + box["height"] / 2)


def _inside(inner: dict, outer: dict) -> bool:
    return (inner["x"] >= outer["x"] - 1 and inner["y"] >= outer["y"] - 1
            and inner["x"] + inner["width"] <= outer["x"] + outer["width"] + 1
            and inner["y"] + inner["height"] <= outer["y"] + outer["height"] + 1)


def _root_in_view(page) -> bool:
    root = page.locator(".lineage-node--root rect").bounding_box()
    box = page.locator(".lineage-picture").bounding_box()
    return root is not None and _inside(root, box)


def test_run_chart_hover_shows_step_and_value(transactional_db, live_server, browser_page, owner, reader, governed):
    _, runs = _seed(owner, reader)
    page, base = browser_page, live_server.url
    sign_in(page, base, "reader")
    page.set_viewport_size(DESKTOP)
    _load(page, f"{base}/runs/{runs['baseline'].run_id}/")
    accuracy = ".metric-chart[data-key=accuracy]"
    page.wait_for_selector(f"{accuracy} canvas")
    # A metric logged once is a value, not a chart.
    assert "0.84" in page.locator(".metric-value:has-text('f1')").inner_text()
    assert page.locator(".metric-chart[data-key=f1]").count() == 0
    # Hover the last point: the legend says step 3 and 0.86; the first: step 0 and 0.61.
    _hover_end(page, accuracy)
    legend = _legend(page, accuracy)
    assert "Step" in legend and "3" in legend and "0.86" in legend, legend
    _hover_end(page, accuracy, 0.001)
    legend = _legend(page, accuracy)
    assert "0" in legend and "0.61" in legend, legend
    # The y axis has ticks; the canvas says what it shows.
    assert "Chart of accuracy by step" in page.locator(f"{accuracy} canvas").get_attribute("aria-label")
    assert page.locator(f"{accuracy} .u-axis").count() == 2
    # By time: the x value is the point's time.
    page.check("input[name=chart-x][value=time]")
    _until(page, "document.querySelector('.metric-chart[data-key=accuracy] canvas')"
                           ".getAttribute('aria-label').includes('by time')")
    _hover_end(page, accuracy)
    legend = _legend(page, accuracy)
    assert "Time" in legend and "2026-01-01 00:03:00 UTC" in legend and "0.86" in legend, legend
    page.check("input[name=chart-x][value=step]")
    _hover_end(page, accuracy, 0.6)
    page.screenshot(path=str(SHOTS / "charts-run.png"))
    assert _problems(page, "charts-run", "desktop") == []
    page.set_viewport_size(PHONE)
    _load(page, f"{base}/runs/{runs['baseline'].run_id}/")
    page.wait_for_selector(f"{accuracy} canvas")
    page.locator(accuracy).scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "charts-run-mobile.png"))
    assert _problems(page, "charts-run", "phone") == []
    assert page.errors == []


def test_experiment_overlay_scatter_and_column_chooser(transactional_db, live_server, browser_page, owner, reader,
                                                       governed):
    exp, runs = _seed(owner, reader)
    page, base = browser_page, live_server.url
    sign_in(page, base, "reader")
    page.set_viewport_size(DESKTOP)
    _load(page, f"{base}/experiments/{exp.pk}/")
    chart = ".runs-chart"
    page.wait_for_selector(f"{chart} canvas")
    assert page.url == f"{base}/experiments/{exp.pk}/"  # drawing the chart does not rewrite the link you came by
    # Until runs are ticked, the first five on the page are overlaid: one legend entry each.
    labels = page.locator(f"{chart} .u-legend .u-series .u-label").all_inner_texts()
    assert labels[0] == "Step" and len(labels) == 6, labels
    # Tick two runs: the chart shows those two, the URL remembers them.
    page.check(f"input[aria-label='Compare {RUNS[1][0]}']")
    page.check(f"input[aria-label='Compare {RUNS[3][0]}']")
    _until(page, "document.querySelectorAll('.runs-chart .u-legend .u-series').length === 3")
    labels = page.locator(f"{chart} .u-legend .u-series .u-label").all_inner_texts()
    assert sorted(labels[1:]) == ["strong-reg", "weak-reg"], labels  # in table order
    assert f"compare={runs['strong-reg'].run_id}" in page.url and f"compare={runs['weak-reg'].run_id}" in page.url
    assert "2 runs compared" in page.locator("[data-compare-count]").inner_text()
    _hover_end(page, chart)
    legend = _legend(page, chart)
    assert "3" in legend and "0.91" in legend and "0.94" in legend, legend  # both runs' values at step 3
    page.screenshot(path=str(SHOTS / "charts-experiment.png"))
    # Another metric, then a param against a metric.
    page.select_option("#chart-metric", "loss")
    _until(page, "document.querySelector('.runs-chart canvas').getAttribute('aria-label').startsWith('loss')")
    page.select_option("#chart-mode", "scatter")
    page.select_option("#chart-param", "C")
    page.select_option("#chart-metric", "f1")
    _until(page, "document.querySelector('.runs-chart canvas').getAttribute('aria-label')"
                           ".startsWith('Scatter of f1 against C')")
    caption = page.locator(f"{chart} .chart-summary").inner_text()
    assert "strong-reg (0.1, 0.89)" in caption and "weak-reg (10.0, 0.92)" in caption, caption
    page.screenshot(path=str(SHOTS / "charts-experiment-scatter.png"))
    assert _problems(page, "charts-experiment", "desktop") == []
    # A reload keeps the ticked runs and the chart.
    _load(page, page.url)
    page.wait_for_selector(f"{chart} canvas")
    assert page.locator(f"input[aria-label='Compare {RUNS[3][0]}']").is_checked()
    assert page.locator("#chart-mode").input_value() == "scatter"
    # The column chooser: hide the solver param, the table follows and the chart stays.
    page.click(".column-chooser > summary")
    page.uncheck(".column-form input[value='params.solver']")
    with page.expect_navigation():
        page.click(".column-form button[type=submit]")
    headers = [" ".join(t.split()) for t in page.locator(".runs-table thead th").all_text_contents()]
    assert not any("solver" in h for h in headers) and any(h.startswith("param C") for h in headers), headers
    assert page.locator(f"input[aria-label='Compare {RUNS[3][0]}']").is_checked()
    page.wait_for_selector(f"{chart} canvas")
    page.set_viewport_size(PHONE)
    _load(page, page.url)
    page.wait_for_selector(f"{chart} canvas")
    page.locator(chart).scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "charts-experiment-mobile.png"))
    assert _problems(page, "charts-experiment", "phone") == []
    assert page.errors == []


def test_lineage_opens_on_the_selected_node_fits_and_zooms(transactional_db, live_server, browser_page, owner, reader,
                                                           governed):
    _, runs = _seed(owner, reader)
    page, base = browser_page, live_server.url
    sign_in(page, base, "reader")
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        _load(page, f"{base}/models/prod.ml_team.wine/versions/1/lineage/?depth=3")
        assert page.title().startswith("Lineage of prod.ml_team.wine version 1")
        assert " ".join(page.locator("h1").inner_text().split()).startswith("prod.ml_team.wine Version 1")
        page.wait_for_selector(".lineage-picture.zoomable")
        assert _root_in_view(page), "the selected version is in view when the page opens"
        # Every node is a link to its page.
        kinds = page.evaluate("""() => [...document.querySelectorAll('.lineage-graph .lineage-node')]
            .map(n => [n.getAttribute('class'), n.parentElement.tagName.toLowerCase(),
                       n.parentElement.getAttribute('href')])""")
        assert kinds and all(parent == "a" and href for _, parent, href in kinds), kinds
        assert {"table", "dataset", "run", "experiment", "model_version"} <= {
            c.split("lineage-node--")[1].split()[0] for c, _, _ in kinds}
        assert page.locator(".lineage-graph text:has-text('s3://wine-bucket/holdout.csv')").count() == 1
        page.screenshot(path=str(SHOTS / f"lineage-open{'-mobile' if size == 'phone' else ''}.png"))
        # Fit: the whole graph in the box, the selected node still in it.
        page.click("[data-lineage=fit]")
        assert _root_in_view(page)
        graph = page.locator(".lineage-graph .lineage-nodes").bounding_box()
        assert _inside(graph, page.locator(".lineage-picture").bounding_box())
        page.screenshot(path=str(SHOTS / f"lineage-fit{'-mobile' if size == 'phone' else ''}.png"))
        # Zoom in a lot: the selected node stays in view.
        for _ in range(6):
            page.click("[data-lineage=in]")
            assert _root_in_view(page)
        scale = float(page.locator(".lineage-graph").get_attribute("data-scale"))
        page.click("[data-lineage=out]")
        assert float(page.locator(".lineage-graph").get_attribute("data-scale")) < scale and _root_in_view(page)
        # Drag pans (no navigation); Fit brings everything back.
        box = page.locator(".lineage-picture").bounding_box()
        before = page.locator(".lineage-graph").get_attribute("viewBox")
        page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        page.mouse.down()
        page.mouse.move(box["x"] + box["width"] / 2 - 150, box["y"] + box["height"] / 2 - 40, steps=5)
        page.mouse.up()
        assert page.url.endswith("/lineage/?depth=3")
        assert page.locator(".lineage-graph").get_attribute("viewBox") != before
        page.click("[data-lineage=fit]")
        assert _root_in_view(page)
        # Keyboard: the picture takes focus and zooms with + and -.
        page.focus(".lineage-picture")
        scale = float(page.locator(".lineage-graph").get_attribute("data-scale"))
        page.keyboard.press("+")
        assert float(page.locator(".lineage-graph").get_attribute("data-scale")) > scale
        page.click("[data-lineage=fit]")
        assert _problems(page, "lineage", size) == []
    # A node is a link: the run's node opens the run.
    page.set_viewport_size(DESKTOP)
    _load(page, f"{base}/runs/{runs['weak-reg'].run_id}/lineage/")
    assert page.title().startswith("Lineage of run weak-reg")
    page.click("[data-lineage=fit]")
    with page.expect_navigation():
        page.click(".lineage-node--table >> nth=0")
    assert "/tables/main.raw.wine_part_" in page.url
    assert page.errors == []


def test_without_javascript_the_server_drawn_fallbacks_show(transactional_db, live_server, browser_page, owner,
                                                            reader, governed):
    exp, runs = _seed(owner, reader)
    base = live_server.url
    context = browser_page.context.browser.new_context(java_script_enabled=False, viewport=DESKTOP)
    try:
        page = context.new_page()
        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", "reader")
        page.fill("#id_password", "pw-reader")
        with page.expect_navigation():
            page.click("button[type=submit]")
        page.goto(f"{base}/runs/{runs['baseline'].run_id}/")
        assert page.locator(".metric-value:has-text('f1')").is_visible()
        assert page.locator(".metric-chart[data-key=accuracy] svg.sparkline-large polyline").is_visible()
        assert "4 points, steps 0–3" in page.locator(".metric-chart[data-key=accuracy] figcaption").inner_text()
        assert not page.locator("[data-chart-axis]").is_visible()  # the step/time switch needs the chart
        page.screenshot(path=str(SHOTS / "charts-run-nojs.png"))
        # The experiment chart is bars of the compared runs' latest value, its form a plain GET.
        page.goto(f"{base}/experiments/{exp.pk}/")
        page.check(f"input[aria-label='Compare {RUNS[3][0]}']")
        with page.expect_navigation():
            page.click("text=Compare selected")
        assert page.locator(".runs-chart svg.bars rect").count() == 1
        assert "weak-reg 0.94" in page.locator(".runs-chart figcaption").inner_text()
        page.select_option("#chart-metric", "loss")
        with page.expect_navigation():
            page.click("[data-chart-apply]")
        assert "Latest loss" in page.locator(".runs-chart figcaption").inner_text()
        assert page.locator(f"input[aria-label='Compare {RUNS[3][0]}']").is_checked()
        # Lineage: the picture at its natural size (it scrolls), no zoom buttons.
        page.goto(f"{base}/runs/{runs['weak-reg'].run_id}/lineage/")
        assert not page.locator(".lineage-toolbar").is_visible()
        assert page.locator(".lineage-graph").get_attribute("width") is not None
        assert page.locator(".lineage-table tbody tr").count() >= 26
    finally:
        context.close()
