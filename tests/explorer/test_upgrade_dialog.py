"""Upgrade to Unity Catalog: the workspace model's Actions offer it to who may create a model somewhere; the dialog
shows the stage -> alias mapping (the service's defaults, editable) and a live hint; starting creates the MIGRATE
job that the model's Overview follows; afterwards the Overview says where the model went (named only to who may
read it) and the new model's History says where it came from."""
from __future__ import annotations

import re
from html import unescape

import pytest

from registry.models import Job, ModelAlias, RegisteredModel
from registry.services.catalogs import catalog_create, schema_create
from registry.services.grants import grant_add
from registry.services.migration import model_migrate
from registry.services.models import registered_model_create
from tests.conftest import wait_for
from tests.upgrades import run_upgrade, workspace_model

HX = {"HTTP_HX_REQUEST": "true"}
SOURCE = "LegacyFraud"
URL = f"/models/{SOURCE}/upgrade/"
DESTINATION = "prod.ml_team.fraud"
ACTION = "Upgrade to Unity Catalog"


def _text(response) -> str:
    return unescape(re.sub(r"\s+", " ", response.content.decode()))


def _hint(client, destination: str) -> str:
    response = client.get(URL, {"hint": "1", "destination": destination}, **HX)
    assert response.status_code == 200
    return _text(response)


def _post(client, destination=DESTINATION, **aliases):
    data = {"destination": destination, "alias_production": "Champion", "alias_staging": "Challenger",
            "alias_archived": "", "alias_none": "", **aliases}
    return client.post(URL, data, **HX)


@pytest.fixture
def legacy(governed, owner, reader):
    """`LegacyFraud` (v1 Staging, v2 Production, v3 None) owned by `owner`; `reader` may read it."""
    model = workspace_model(owner, SOURCE)
    grant_add(actor=owner, securable=model, principal=reader, privilege="EXECUTE")
    return model


def test_the_action_shows_on_a_workspace_model_to_who_may_create_a_model(client_for, admin, owner, reader, legacy):
    assert ACTION in _text(client_for(owner).get(f"/models/{SOURCE}/"))
    assert ACTION in _text(client_for(admin).get(f"/models/{SOURCE}/history/"))
    # The reader may read the model but may create a model nowhere: no action, and the dialog refuses with why.
    assert ACTION not in _text(client_for(reader).get(f"/models/{SOURCE}/"))
    refused = client_for(reader).get(URL)
    assert refused.status_code == 403 and "may not create a model" in _text(refused)


def test_the_action_is_not_offered_on_a_three_level_model_nor_to_who_may_not_see_the_model(
        client_for, owner, outsider, legacy):
    registered_model_create(actor=owner, name="prod.ml_team.iris")
    assert ACTION not in _text(client_for(owner).get("/models/prod.ml_team.iris/"))
    assert client_for(owner).get("/models/prod.ml_team.iris/upgrade/").status_code == 404
    missing = client_for(outsider).get("/models/NoSuchModel/upgrade/")
    hidden = client_for(outsider).get(URL)
    assert hidden.status_code == missing.status_code == 404


def test_the_dialog_shows_the_services_stage_mapping_and_a_destination_to_start_from(client_for, owner, legacy):
    response = client_for(owner).get(URL, **HX)
    assert response.status_code == 200
    page = _text(response)
    assert "<html" not in page and 'hx-post="/models/LegacyFraud/upgrade/"' in page
    # The destination starts in the first schema the user may create models in, under the model's name.
    assert re.search(r'name="destination" value="prod\.ml_team\.legacyfraud"', page)
    # Production -> Champion, Staging -> Challenger (registry.services.migration.DEFAULT_STAGE_ALIASES), editable.
    assert re.search(r'name="alias_production" value="Champion"', page)
    assert re.search(r'name="alias_staging" value="Challenger"', page)
    assert re.search(r'<input type="text" name="alias_archived"(?![^>]*value=)', page)
    assert '<th scope="row">Production</th> <td>v2</td>' in page and '<th scope="row">None</th> <td>v3</td>' in page
    # The live hint answers at once for the suggested name, and as the user types (through htmx).
    assert "Creates the three-level model prod.ml_team.legacyfraud, then copies the 3 versions into it in order." in page
    assert 'hx-get="/models/LegacyFraud/upgrade/?hint=1"' in page and 'hx-target="#register-hint"' in page
    assert client_for(owner).get(URL).content.decode().count("<html") == 1  # a plain page without htmx


def test_the_hint_says_what_starting_would_do_and_whether_you_may(client_for, admin, owner, legacy):
    client = client_for(owner)
    assert "Creates the three-level model prod.ml_team.new" in _hint(client, "prod.ml_team.new")
    registered_model_create(actor=owner, name="prod.ml_team.mine")
    assert "Copies the 3 versions into the existing model prod.ml_team.mine, from version 1 on." in _hint(
        client, "prod.ml_team.mine")
    assert "three-level name" in _hint(client, "plainname")
    assert "expected a three-level name" in _hint(client, "a.b")
    # A schema the owner may not use, and one that does not exist, read the same.
    registered_model_create(actor=admin, name="prod.ml_team.secret")  # hidden from the owner: reads as missing
    assert "Creates the three-level model prod.ml_team.secret" in _hint(client, "prod.ml_team.secret")
    catalog_create(actor=admin, name="hr")
    schema_create(actor=admin, catalog_name="hr", name="private")
    hidden = _hint(client, "hr.private.m").replace("'hr'", "X")
    missing = _hint(client, "zz.private.m").replace("'zz'", "X")
    assert hidden == missing and "does not exist" in hidden


def test_starting_with_an_edited_mapping_creates_the_job_and_the_page_follows_it(client_for, owner, legacy):
    client = client_for(owner)
    response = _post(client, alias_production="Live", alias_staging="")
    assert response.status_code == 204 and response["HX-Redirect"] == f"/models/{SOURCE}/"
    job = Job.objects.get(kind=Job.Kind.MIGRATE)
    assert job.params["stage_alias_map"] == {"Production": "Live"} and job.params["source_name"] == SOURCE
    page = _text(client.get(f"/models/{SOURCE}/"))
    assert "Upgrading to" in page and f'href="/models/{DESTINATION}/"' in page
    assert f'hx-get="/jobs/{job.pk}/status/" hx-trigger="every 2s"' in page  # followed live
    run_upgrade(job)
    status = client.get(f"/jobs/{job.pk}/status/", **HX)
    assert status["HX-Refresh"] == "true" and "Migrated 3 versions" in _text(status)
    page = _text(client.get(f"/models/{SOURCE}/"))
    assert "Upgrading to" not in page
    assert re.search(rf'Upgraded to <a href="/models/{re.escape(DESTINATION)}/">{re.escape(DESTINATION)}</a> on '
                     r'<time datetime="[^"]+">\d{4}-\d\d-\d\d \d\d:\d\d</time>', page)
    destination = RegisteredModel.objects.get(schema__isnull=False, name="fraud")
    assert dict(ModelAlias.objects.filter(model=destination).values_list("alias", "version__version")) == {"Live": 2}


def test_the_alias_of_a_stage_goes_to_its_newest_version(client_for, owner, governed):
    workspace_model(owner, SOURCE, stages=("Production", "Staging", "Production"))
    page = _text(client_for(owner).get(URL))
    assert '<th scope="row">Production</th> <td>v1, v3 <span class="muted">(the alias goes to v3)</span>' in page


def test_a_bad_alias_is_shown_on_its_stage_and_starts_nothing(client_for, owner, legacy):
    response = _post(client_for(owner), alias_archived="latest")
    assert response.status_code == 400
    page = _text(response)
    assert re.search(r'name="alias_archived" value="latest"[^>]*>\s*<p class="error" role="alert">[^<]*latest', page)
    assert not Job.objects.exists() and not RegisteredModel.objects.filter(schema__isnull=False).exists()


def test_a_refused_destination_is_said_on_the_destination_field(client_for, admin, owner, legacy):
    registered_model_create(actor=admin, name="prod.ml_team.taken")  # exists, but the owner may not add to it
    response = _post(client_for(owner), destination="prod.ml_team.taken")
    assert response.status_code == 400 and 'class="error" role="alert"' in _text(response)
    assert not Job.objects.exists()


def test_the_overview_names_the_destination_only_to_who_may_read_it(client_for, owner, reader, legacy):
    run_upgrade(model_migrate(actor=owner, source_name=SOURCE, destination_name=DESTINATION))
    assert f'Upgraded to <a href="/models/{DESTINATION}/">' in _text(client_for(owner).get(f"/models/{SOURCE}/"))
    seen = _text(client_for(reader).get(f"/models/{SOURCE}/"))  # reads the source, not the destination
    assert "Upgraded to Unity Catalog on" in seen and DESTINATION not in seen


def test_the_new_models_history_says_where_it_came_from(client_for, admin, owner, legacy, make_user):
    run_upgrade(model_migrate(actor=owner, source_name=SOURCE, destination_name=DESTINATION))
    history = _text(client_for(owner).get(f"/models/{DESTINATION}/history/"))
    assert f'<a href="/models/{SOURCE}/">Upgraded from workspace model {SOURCE}</a>' in history
    # Who may read the new model but not the workspace one is not told its name.
    other = make_user("other")
    destination = RegisteredModel.objects.get(schema__isnull=False, name="fraud")
    for securable, privilege in ((destination.schema.catalog, "USE CATALOG"), (destination.schema, "USE SCHEMA"),
                                 (destination, "EXECUTE")):
        grant_add(actor=admin, securable=securable, principal=other, privilege=privilege)
    masked = _text(client_for(other).get(f"/models/{DESTINATION}/history/"))
    assert "Upgraded from a workspace model" in masked and SOURCE not in masked


@pytest.mark.django_db(transaction=True)
def test_the_upgrade_runs_on_a_real_worker_and_the_page_reloads_when_it_ends(client_for, owner, governed,
                                                                              celery_worker):
    workspace_model(owner, SOURCE, stages=("Production", "Staging"))
    client = client_for(owner)
    assert _post(client).status_code == 204
    job = Job.objects.get(kind=Job.Kind.MIGRATE)

    def ended():
        response = client.get(f"/jobs/{job.pk}/status/", **HX)
        return response.get("HX-Refresh") == "true" and response

    final = wait_for(ended, timeout=120, message="the upgrade job to end")
    assert "Migrated 2 versions of LegacyFraud to prod.ml_team.fraud" in _text(final), celery_worker.log_text()[-3000:]
    assert f'Upgraded to <a href="/models/{DESTINATION}/">' in _text(client.get(f"/models/{SOURCE}/"))
    destination = RegisteredModel.objects.get(schema__isnull=False, name="fraud")
    assert dict(ModelAlias.objects.filter(model=destination).values_list("alias", "version__version")) == {
        "Champion": 1, "Challenger": 2}


def test_a_failed_upgrade_is_said_to_who_may_see_its_job(client_for, owner, reader, legacy):
    job = model_migrate(actor=owner, source_name=SOURCE, destination_name=DESTINATION)
    Job.objects.filter(pk=job.pk).update(state=Job.State.FAILED, error="Version 2 could not be copied: disk full")
    page = _text(client_for(owner).get(f"/models/{SOURCE}/"))
    assert f'The upgrade to <a href="/models/{DESTINATION}/">{DESTINATION}</a> failed.' in page
    assert "disk full" in page and "continues where it stopped" in page
    # The reader sees neither the job nor its destination: nothing about it.
    seen = _text(client_for(reader).get(f"/models/{SOURCE}/"))
    assert "upgrade" not in seen.lower().replace("upgrade to unity catalog", "") and "disk full" not in seen
