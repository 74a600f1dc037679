"""Compare with production in a real browser (issue 14 §4): deployment B (`python -m explorer.serve`, its own
database, artifact root and worker) holds a model registered there with the unmodified mlflow client; on this
test's live server (deployment A, with a real Celery worker of its own) a user adds B as a remote registry with their token
there, browses its models and a version read-only, compares a local version with B's, and imports B's version into
a local model: the job downloads the files from B through signed URLs and the version page follows it until it is
READY. Every page passes axe and fits a phone. Screenshots: docs/screenshots/remote-*.png."""
from __future__ import annotations

import pytest

from registry.models import Job, ModelVersion, RemoteRegistry
from tests.api.test_remote_registry_client import _deployment, _token
from tests.conftest import WorkerProcess
from tests.e2e.browser import SHOTS as DOC_SHOTS
from tests.e2e.browser import sign_in
from tests.e2e.test_responsive_a11y import DESKTOP, PHONE, SHOTS, _problems

pytestmark = pytest.mark.slow
REMOTE_MODEL = "prod.ml_team.iris"
LOCAL_MODEL = "prod.ml_team.iris_local"


@pytest.fixture(scope="module")
def deployment_b(tmp_path_factory):
    b, cleanup = _deployment("rb", tmp_path_factory)
    try:
        b.call("POST", "/api/2.1/unity-catalog/catalogs", json={"name": "prod"})
        b.call("POST", "/api/2.1/unity-catalog/schemas", json={"catalog_name": "prod", "name": "ml_team"})
        yield b
    finally:
        cleanup()


ALLOWED = "127.0.0.1,localhost"  # deployment B listens on a loopback address, refused unless allowed


@pytest.fixture
def worker_a(worker_env, tmp_path, settings):
    """A's Celery worker, allowed to call B (REMOTE_REGISTRY_ALLOWED_HOSTS), on a queue of its own."""
    from explorer.celery import app

    queue = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-remote-ui"
    settings.CELERY_TASK_DEFAULT_QUEUE = queue
    settings.REMOTE_REGISTRY_ALLOWED_HOSTS = ALLOWED.split(",")
    with app.connection_for_write() as conn:
        conn.default_channel.queue_declare(queue=queue)
        conn.default_channel.queue_purge(queue)
    worker = WorkerProcess({**worker_env, "CELERY_QUEUE": queue, "REMOTE_REGISTRY_ALLOWED_HOSTS": ALLOWED},
                           tmp_path / "worker-a.log")
    worker.start(concurrency=1)
    yield worker
    worker.stop()


def _register_on_b(b, monkeypatch) -> str:
    """A run on B with params and metrics, its model registered on B as prod.ml_team.iris version 1."""
    import mlflow
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    monkeypatch.setenv("MLFLOW_TRACKING_URI", b.url)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", _token(b))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "60")
    mlflow.set_tracking_uri(b.url)
    mlflow.set_registry_uri(b.url)
    X, y = load_iris(return_X_y=True, as_frame=True)
    with mlflow.start_run() as run:
        mlflow.log_params({"C": "0.5", "solver": "lbfgs"})
        model = LogisticRegression(C=0.5, max_iter=300).fit(X, y)
        mlflow.log_metric("accuracy", float(model.score(X, y)))
        info = mlflow.sklearn.log_model(model, name="model", input_example=X.iloc[:3])
    version = mlflow.register_model(info.model_uri, REMOTE_MODEL)  # returns once B says READY
    client = mlflow.MlflowClient(tracking_uri=b.url, registry_uri=b.url)
    client.set_model_version_tag(REMOTE_MODEL, version.version, "validation_status", "approved")
    client.set_registered_model_alias(REMOTE_MODEL, "Champion", version.version)
    return run.info.run_id


def _local_version(owner):
    """A local READY version with a signature and a run (params, a metric) to put beside B's."""
    from registry.models import Metric, Param, Run
    from registry.services.tags import version_tag_set
    from tests.jobs.conftest import ready_version

    mv, _ = ready_version(owner, LOCAL_MODEL, files=1, size=1000)
    run = Run.objects.get(run_id=mv.run_id)
    Param.objects.bulk_create([Param(run=run, key="C", value="1.0"), Param(run=run, key="solver", value="lbfgs")])
    Metric.objects.create(run=run, key="accuracy", value=0.91, timestamp=1, step=0)
    version_tag_set(actor=owner, name=LOCAL_MODEL, version=1, key="validation_status", value="pending")
    return mv


def _check(page, name: str) -> list[str]:
    """axe and the phone's width on the page as it is, with a screenshot at both sizes (docs and var/test)."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    DOC_SHOTS.mkdir(parents=True, exist_ok=True)
    problems = []
    for size, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(viewport)
        page.wait_for_load_state("networkidle")
        problems += _problems(page, name, size)
        page.screenshot(path=str(DOC_SHOTS / f"{name}-{viewport['width']}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)
    return problems


def _ready(page):
    page.wait_for_selector("body[data-ready='1']", state="attached")


def test_add_browse_compare_and_import_from_a_remote_registry(transactional_db, live_server, worker_a,
                                                             browser_page, owner, governed, deployment_b,
                                                             monkeypatch):
    b = deployment_b
    remote_run_id = _register_on_b(b, monkeypatch)
    _local_version(owner)
    page, base = browser_page, live_server.url
    problems: list[str] = []
    sign_in(page, base, "owner")

    # Add the remote registry from the account menu; the token is never shown again.
    page.click(".user-menu summary")
    page.click(".user-menu a:has-text('Remote registries')")
    _ready(page)
    page.fill("#id_name", "prod")
    page.fill("#id_base_url", b.url)
    page.fill("#id_token", _token(b))
    problems += _check(page, "remote-add")
    with page.expect_navigation():
        page.click("button:has-text('Add remote registry')")
    _ready(page)
    assert _token(b) not in page.content()
    assert _token(b) not in RemoteRegistry.objects.get(owner=owner).token_encrypted

    # Browse B: its models, the model, its version (read-only, the banner names B).
    assert page.locator(".remote-banner").inner_text().startswith("Remote registry prod")
    page.wait_for_selector(f"td a:has-text('{REMOTE_MODEL}')")
    problems += _check(page, "remote-models")
    page.click(f"td a:has-text('{REMOTE_MODEL}')")
    _ready(page)
    page.wait_for_selector("td a:has-text('Version 1')")
    assert page.locator(".chip.alias:has-text('Champion')").count() == 1
    page.click("td a:has-text('Version 1')")
    _ready(page)
    page.wait_for_selector("h2:has-text('Signature')")
    text = page.inner_text("main")
    assert "sepal length (cm)" in text and remote_run_id in text
    assert "solver" in text and "accuracy" in text and "validation_status" in text
    problems += _check(page, "remote-version")

    # Compare with local: the local version beside B's, the differing rows highlighted.
    page.fill("#compare-local", LOCAL_MODEL)
    page.fill("#compare-local-version", "1")
    with page.expect_navigation():
        page.click("form button:has-text('Compare')")
    _ready(page)
    page.wait_for_selector(f"th a:has-text('Local: {LOCAL_MODEL} v1')")
    assert page.locator(f"th a:has-text('prod: {REMOTE_MODEL} v1')").count() >= 1
    c_row = page.locator("section[aria-labelledby=cmp-params-h] tr", has=page.locator("code", has_text="C"))
    assert "differs" in (c_row.first.get_attribute("class") or "")
    assert "1.0" in c_row.first.inner_text() and "0.5" in c_row.first.inner_text()
    assert page.locator("section[aria-labelledby=cmp-signature-h] tr.differs").count() >= 1
    tags = page.inner_text("section[aria-labelledby=cmp-tags-h]")
    assert "approved" in tags and "pending" in tags
    problems += _check(page, "remote-compare")
    page.click("a:has-text('Show differences only')")
    _ready(page)
    assert page.locator("section[aria-labelledby=cmp-params-h] code:text-is('solver')").count() == 0  # equal: hidden

    # Import B's version into a new local model: the hint answers as the destination is typed.
    page.goto(f"{base}/remote/prod/models/{REMOTE_MODEL}/versions/1/")
    _ready(page)
    page.fill("#id_destination", "prod.ml_team.iris_from_prod")
    page.wait_for_selector("#copy-hint:has-text('Creates prod.ml_team.iris_from_prod')")
    with page.expect_navigation():
        page.click("button:has-text('Start import')")
    _ready(page)
    assert page.url.endswith("/models/prod.ml_team.iris_from_prod/versions/1/")
    assert f"remote:prod/{REMOTE_MODEL}/1" in page.inner_text("main")
    # The version page follows the job (its status line is polled) and reloads when it ends.
    page.wait_for_selector(".banner.pending", state="detached", timeout=90_000)
    imported = ModelVersion.objects.get(model__name="iris_from_prod")
    job = Job.objects.get(model_version=imported)
    assert imported.status == "READY", (imported.status_message, job.error, worker_a.log_text()[-3000:])
    assert job.kind == Job.Kind.IMPORT and job.bytes_done == job.bytes_total > 0 and job.files_done == job.files_total
    assert imported.signature["inputs"][0]["name"] == "sepal length (cm)"
    problems += _check(page, "remote-imported")
    page.goto(f"{base}/jobs/")
    _ready(page)
    assert "checksums verified" in page.inner_text("#jobs-table")
    assert not problems, problems
    assert not page.errors, page.errors
