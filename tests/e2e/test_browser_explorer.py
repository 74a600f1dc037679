"""The catalog explorer in a real browser (Debian chromium, headless, through Playwright): sign in, browse the
tree to a model, set and reassign an alias, add a tag, generate and accept a description, delete a version —
with no JavaScript errors. Screenshots of the main pages go to docs/screenshots/."""
from __future__ import annotations


import pytest

from registry.models import ModelAlias, ModelVersion, RegisteredModel
from tests.e2e.browser import save_and_close, shot, sign_in, submit_and_reload

pytestmark = pytest.mark.slow
MODEL = "prod.ml_team.iris"


def _setup(owner, reader):
    from tests.explorer.conftest import SIGNATURE
    from registry.services.aliases import alias_set
    from registry.services.grants import grant_add
    from registry.services.tags import version_tag_set
    from registry.services.versions import model_version_mark_ready
    from tests.registry.factories import make_model, make_version

    model = make_model(owner, MODEL, description="Classifies **iris** flowers.")
    for _ in range(3):
        mv = make_version(owner, MODEL)
        model_version_mark_ready(version_id=mv.pk, signature=SIGNATURE)
    alias_set(actor=owner, name=MODEL, alias="Champion", version=2)
    version_tag_set(actor=owner, name=MODEL, version=2, key="validation_status", value="approved")
    make_model(owner, "prod.ml_team.fraud_detector", description="Flags fraudulent payments.")
    grant_add(actor=owner, securable=model, principal=reader, privilege="EXECUTE")
    return model


def test_browse_and_edit_a_model(transactional_db, live_server, browser_page, owner, reader, governed):
    model = _setup(owner, reader)
    page = browser_page
    base = live_server.url

    # Sign in.
    page.goto(f"{base}/models/")
    assert "/accounts/login/" in page.url
    page.fill("#id_username", "owner")
    page.fill("#id_password", "pw-owner")
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/models/")
    shot(page, "models-list")

    # Browse the tree: catalog -> schema -> model (each level lazy-loaded).
    page.goto(f"{base}/")
    shot(page, "home")
    page.locator("li:has(> a[href='/catalogs/prod/']) > details > summary").click(position={"x": 4, "y": 8})
    schema_summary = page.locator("li:has(> a[href='/schemas/prod.ml_team/']) > details > summary")
    schema_summary.wait_for()
    schema_summary.click(position={"x": 4, "y": 8})
    model_link = page.locator(f".sidebar a[href='/models/{MODEL}/']")
    model_link.wait_for()
    model_link.click()
    page.wait_for_url(f"{base}/models/{MODEL}/")
    shot(page, "model-overview")

    # Set an alias on version 3 through the alias editor.
    page.click("a[aria-label='Edit aliases of version 3']")
    page.locator("#modal[open] #id_alias").fill("Challenger")
    shot(page, "dialog-aliases")
    save_and_close(page, "#modal button.primary")
    page.wait_for_selector("text=@Challenger")
    assert ModelAlias.objects.get(model=model, alias="Challenger").version.version == 3

    # Reassign Champion (on version 2) to version 3: the editor says it moves, then moves it.
    page.click("a[aria-label='Edit aliases of version 3']")
    page.locator("#modal[open] #id_alias").fill("Champion")
    page.wait_for_selector("#modal [data-alias-hint]:has-text('is on version 2')")
    page.click("#modal button.primary")
    page.wait_for_selector("#modal[open] .notice.warn:has-text(\"'Champion' is on version 2\")")
    save_and_close(page, "#modal button.primary:has-text('Move alias')")
    assert ModelAlias.objects.get(model=model, alias="Champion").version.version == 3

    # Add a tag to the model.
    page.click("section.panel:has(#tags-h) a.button")
    page.locator("#modal[open] #id_key").fill("task")
    page.locator("#modal[open] #id_value").fill("classification")
    save_and_close(page, "#modal button.primary")
    page.wait_for_selector("section.panel:has(#tags-h) .chip:has-text('task')")
    assert model.tags.get(key="task").value == "classification"

    # Description: Generate -> review the draft -> Accept.
    page.click("section.panel:has(#desc-h) a.button")
    page.wait_for_selector("#modal[open] textarea[name=description]")
    page.click("#modal button:has-text('Generate')")
    page.wait_for_selector("#modal [data-draft]")
    shot(page, "dialog-description-draft")
    assert RegisteredModel.objects.get(pk=model.pk).description == "Classifies **iris** flowers."
    submit_and_reload(page, "#modal button:has-text('Accept')")
    page.wait_for_selector("section.panel:has(#desc-h) .markdown:has-text('Generated from the metadata of this model')")
    # Issue 11: the saved text holds no facts that go stale (alias targets, version counts).
    assert "Champion" not in RegisteredModel.objects.get(pk=model.pk).description

    # Version page, then delete version 1 through the confirmation.
    page.goto(f"{base}/models/{MODEL}/versions/3/")
    shot(page, "version-overview")
    page.goto(f"{base}/models/{MODEL}/permissions/")
    shot(page, "model-permissions")
    page.goto(f"{base}/models/{MODEL}/versions/1/")
    page.click("summary:has-text('Actions')")
    page.click("a:has-text('Delete version')")
    page.locator("#modal[open] #id_confirm").fill("wrong")
    page.click("#modal button.danger")
    page.wait_for_selector("#modal .error")
    assert ModelVersion.objects.filter(model=model, version=1).exists()
    page.locator("#modal[open] #id_confirm").fill(f"{MODEL}/1")
    shot(page, "dialog-delete-version")
    submit_and_reload(page, "#modal button.danger")
    assert page.url == f"{base}/models/{MODEL}/"
    assert not ModelVersion.objects.filter(model=model, version=1).exists()
    assert "Version 1<" not in page.content()

    assert page.errors == []


def _with_artifacts(mv) -> None:
    """Give a READY version real managed artifacts (an MLmodel with a signature and a data file) so a copy job
    has something to copy and verify."""
    import io

    import yaml

    from registry import storage
    from registry.sources import artifact_path_of

    location = artifact_path_of(mv.storage_location)
    mlmodel = yaml.safe_dump({"artifact_path": "model", "signature": {
        "inputs": '[{"type": "double", "name": "x"}]', "outputs": '[{"type": "long"}]'}})
    storage.save_stream(f"{location}/MLmodel", io.BytesIO(mlmodel.encode()))
    storage.save_stream(f"{location}/model.bin", io.BytesIO(b"weights" * 1000))


def test_grant_to_a_group_then_copy_a_version_and_watch_the_job(transactional_db, live_server, celery_worker,
                                                                browser_page, admin, owner, reader, member, team,
                                                                governed):
    from registry.services.grants import grant_add

    model = _setup(owner, reader)
    _with_artifacts(ModelVersion.objects.get(model=model, version=3))
    grant_add(actor=admin, securable=governed.catalog, principal=team, privilege="USE CATALOG")
    grant_add(actor=admin, securable=governed, principal=team, privilege="USE SCHEMA")
    page, base = browser_page, live_server.url

    # The group member does not see the model yet.
    sign_in(page, base, "member")
    assert page.goto(f"{base}/models/{MODEL}/").status == 404
    page.errors.clear()  # the browser logs the expected 404 itself
    page.context.clear_cookies()

    # The owner grants EXECUTE to the group through the Permissions tab's dialog.
    sign_in(page, base, "owner")
    page.goto(f"{base}/models/{MODEL}/permissions/")
    page.wait_for_selector("body[data-ready='1']", state="attached")
    page.click("a.button:has-text('Grant')")
    page.locator("#modal[open] #id_principal").fill("ml_team")
    page.check("#modal[open] input[value='EXECUTE']")
    submit_and_reload(page, "#modal button.primary")
    page.wait_for_selector("text=ml_team")

    # Copy version 3 to a new model and follow the job until the version is READY.
    page.goto(f"{base}/models/{MODEL}/versions/3/")
    page.wait_for_selector("body[data-ready='1']", state="attached")
    page.click("summary:has-text('Actions')")
    page.click("a:has-text('Copy to another model')")
    page.locator("#modal[open] #id_destination").fill("prod.ml_team.iris_promoted")
    submit_and_reload(page, "#modal button.primary")
    assert page.url == f"{base}/models/prod.ml_team.iris_promoted/versions/1/"
    page.wait_for_selector(".banner.pending", state="detached", timeout=60_000)  # the poll reloads the page at the end
    copy = ModelVersion.objects.get(model__name="iris_promoted", version=1)
    assert copy.status == "READY" and copy.copied_from.version == 3
    shot(page, "version-copied")
    page.goto(f"{base}/jobs/")
    page.wait_for_selector("text=iris_promoted v1")
    shot(page, "jobs")
    page.context.clear_cookies()

    # The member now sees the model (through the group's grant) but not the copy (no grant there).
    sign_in(page, base, "member")
    assert page.goto(f"{base}/models/{MODEL}/").status == 200
    assert page.goto(f"{base}/models/prod.ml_team.iris_promoted/").status == 404
    page.errors.clear()
    page.goto(f"{base}/models/{MODEL}/lineage/?version=3")
    shot(page, "model-lineage")
    assert page.errors == []
