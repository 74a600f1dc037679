"""The MLflow registry REST API through DRF's client: shapes and status codes as on an MLflow server,
both URL prefixes, and the same visibility rules as everywhere else."""
from __future__ import annotations

import pytest

from registry.models import ModelVersion
from registry.services.aliases import alias_set
from registry.services.grants import grant_add
from tests.registry.factories import make_model, make_run, make_version, run_source

API = "/api/2.0/mlflow/"
AJAX = "/ajax-api/2.0/mlflow/"


def post(client, path, body, prefix=API):
    return client.post(prefix + path, body, format="json")


def patch(client, path, body):
    return client.patch(API + path, body, format="json")


def delete(client, path, body):
    return client.delete(API + path, body, format="json")


def get(client, path, params, prefix=API):
    return client.get(prefix + path, params)


def error(response, status: int, code: str) -> str:
    assert response.status_code == status, response.content
    body = response.json()
    assert body["error_code"] == code
    return body["message"]


# Registered models ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("prefix", [API, AJAX])
def test_create_and_get_workspace_model(api, admin, prefix):
    client = api(admin)
    response = post(client, "registered-models/create",
                    {"name": "Fraud Model", "description": "d", "tags": [{"key": "task", "value": "cls"}]}, prefix)
    assert response.status_code == 200, response.content
    created = response.json()["registered_model"]
    assert created["name"] == "Fraud Model"
    assert created["user_id"] == "admin"
    assert isinstance(created["creation_timestamp"], int)
    assert created["tags"] == [{"key": "task", "value": "cls"}]
    body = get(client, "registered-models/get", {"name": "Fraud Model"}, prefix).json()["registered_model"]
    assert body["description"] == "d" and body["latest_versions"] == [] and body["aliases"] == []


def test_create_twice_is_already_exists_with_mlflows_message(api, owner, governed):
    client = api(owner)
    assert post(client, "registered-models/create", {"name": "prod.ml_team.iris_model"}).status_code == 200
    response = post(client, "registered-models/create", {"name": "Prod.ML_Team.Iris_Model"})
    assert error(response, 400, "RESOURCE_ALREADY_EXISTS") == \
        "Registered Model (name=prod.ml_team.iris_model) already exists."


@pytest.mark.parametrize("body", [{}, {"name": ""}, {"name": ["a"]}, {"name": "a.b"}, {"name": "x", "tags": "t"},
                                  {"name": "x", "tags": [{"value": "v"}]}, {"name": "x", "description": 5 * ["d"]}])
def test_create_with_bad_input_is_400(api, admin, body):
    error(post(api(admin), "registered-models/create", body), 400, "INVALID_PARAMETER_VALUE")


def test_malformed_json_and_anonymous_requests(api, admin):
    response = api(admin).post(API + "registered-models/create", "{not json", content_type="application/json")
    assert response.status_code == 400
    error(post(api(), "registered-models/create", {"name": "x"}), 401, "UNAUTHENTICATED")


def test_missing_and_invisible_models_look_the_same(api, admin, outsider):
    make_model(admin, "secret")
    hidden = get(api(outsider), "registered-models/get", {"name": "secret"})
    missing = get(api(admin), "registered-models/get", {"name": "secret-missing"})
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json() == {"error_code": "RESOURCE_DOES_NOT_EXIST", "message": "Registered Model with name=secret not found"}
    assert missing.json()["message"] == "Registered Model with name=secret-missing not found"
    error(delete(api(outsider), "registered-models/delete", {"name": "secret"}), 404, "RESOURCE_DOES_NOT_EXIST")
    assert get(api(admin), "registered-models/get", {"name": "secret"}).status_code == 200


def test_rename_update_and_delete(api, admin):
    client = api(admin)
    make_model(admin, "dst_model")
    renamed = post(client, "registered-models/rename", {"name": "dst_model", "new_name": "dst_model2"})
    assert renamed.json()["registered_model"]["name"] == "dst_model2"
    updated = patch(client, "registered-models/update", {"name": "dst_model2", "description": "desc"})
    assert updated.json()["registered_model"]["description"] == "desc"
    assert delete(client, "registered-models/delete", {"name": "dst_model2"}).json() == {}
    error(get(client, "registered-models/get", {"name": "dst_model2"}), 404, "RESOURCE_DOES_NOT_EXIST")


def test_model_tags(api, admin):
    client = api(admin)
    make_model(admin, "tagged")
    assert post(client, "registered-models/set-tag", {"name": "tagged", "key": "k", "value": "v"}).json() == {}
    assert get(client, "registered-models/get", {"name": "tagged"}).json()["registered_model"]["tags"] == \
        [{"key": "k", "value": "v"}]
    assert delete(client, "registered-models/delete-tag", {"name": "tagged", "key": "k"}).json() == {}
    assert get(client, "registered-models/get", {"name": "tagged"}).json()["registered_model"]["tags"] == []


# Aliases --------------------------------------------------------------------------------------------------

def test_alias_set_get_reassign_delete(api, admin):
    client = api(admin)
    make_model(admin, "aliased")
    make_version(admin, "aliased")
    make_version(admin, "aliased")
    assert post(client, "registered-models/alias", {"name": "aliased", "alias": "Champion", "version": "1"}).json() == {}
    got = get(client, "registered-models/alias", {"name": "aliased", "alias": "Champion"}).json()["model_version"]
    assert got["version"] == "1" and got["aliases"] == ["Champion"]
    post(client, "registered-models/alias", {"name": "aliased", "alias": "Champion", "version": "2"})
    got = get(client, "registered-models/alias", {"name": "aliased", "alias": "Champion"}).json()["model_version"]
    assert got["version"] == "2"
    model = get(client, "registered-models/get", {"name": "aliased"}).json()["registered_model"]
    assert model["aliases"] == [{"alias": "Champion", "version": "2"}]
    assert delete(client, "registered-models/alias", {"name": "aliased", "alias": "Champion"}).json() == {}
    missing = get(client, "registered-models/alias", {"name": "aliased", "alias": "Champion"})
    assert error(missing, 400, "INVALID_PARAMETER_VALUE") == "Registered model alias Champion not found."
    error(get(client, "registered-models/alias", {"name": "nope", "alias": "Champion"}), 404, "RESOURCE_DOES_NOT_EXIST")


def test_reader_may_see_but_not_set_aliases(api, owner, reader, governed, admin):
    make_model(owner, "prod.ml_team.iris")
    make_version(owner, "prod.ml_team.iris")
    body = {"name": "prod.ml_team.iris", "alias": "Champion", "version": "1"}
    error(post(api(reader), "registered-models/alias", body), 404, "RESOURCE_DOES_NOT_EXIST")
    grant_add(actor=admin, securable=governed, principal=reader, privilege="EXECUTE")
    error(post(api(reader), "registered-models/alias", body), 403, "PERMISSION_DENIED")
    assert post(api(owner), "registered-models/alias", body).status_code == 200


# Model versions -------------------------------------------------------------------------------------------

def test_workspace_version_lifecycle(api, admin):
    client = api(admin)
    make_model(admin, "wine")
    run = make_run()
    response = post(client, "model-versions/create",
                    {"name": "wine", "source": f"runs:/{run.run_id}/model", "run_id": run.run_id,
                     "description": "first", "tags": [{"key": "k", "value": "v"}]}, AJAX)
    assert response.status_code == 200, response.content
    mv = response.json()["model_version"]
    assert (mv["name"], mv["version"], mv["status"], mv["current_stage"]) == ("wine", "1", "READY", "None")
    assert mv["run_id"] == run.run_id and mv["tags"] == [{"key": "k", "value": "v"}] and mv["user_id"] == "admin"
    got = get(client, "model-versions/get", {"name": "wine", "version": "1"}).json()["model_version"]
    assert got["description"] == "first"
    updated = patch(client, "model-versions/update", {"name": "wine", "version": "1", "description": "mvdesc"})
    assert updated.json()["model_version"]["description"] == "mvdesc"
    assert post(client, "model-versions/set-tag", {"name": "wine", "version": "1", "key": "a", "value": "b"}).json() == {}
    assert delete(client, "model-versions/delete-tag", {"name": "wine", "version": "1", "key": "k"}).json() == {}
    got = get(client, "model-versions/get", {"name": "wine", "version": 1}).json()["model_version"]
    assert got["tags"] == [{"key": "a", "value": "b"}]
    uri = get(client, "model-versions/get-download-uri", {"name": "wine", "version": "1"}).json()
    assert uri == {"artifact_uri": f"mlflow-artifacts:/0/{run.run_id}/artifacts/model"}
    assert delete(client, "model-versions/delete", {"name": "wine", "version": "1"}).json() == {}
    error(get(client, "model-versions/get", {"name": "wine", "version": "1"}), 404, "RESOURCE_DOES_NOT_EXIST")


@pytest.mark.parametrize("params", [{"name": "wine", "version": "abc"}, {"name": "wine", "version": "-1"},
                                    {"name": "wine"}, {"version": "1"}])
def test_bad_version_numbers_are_400(api, admin, params):
    make_model(admin, "wine")
    error(get(api(admin), "model-versions/get", params), 400, "INVALID_PARAMETER_VALUE")


def test_three_level_version_starts_pending(api, owner, governed):
    client = api(owner)
    make_model(owner, "prod.ml_team.iris")
    response = post(client, "model-versions/create", {"name": "prod.ml_team.iris", "source": run_source()})
    assert response.status_code == 200, response.content
    mv = response.json()["model_version"]
    assert (mv["name"], mv["version"], mv["status"]) == ("prod.ml_team.iris", "1", "PENDING_REGISTRATION")
    refused = get(client, "model-versions/get-download-uri", {"name": "prod.ml_team.iris", "version": "1"})
    assert "PENDING_REGISTRATION" in error(refused, 400, "INVALID_PARAMETER_VALUE")


@pytest.mark.parametrize("source", ["file:///etc/passwd", "/tmp/model", "runs:/../x", "s3://bucket/model", ""])
def test_unmanaged_sources_are_refused(api, admin, source):
    make_model(admin, "wine")
    response = post(api(admin), "model-versions/create", {"name": "wine", "source": source})
    assert response.status_code == 400
    assert not ModelVersion.objects.exists()


def test_stages_on_workspace_model(api, admin):
    client = api(admin)
    make_model(admin, "staged")
    for _ in range(3):
        make_version(admin, "staged")
    staging = post(client, "model-versions/transition-stage",
                   {"name": "staged", "version": "2", "stage": "staging", "archive_existing_versions": False})
    assert staging.json()["model_version"]["current_stage"] == "Staging"
    post(client, "model-versions/transition-stage", {"name": "staged", "version": "1", "stage": "Production"})
    post(client, "model-versions/transition-stage",
         {"name": "staged", "version": "3", "stage": "Production", "archive_existing_versions": True})
    assert ModelVersion.objects.get(model__name="staged", version=1).current_stage == "Archived"
    latest = post(client, "registered-models/get-latest-versions", {"name": "staged", "stages": ["Production"]}).json()
    assert [(v["version"], v["current_stage"]) for v in latest["model_versions"]] == [("3", "Production")]
    every = post(client, "registered-models/get-latest-versions", {"name": "staged"}).json()["model_versions"]
    assert sorted((v["current_stage"], v["version"]) for v in every) == [("Archived", "1"), ("Production", "3"),
                                                                       ("Staging", "2")]
    model = get(client, "registered-models/get", {"name": "staged"}).json()["registered_model"]
    assert sorted(v["version"] for v in model["latest_versions"]) == ["1", "2", "3"]
    error(post(client, "registered-models/get-latest-versions", {"name": "staged", "stages": ["Prod"]}), 400,
          "INVALID_PARAMETER_VALUE")
    error(post(client, "model-versions/transition-stage", {"name": "staged", "version": "1", "stage": "Gold"}), 400,
          "INVALID_PARAMETER_VALUE")


def test_stages_are_refused_on_three_level_models(api, owner, governed):
    client = api(owner)
    make_model(owner, "prod.ml_team.iris")
    make_version(owner, "prod.ml_team.iris")
    refused = post(client, "model-versions/transition-stage",
                   {"name": "prod.ml_team.iris", "version": "1", "stage": "Staging"})
    assert "aliases" in error(refused, 400, "INVALID_PARAMETER_VALUE")
    refused = post(client, "registered-models/get-latest-versions", {"name": "prod.ml_team.iris", "stages": ["Staging"]})
    assert "alias" in error(refused, 400, "INVALID_PARAMETER_VALUE")
    latest = post(client, "registered-models/get-latest-versions", {"name": "prod.ml_team.iris"}).json()
    assert [v["version"] for v in latest["model_versions"]] == ["1"]


# Search ---------------------------------------------------------------------------------------------------

CLIENT_FILTER = "name LIKE 'pg%' AND tag.`mlflow.prompt.is_prompt` != 'true'"


def test_search_models_pages_like_the_client(api, admin):
    client = api(admin)
    for name in ("pg_a", "pg_b", "pg_c", "other"):
        make_model(admin, name)
    seen, token = [], None
    while True:
        params = {"filter": CLIENT_FILTER, "max_results": 1, "order_by": "name ASC"}
        if token:
            params["page_token"] = token
        body = get(client, "registered-models/search", params).json()
        seen += [m["name"] for m in body["registered_models"]]
        token = body.get("next_page_token")
        if not token:
            break
    assert seen == ["pg_a", "pg_b", "pg_c"]
    empty_token = get(client, "registered-models/search", {"filter": CLIENT_FILTER, "page_token": ""}).json()
    assert [m["name"] for m in empty_token["registered_models"]] == ["pg_a", "pg_b", "pg_c"]


def test_search_models_with_several_order_by(api, admin):
    client = api(admin)
    for name in ("b", "a", "c"):
        make_model(admin, name)
    response = client.get(API + "registered-models/search?order_by=name+DESC&order_by=last_updated_timestamp+ASC")
    assert [m["name"] for m in response.json()["registered_models"]] == ["c", "b", "a"]


@pytest.mark.parametrize("params", [{"max_results": 0}, {"max_results": 1001}, {"max_results": "many"},
                                    {"filter": "name = 'x' OR name = 'y'"}, {"filter": "bogus"},
                                    {"order_by": "size"}, {"page_token": "!!"}])
def test_bad_model_search_parameters_are_400(api, admin, params):
    error(get(api(admin), "registered-models/search", params), 400, "INVALID_PARAMETER_VALUE")


def test_bad_filter_message_names_the_problem(api, admin):
    message = error(get(api(admin), "registered-models/search", {"filter": "name = 'x' OR name = 'y'"}), 400,
                    "INVALID_PARAMETER_VALUE")
    assert message.startswith("Invalid filter") and "OR" in message


def test_search_versions(api, admin):
    client = api(admin)
    make_model(admin, "wine")
    for _ in range(3):
        make_version(admin, "wine")
    body = get(client, "model-versions/search", {"filter": "name='wine'", "max_results": 10000}).json()
    assert [v["version"] for v in body["model_versions"]] == ["3", "2", "1"]
    assert all(v["status"] == "READY" for v in body["model_versions"])
    page = get(client, "model-versions/search", {"filter": "name='wine'", "max_results": 2,
                                                 "order_by": "version_number ASC"}).json()
    assert [v["version"] for v in page["model_versions"]] == ["1", "2"]
    rest = get(client, "model-versions/search", {"filter": "name='wine'", "max_results": 2, "order_by": "version_number ASC",
                                                 "page_token": page["next_page_token"]}).json()
    assert [v["version"] for v in rest["model_versions"]] == ["3"] and "next_page_token" not in rest
    error(get(client, "model-versions/search", {"max_results": 200_001}), 400, "INVALID_PARAMETER_VALUE")
    error(get(client, "model-versions/search", {"filter": "version_number = 1.5"}), 400, "INVALID_PARAMETER_VALUE")


def test_outsider_search_returns_nothing(api, admin, outsider, owner, governed):
    make_model(admin, "wine")
    make_version(admin, "wine")
    make_model(owner, "prod.ml_team.iris")
    assert get(api(outsider), "registered-models/search", {}).json() == {"registered_models": []}
    assert get(api(outsider), "model-versions/search", {}).json() == {"model_versions": []}
    assert len(get(api(admin), "registered-models/search", {}).json()["registered_models"]) == 2


def test_search_of_fifty_models_uses_a_bounded_number_of_queries(api, admin, django_assert_max_num_queries):
    for i in range(50):
        make_model(admin, f"model_{i:02d}")
        make_version(admin, f"model_{i:02d}")
        alias_set(actor=admin, name=f"model_{i:02d}", alias="Champion", version="1")
    client = api(admin)
    with django_assert_max_num_queries(8):  # 2 to authenticate the token, 5 for the search
        response = get(client, "registered-models/search", {"filter": CLIENT_FILTER.replace("pg%", "model%"),
                                                              "max_results": 100})
    models = response.json()["registered_models"]
    assert len(models) == 50
    assert models[0]["aliases"] == [{"alias": "Champion", "version": "1"}]
    assert models[0]["latest_versions"][0]["aliases"] == ["Champion"]
    with django_assert_max_num_queries(7):
        response = get(client, "model-versions/search", {"max_results": 100})
    assert len(response.json()["model_versions"]) == 50


def test_responses_parse_into_the_clients_protobuf_messages(api, admin, owner, governed):
    """What the unmodified client does with each answer: parse it into its protobuf response message."""
    from mlflow.protos import model_registry_pb2 as pb
    from mlflow.utils.proto_json_utils import parse_dict

    make_model(owner, "prod.ml_team.iris")
    make_version(owner, "prod.ml_team.iris", tags={"k": "v"})
    alias_set(actor=owner, name="prod.ml_team.iris", alias="Champion", version="1")
    client = api(owner)
    answers = [
        (pb.GetRegisteredModel.Response, get(client, "registered-models/get", {"name": "prod.ml_team.iris"})),
        (pb.SearchRegisteredModels.Response, get(client, "registered-models/search", {"max_results": 1})),
        (pb.GetModelVersion.Response, get(client, "model-versions/get", {"name": "prod.ml_team.iris", "version": "1"})),
        (pb.SearchModelVersions.Response, get(client, "model-versions/search", {"filter": "name='prod.ml_team.iris'"})),
        (pb.GetModelVersionByAlias.Response,
         get(client, "registered-models/alias", {"name": "prod.ml_team.iris", "alias": "Champion"})),
    ]
    for message_class, response in answers:
        assert response.status_code == 200, response.content
        message = message_class()
        parse_dict(response.json(), message)
        assert message.ByteSize() > 0
    version = pb.GetModelVersion.Response()
    parse_dict(answers[2][1].json(), version)
    assert version.model_version.status == pb.ModelVersionStatus.Value("PENDING_REGISTRATION")
    assert list(version.model_version.aliases) == ["Champion"]
    assert version.model_version.tags[0].key == "k"
