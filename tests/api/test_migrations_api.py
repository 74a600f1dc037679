"""`POST /api/2.0/explorer/migrations` upgrades a workspace model to Unity Catalog through model_migrate (its checks,
its job) and `GET /api/2.0/explorer/migrations/<id>` reads that job; a model the caller may not see answers as a
missing one, and bad input is a 400 JSON envelope."""
from __future__ import annotations

import pytest

from registry.models import AuditEvent, Job, ModelAlias, RegisteredModel
from registry.services.grants import grant_add
from registry.services.migration import model_migrate
from tests.registry.factories import make_model, make_version
from tests.upgrades import run_upgrade, workspace_model

URL = "/api/2.0/explorer/migrations"
SOURCE = "LegacyFraud"
DESTINATION = "prod.ml_team.fraud"


@pytest.fixture
def legacy(governed, owner):
    return workspace_model(owner, SOURCE)


def _post(client, body):
    return client.post(URL, body, format="json")


def test_post_starts_the_migration_and_get_follows_its_job(api, owner, legacy):
    client = api(owner)
    response = _post(client, {"source_name": SOURCE, "destination_name": DESTINATION,
                              "stage_alias_map": {"production": "Live", "Staging": ""}})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["kind"] == "migrate" and body["state"] == "QUEUED" and body["model"] == DESTINATION
    assert body["params"]["stage_alias_map"] == {"Production": "Live"} and body["params"]["source_name"] == SOURCE
    assert "source_model_id" not in body["params"]  # internal, as in the jobs API
    event = AuditEvent.objects.get(action="registered_model.migrate")
    assert event.actor_name == "owner" and event.parameters["job_id"] == body["id"]
    run_upgrade(Job.objects.get(pk=body["id"]))
    done = client.get(f"{URL}/{body['id']}").json()
    assert done["state"] == "SUCCEEDED" and done["params"]["versions"] == {"1": 1, "2": 2, "3": 3}
    assert done == client.get(f"/api/2.0/explorer/jobs/{body['id']}").json()
    destination = RegisteredModel.objects.get(schema__isnull=False, name="fraud")
    assert dict(ModelAlias.objects.filter(model=destination).values_list("alias", "version__version")) == {"Live": 2}


def test_the_default_mapping_is_the_services(api, owner, legacy):
    body = _post(api(owner), {"source_name": SOURCE, "destination_name": DESTINATION}).json()
    assert body["params"]["stage_alias_map"] == {"Production": "Champion", "Staging": "Challenger"}


def test_a_source_the_caller_may_not_see_answers_as_a_missing_one(api, outsider, owner, legacy):
    hidden = _post(api(outsider), {"source_name": SOURCE, "destination_name": DESTINATION})
    missing = _post(api(outsider), {"source_name": "NoSuchModel", "destination_name": DESTINATION})
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["error_code"] == missing.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"
    assert hidden.json()["message"].replace(SOURCE, "X") == missing.json()["message"].replace("NoSuchModel", "X")
    assert not Job.objects.exists()


def test_a_reader_who_may_create_no_model_there_is_refused_and_nothing_is_made(api, owner, reader, legacy):
    grant_add(actor=owner, securable=legacy, principal=reader, privilege="EXECUTE")
    response = _post(api(reader), {"source_name": SOURCE, "destination_name": DESTINATION})
    assert response.status_code == 403 and response.json()["error_code"] == "PERMISSION_DENIED"
    assert not Job.objects.exists() and not RegisteredModel.objects.filter(schema__isnull=False).exists()


def test_get_answers_404_for_a_job_that_is_not_a_migration_or_is_hidden(api, owner, outsider, legacy):
    job = model_migrate(actor=owner, source_name=SOURCE, destination_name=DESTINATION)
    assert api(owner).get(f"{URL}/{job.pk}").status_code == 200
    hidden = api(outsider).get(f"{URL}/{job.pk}")
    missing = api(outsider).get(f"{URL}/{job.pk + 1000}")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json()["message"].replace(str(job.pk), "N") == missing.json()["message"].replace(str(job.pk + 1000), "N")
    make_model(owner, "prod.ml_team.other")
    make_version(owner, "prod.ml_team.other")
    register = Job.objects.exclude(kind=Job.Kind.MIGRATE).first()
    other = api(owner).get(f"{URL}/{register.pk}")
    assert other.status_code == 404 and other.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST"


@pytest.mark.parametrize("body,words", [
    ([SOURCE], "JSON object"),
    ({"destination_name": DESTINATION}, "source_name"),
    ({"source_name": SOURCE}, "destination_name"),
    ({"source_name": SOURCE, "destination_name": "fraud2"}, "three-level"),
    ({"source_name": SOURCE, "destination_name": "a.b"}, "three-level"),
    ({"source_name": SOURCE, "destination_name": 7}, "destination_name"),
    ({"source_name": SOURCE, "destination_name": DESTINATION, "stage_alias_map": "Champion"}, "stage_alias_map"),
    ({"source_name": SOURCE, "destination_name": DESTINATION, "stage_alias_map": {"Prod": "x"}}, "Unknown stage"),
    ({"source_name": SOURCE, "destination_name": DESTINATION, "stage_alias_map": {"Production": "latest"}}, "latest"),
    ({"source_name": SOURCE, "destination_name": DESTINATION, "aliases": {}}, "Unknown field 'aliases'"),
])
def test_bad_input_is_a_400_json_error_and_starts_nothing(api, owner, legacy, body, words):
    response = _post(api(owner), body)
    assert response.status_code == 400 and response["Content-Type"].startswith("application/json")
    assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE" and words in response.json()["message"]
    assert not Job.objects.exists() and not RegisteredModel.objects.filter(schema__isnull=False).exists()


def test_a_three_level_source_is_refused(api, owner, governed):
    make_model(owner, "prod.ml_team.iris")
    response = _post(api(owner), {"source_name": "prod.ml_team.iris", "destination_name": DESTINATION})
    assert response.status_code == 400 and "already a Unity Catalog model" in response.json()["message"]


def test_without_a_token_it_is_401(api, legacy):
    response = _post(api(), {"source_name": SOURCE, "destination_name": DESTINATION})
    assert response.status_code == 401 and response.json()["error_code"] == "UNAUTHENTICATED"
