"""The experiment runs table and a run's Artifacts tab in a real browser (Debian chromium, headless, through
Playwright): sort by clicking a metric header, apply a filter, see a bad filter's message, browse and preview a
run's artifacts — with no JavaScript errors. Screenshots go to docs/screenshots/experiment-runs.png and
docs/screenshots/run-artifacts.png."""
from __future__ import annotations

import io

import pytest

from tests.e2e.browser import SHOTS, sign_in

pytestmark = pytest.mark.slow

RUNS = [  # name, status, solver, C, accuracy history (None: never logged), f1, loss
    ("baseline-lr", "FINISHED", "lbfgs", "1.0", [0.71, 0.82, 0.86], 0.84, 0.41),
    ("lr-strong-reg", "FINISHED", "lbfgs", "0.1", [0.80, 0.88, 0.91], 0.89, 0.33),
    ("lr-saga", "FINISHED", "saga", "1.0", [0.78, 0.90], 0.87, 0.36),
    ("lr-weak-reg", "FINISHED", "lbfgs", "10.0", [0.90, 0.93, 0.94], 0.92, 0.27),
    ("lr-newton", "FAILED", "newton-cg", "1.0", None, None, None),
    ("lr-liblinear", "FINISHED", "liblinear", "1.0", [0.85, 0.89], 0.86, 0.35),
    ("lr-sag-tuned", "FINISHED", "sag", "0.5", [0.88, 0.92], 0.90, 0.30),
    ("lr-lbfgs-long", "RUNNING", "lbfgs", "2.0", [0.84, 0.87], None, 0.38),
]


def _setup(owner, reader):
    from registry.models import Experiment, Metric, Param, RunTag
    from registry.services.grants import grant_add
    from registry import storage
    from tests.registry.factories import make_run

    exp = Experiment.objects.create(id=7, name="fraud-detection", artifact_location="mlflow-artifacts:/7",
                                    owner_user=owner, open_to_all=False, creation_time=0, last_update_time=0)
    grant_add(actor=owner, securable=exp, principal=reader, privilege="EXECUTE")
    runs = {}
    for n, (name, status, solver, c, accuracy, f1, loss) in enumerate(RUNS):
        run = make_run(7)
        run.name, run.status, run.user_id = name, status, "alice"
        run.start_time = 1_767_225_600_000 + n * 3_600_000
        run.save()
        Param.objects.bulk_create([Param(run=run, key="solver", value=solver), Param(run=run, key="C", value=c),
                                   Param(run=run, key="max_iter", value="200")])
        points = [("accuracy", accuracy or []), ("f1", [f1] if f1 else []), ("loss", [loss] if loss else [])]
        Metric.objects.bulk_create(Metric(run=run, key=key, value=v, timestamp=s, step=s)
                                   for key, values in points for s, v in enumerate(values))
        RunTag.objects.create(run=run, key="team", value="fraud")
        runs[name] = run
    root = f"7/{runs['lr-weak-reg'].run_id}/artifacts"
    files = {
        "model/MLmodel": b"artifact_path: model\nflavors:\n  python_function:\n    loader_module: mlflow.sklearn\n"
                         b"    python_version: 3.11.9\n  sklearn:\n    pickled_model: model.pkl\n"
                         b"    sklearn_version: 1.5.2\nmlflow_version: 3.1.0\nmodel_uuid: 5f0c2a\n"
                         b"signature:\n  inputs: '[{\"type\": \"double\", \"name\": \"amount\"}]'\n"
                         b"  outputs: '[{\"type\": \"long\"}]'\n",
        "model/model.pkl": b"\x80\x04" + b"w" * 48_000,
        "model/conda.yaml": b"channels: [conda-forge]\ndependencies: [python=3.11, pip]\n",
        "model/requirements.txt": b"mlflow==3.1.0\nscikit-learn==1.5.2\n",
        "metrics.json": b'{"accuracy": 0.94, "f1": 0.92, "confusion": [[880, 20], [35, 65]]}',
        "plots/roc.png": b"\x89PNG\r\n" + b"p" * 12_000,
        "train.log": b"epoch 1 loss=0.52\n" * 400,
    }
    for path, data in files.items():
        storage.save_stream(f"{root}/{path}", io.BytesIO(data))
    return exp, runs


def _names(page) -> list[str]:
    return page.locator(".runs-table tbody tr td:first-child a").all_inner_texts()


def test_sort_filter_and_browse_artifacts(transactional_db, live_server, browser_page, settings, tmp_path,
                                          owner, reader):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    exp, runs = _setup(owner, reader)
    page, base = browser_page, live_server.url
    sign_in(page, base, "reader")

    page.goto(f"{base}/experiments/{exp.pk}/")
    assert _names(page)[0] == "lr-lbfgs-long"  # newest first

    # Click the accuracy header: highest first, the run without accuracy last; again: lowest first.
    header = page.locator("th.metric-col:has-text('accuracy')")
    with page.expect_navigation():
        header.locator("a").click()
    assert header.get_attribute("aria-sort") == "descending"
    assert _names(page)[:2] == ["lr-weak-reg", "lr-sag-tuned"] and _names(page)[-1] == "lr-newton"
    with page.expect_navigation():
        header.locator("a").click()
    assert header.get_attribute("aria-sort") == "ascending"
    assert _names(page)[0] == "baseline-lr" and _names(page)[-1] == "lr-newton"
    with page.expect_navigation():
        header.locator("a").click()

    # Apply a filter: the sort stays, and both are in the URL.
    page.fill("#runs-filter", "metrics.accuracy > 0.9 and params.solver = 'lbfgs'")
    with page.expect_navigation():
        page.press("#runs-filter", "Enter")
    assert _names(page) == ["lr-weak-reg", "lr-strong-reg"]
    assert "order_by=metrics.accuracy+DESC" in page.url and "filter=metrics.accuracy" in page.url
    page.fill("#runs-filter", "metrics.accuracy > 0.85 and attributes.status = 'FINISHED'")
    with page.expect_navigation():
        page.click(".runs-filter button[type=submit]")
    assert _names(page) == ["lr-weak-reg", "lr-sag-tuned", "lr-strong-reg", "lr-saga", "lr-liblinear", "baseline-lr"]
    assert page.locator("th.metric-col:has-text('accuracy')").get_attribute("aria-sort") == "descending"
    page.locator(".runs-count").wait_for()
    page.evaluate("document.activeElement && document.activeElement.blur()")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "experiment-runs.png"))

    # A bad filter says what is wrong and shows no table.
    page.fill("#runs-filter", "metrics.accuracy > 0.9 or params.solver = 'sag'")
    with page.expect_navigation():
        page.press("#runs-filter", "Enter")
    assert "OR is not supported" in page.locator("[role=alert]").inner_text()
    assert page.locator(".runs-table").count() == 0
    page.errors[:] = [e for e in page.errors if "400" not in e]  # the browser logs the 400 status itself

    # The run's Artifacts tab: listing with sizes, a directory, the MLmodel preview.
    run = runs["lr-weak-reg"]
    page.goto(f"{base}/runs/{run.run_id}/")
    with page.expect_navigation():
        page.click("nav.tabs a:has-text('Artifacts')")
    assert page.locator("nav.tabs a.active").inner_text() == "Artifacts"
    assert "train.log" in page.locator("table.artifacts").inner_text()
    page.screenshot(path=str(SHOTS / "run-artifacts.png"))
    with page.expect_navigation():
        page.click("table.artifacts a:has-text('model/')")
    with page.expect_navigation():
        page.click("table.artifacts a:has-text('MLmodel')")
    assert "pickled_model: model.pkl" in page.locator("pre.preview").inner_text()
    assert page.locator("a:has-text('Download')").get_attribute("download") is not None

    assert page.errors == []
