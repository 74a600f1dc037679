"""MLflow 3's prompt registry with the unmodified client against a live server: register_prompt (versions 1 and
2), load_prompt by version and by alias, aliases, prompt tags, search_prompts and format(), for a workspace name
and a three-level name; who may not is refused or sees nothing; prompts are absent from every models list."""
from __future__ import annotations

import json

import pytest

from registry.models import AuditEvent, ModelAlias, ModelVersion, RegisteredModel
from registry.services.grants import grant_add
from tests.registry.factories import make_version

pytestmark = pytest.mark.django_db(transaction=True)

NAMES = ["summarize", "prod.ml_team.summarize"]


@pytest.fixture
def as_user(live_server, default_experiment, monkeypatch, token_for):
    """as_user(user): the mlflow client's fluent API (tracking and registry) pointed at the live server as `user`."""
    import mlflow

    from django.db import connections

    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_TRACKING_URI", live_server.url)
    mlflow.set_tracking_uri(live_server.url)
    mlflow.set_registry_uri(live_server.url)

    def use(user):
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token_for(user))
        return mlflow

    return use


@pytest.mark.parametrize("name", NAMES)
def test_register_load_alias_tags_and_search(as_user, governed, owner, name):
    mlflow = as_user(owner)
    first = mlflow.genai.register_prompt(name=name, template="Summarize: {{text}}", commit_message="first cut",
                                         tags={"team": "nlp"})
    second = mlflow.genai.register_prompt(name=name, template="Summarize in {{n}} words:\n{{text}}",
                                          commit_message="shorter")
    assert (first.version, second.version) == (1, 2)

    # Stored as a prompt: a registered model of kind prompt whose versions are READY at once and own no files.
    row = RegisteredModel.objects.get(name="summarize")
    assert row.kind == "prompt" and row.full_name == name
    versions = ModelVersion.objects.filter(model=row).order_by("version")
    assert [v.status for v in versions] == ["READY", "READY"]
    assert [v.storage_location for v in versions] == ["", ""]
    assert [v.description for v in versions] == ["first cut", "shorter"]

    loaded = mlflow.genai.load_prompt(f"prompts:/{name}/1")
    assert loaded.template == "Summarize: {{text}}" and loaded.commit_message == "first cut"
    assert loaded.format(text="the report") == "Summarize: the report"
    assert mlflow.genai.load_prompt(f"prompts:/{name}/2").format(n=5, text="x") == "Summarize in 5 words:\nx"

    mlflow.genai.set_prompt_alias(name, alias="production", version=1)
    by_alias = mlflow.genai.load_prompt(f"prompts:/{name}@production", cache_ttl_seconds=0)
    assert by_alias.version == 1 and by_alias.format(text="t") == "Summarize: t"
    mlflow.genai.set_prompt_alias(name, alias="production", version=2)  # moves it
    assert mlflow.genai.load_prompt(f"prompts:/{name}@production", cache_ttl_seconds=0).version == 2
    mlflow.genai.delete_prompt_alias(name, alias="production")
    with pytest.raises(mlflow.exceptions.MlflowException) as gone:
        mlflow.genai.load_prompt(f"prompts:/{name}@production", cache_ttl_seconds=0)
    assert "production not found" in gone.value.message  # INVALID_PARAMETER_VALUE, as from MLflow's server

    mlflow.genai.set_prompt_tag(name, "language", "en")
    assert mlflow.genai.get_prompt_tags(name)["language"] == "en"
    mlflow.genai.delete_prompt_tag(name, "language")
    tags = mlflow.genai.get_prompt_tags(name)
    assert "language" not in tags and tags["team"] == "nlp"

    found = mlflow.genai.search_prompts()
    assert [p.name for p in found] == [name]
    assert [p.name for p in mlflow.genai.search_prompts(filter_string="name LIKE '%summ%'")] == [name]

    audited = list(AuditEvent.objects.filter(outcome="success", actor=owner).values_list("action", flat=True))
    assert audited.count("model_version.create") == 2
    assert {"registered_model.create", "registered_model.set_alias", "registered_model.delete_alias",
            "registered_model.set_tag", "registered_model.delete_tag"} <= set(audited)


def test_chat_prompt_round_trips(as_user, governed, owner):
    mlflow = as_user(owner)
    template = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Summarize {{text}}"}]
    mlflow.genai.register_prompt(name="prod.ml_team.chat", template=template)
    loaded = mlflow.genai.load_prompt("prompts:/prod.ml_team.chat/1")
    assert loaded.format(text="it") == [{"role": "system", "content": "You are terse."},
                                         {"role": "user", "content": "Summarize it"}]


def test_without_create_model_the_schema_refuses_and_reader_sees_nothing(as_user, governed, owner, reader, outsider):
    as_user(owner).genai.register_prompt(name="prod.ml_team.summarize", template="S: {{text}}")
    as_user(owner).genai.register_prompt(name="summarize", template="S: {{text}}")

    mlflow = as_user(reader)  # USE CATALOG and USE SCHEMA, no CREATE MODEL
    with pytest.raises(mlflow.exceptions.MlflowException) as refused:
        mlflow.genai.register_prompt(name="prod.ml_team.other", template="x")
    assert refused.value.error_code == "PERMISSION_DENIED"
    assert not RegisteredModel.objects.filter(name="other").exists()
    assert mlflow.genai.search_prompts() == []
    for uri in ("prompts:/prod.ml_team.summarize/1", "prompts:/summarize/1"):
        with pytest.raises(mlflow.exceptions.MlflowException) as hidden:
            mlflow.genai.load_prompt(uri, cache_ttl_seconds=0)
        assert hidden.value.error_code == "RESOURCE_DOES_NOT_EXIST"
    # Nor may it add a version to a prompt it cannot see (the same answer as a missing prompt).
    with pytest.raises(mlflow.exceptions.MlflowException) as missing:
        mlflow.MlflowClient().create_prompt_version("summarize", template="mine")
    assert missing.value.error_code == "RESOURCE_DOES_NOT_EXIST"

    # EXECUTE on the prompt: the reader loads it, may not change it.
    grant_add(actor=RegisteredModel.objects.get(name="summarize", schema__isnull=False).owner_user,
              securable=RegisteredModel.objects.get(name="summarize", schema__isnull=False),
              principal=reader, privilege="EXECUTE")
    assert mlflow.genai.load_prompt("prompts:/prod.ml_team.summarize/1", cache_ttl_seconds=0).template == "S: {{text}}"
    assert [p.name for p in mlflow.genai.search_prompts()] == ["prod.ml_team.summarize"]
    with pytest.raises(mlflow.exceptions.MlflowException) as denied:
        mlflow.genai.set_prompt_alias("prod.ml_team.summarize", alias="mine", version=1)
    assert denied.value.error_code == "PERMISSION_DENIED"

    assert as_user(outsider).genai.search_prompts() == []


def test_prompts_are_absent_from_model_lists(as_user, governed, owner, api, client):
    mlflow = as_user(owner)
    mlflow.genai.register_prompt(name="prod.ml_team.summarize", template="S: {{text}}")
    mlflow.genai.register_prompt(name="summarize", template="S: {{text}}")
    ml = mlflow.MlflowClient()
    ml.create_registered_model("prod.ml_team.iris")
    ml.create_registered_model("iris")

    # The client filters prompts out by tag itself, as against MLflow's server.
    assert sorted(m.name for m in ml.search_registered_models()) == ["iris", "prod.ml_team.iris"]
    # The server leaves prompts out of a search unless its filter asks for them, as MLflow's server does.
    search = "/api/2.0/mlflow/registered-models/search"
    raw = api(owner).get(search).json()["registered_models"]
    assert sorted(m["name"] for m in raw) == ["iris", "prod.ml_team.iris"]
    raw = api(owner).get(search, {"filter": "tags.`mlflow.prompt.is_prompt` = 'true'"}).json()["registered_models"]
    assert sorted(m["name"] for m in raw) == ["prod.ml_team.summarize", "summarize"]

    uc = api(owner).get("/api/2.1/unity-catalog/models", {"catalog_name": "prod", "schema_name": "ml_team"})
    assert [m["full_name"] for m in uc.json()["registered_models"]] == ["prod.ml_team.iris"]

    client.force_login(owner)
    page = client.get("/models/").content.decode()
    assert "iris" in page and "summarize" not in page
    for path in ("/schemas/prod.ml_team/", "/workspace/", "/nav/schemas/prod.ml_team/", "/nav/workspace/"):
        page = client.get(path).content.decode()
        assert "iris" in page and "summarize" not in page, path


def test_a_prompt_version_needs_a_placeholder_source_and_a_template(api, governed, owner):
    client = api(owner)
    created = client.post("/api/2.0/mlflow/registered-models/create", {
        "name": "prod.ml_team.p", "tags": [{"key": "mlflow.prompt.is_prompt", "value": "true"}]}, format="json")
    assert created.status_code == 200, created.content
    for body in ({"name": "prod.ml_team.p", "source": "runs:/abc/model",
                  "tags": [{"key": "mlflow.prompt.text", "value": "x"}]},
                 {"name": "prod.ml_team.p", "source": "dummy-source"},
                 {"name": "prod.ml_team.p", "source": "dummy-source",
                  "tags": [{"key": "mlflow.prompt.text", "value": "x" * 100_001}]}):
        response = client.post("/api/2.0/mlflow/model-versions/create", body, format="json")
        assert response.status_code == 400, response.content
        assert response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    long = "y" * 20_000  # longer than other tags may be
    response = client.post("/api/2.0/mlflow/model-versions/create", {
        "name": "prod.ml_team.p", "source": "prompt-template",
        "tags": [{"key": "mlflow.prompt.text", "value": long}]}, format="json")
    assert response.status_code == 200 and response.json()["model_version"]["status"] == "READY"

    # A model stays a model: a placeholder is no source of its versions; once either has versions, the kind tag
    # cannot change what it is (before, it may: MLflow's client may tag an empty model as a prompt).
    client.post("/api/2.0/mlflow/registered-models/create", {"name": "prod.ml_team.m"}, format="json")
    response = client.post("/api/2.0/mlflow/model-versions/create",
                           {"name": "prod.ml_team.m", "source": "dummy-source"}, format="json")
    assert response.status_code == 400
    client.post("/api/2.0/mlflow/registered-models/create", {"name": "prod.ml_team.e"}, format="json")
    response = client.post("/api/2.0/mlflow/registered-models/set-tag",
                           {"name": "prod.ml_team.e", "key": "mlflow.prompt.is_prompt", "value": "true"}, format="json")
    assert response.status_code == 200 and RegisteredModel.objects.get(name="e").kind == "prompt"
    make_version(owner, "prod.ml_team.m")
    for name, value in (("prod.ml_team.m", "true"), ("prod.ml_team.p", "false")):
        response = client.post("/api/2.0/mlflow/registered-models/set-tag",
                               {"name": name, "key": "mlflow.prompt.is_prompt", "value": value}, format="json")
        assert response.status_code == 400 and response.json()["error_code"] == "INVALID_PARAMETER_VALUE"
    response = client.delete("/api/2.0/mlflow/registered-models/delete-tag",
                             {"name": "prod.ml_team.p", "key": "mlflow.prompt.is_prompt"}, format="json")
    assert response.status_code == 400
    assert RegisteredModel.objects.get(name="p").kind == "prompt"


# Unity Catalog: the client's `databricks-uc` registry sends the dedicated prompt endpoints ---------------------

@pytest.fixture
def uc_as_user(live_server, default_experiment, monkeypatch, token_for, tmp_path):
    """uc_as_user(user): mlflow with registry URI databricks-uc://<profile>, the profile naming the live server and
    a token of `user` (the way Databricks documents prompts in Unity Catalog)."""
    import mlflow

    from django.db import connections

    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    for key in ("DATABRICKS_HOST", "DATABRICKS_TOKEN", "DATABRICKS_CONFIG_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", live_server.url)
    mlflow.set_tracking_uri(live_server.url)
    config = tmp_path / "databrickscfg"
    monkeypatch.setenv("DATABRICKS_CONFIG_FILE", str(config))

    def use(user, profile: str):
        token = token_for(user)
        with config.open("a") as out:
            out.write(f"[{profile}]\nhost = {live_server.url}\ntoken = {token}\n")
        monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token)
        mlflow.set_registry_uri(f"databricks-uc://{profile}")
        return mlflow

    return use


def test_unity_catalog_client_registers_loads_aliases_tags_and_searches(uc_as_user, governed, owner, reader):
    mlflow = uc_as_user(owner, "owner")
    name = "prod.ml_team.uc_summarize"
    first = mlflow.genai.register_prompt(name=name, template="Summarize: {{text}}", commit_message="first cut",
                                         tags={"team": "nlp"})
    second = mlflow.genai.register_prompt(name=name, template="Summarize in {{n}} words: {{text}}")
    assert (first.version, second.version) == (1, 2)
    row = RegisteredModel.objects.get(name="uc_summarize")
    assert row.kind == "prompt" and row.full_name == name
    assert list(ModelVersion.objects.filter(model=row).values_list("status", "storage_location")) == \
        [("READY", ""), ("READY", "")]

    loaded = mlflow.genai.load_prompt(f"prompts:/{name}/1", cache_ttl_seconds=0)
    assert loaded.template == "Summarize: {{text}}" and loaded.commit_message == "first cut"
    assert loaded.format(text="it") == "Summarize: it"
    # Loaded in a run: the client links the version to the run with a run tag (its UC link call is best-effort).
    with mlflow.start_run() as run:
        mlflow.genai.load_prompt(f"prompts:/{name}/1", cache_ttl_seconds=0)
    linked = json.loads(mlflow.MlflowClient().get_run(run.info.run_id).data.tags["mlflow.linkedPrompts"])
    assert linked == [{"name": name, "version": "1"}]
    mlflow.genai.set_prompt_alias(name, alias="production", version=2)
    by_alias = mlflow.genai.load_prompt(f"prompts:/{name}@production", cache_ttl_seconds=0)
    assert by_alias.version == 2 and by_alias.format(n=3, text="x") == "Summarize in 3 words: x"
    mlflow.genai.delete_prompt_alias(name, alias="production")
    # The server answers RESOURCE_DOES_NOT_EXIST; the 3.17 client makes that None and then dereferences it.
    with pytest.raises((mlflow.exceptions.MlflowException, AttributeError)):
        mlflow.genai.load_prompt(f"prompts:/{name}@production", cache_ttl_seconds=0)
    assert not ModelAlias.objects.filter(model=row).exists()

    mlflow.genai.set_prompt_tag(name, "language", "en")
    assert mlflow.genai.get_prompt_tags(name)["language"] == "en"
    mlflow.genai.delete_prompt_tag(name, "language")
    assert "language" not in mlflow.genai.get_prompt_tags(name)

    chat = [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "{{q}}"}]
    mlflow.genai.register_prompt(name="prod.ml_team.uc_chat", template=chat)
    assert mlflow.genai.load_prompt("prompts:/prod.ml_team.uc_chat/1", cache_ttl_seconds=0).format(q="hi") == \
        [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hi"}]

    found = mlflow.genai.search_prompts(filter_string="catalog = 'prod' AND schema = 'ml_team'")
    assert sorted(p.name for p in found) == ["prod.ml_team.uc_chat", name]

    # The same prompts through the MLflow registry API, and none of them among the UC API's models.
    mlflow.set_registry_uri(mlflow.get_tracking_uri())
    assert mlflow.genai.load_prompt(f"prompts:/{name}/2", cache_ttl_seconds=0).template == \
        "Summarize in {{n}} words: {{text}}"

    refused = uc_as_user(reader, "reader")  # USE CATALOG/SCHEMA, no CREATE MODEL, no EXECUTE on the prompts
    assert refused.genai.search_prompts(filter_string="catalog = 'prod' AND schema = 'ml_team'") == []
    # The server answers 404 RESOURCE_DOES_NOT_EXIST (as for a missing prompt); the 3.17 UC store makes it None.
    assert refused.genai.load_prompt(f"prompts:/{name}/1", cache_ttl_seconds=0) is None
    with pytest.raises(refused.exceptions.MlflowException) as denied:
        refused.genai.register_prompt(name="prod.ml_team.mine", template="x")
    assert denied.value.error_code == "PERMISSION_DENIED"
    assert AuditEvent.objects.filter(action="registered_model.create", outcome="denied").exists()


def test_unity_catalog_prompt_api_refuses_bad_input_with_the_envelope(api, governed, owner):
    client = api(owner)
    base = "/api/2.0/mlflow/unity-catalog/prompts"
    assert client.post(base, {"name": "prod.ml_team.p", "prompt": {"name": "prod.ml_team.p"}},
                       format="json").status_code == 200
    client.post("/api/2.0/mlflow/registered-models/create", {"name": "prod.ml_team.m"}, format="json")
    for method, path, body in (
        ("post", base, {"name": "flat_name"}),
        ("post", base, {"name": "prod.ml_team.q", "prompt": {"tags": "x"}}),
        ("post", f"{base}/prod.ml_team.p/versions", {"prompt_version": {"template": "not json"}}),
        ("post", f"{base}/prod.ml_team.p/versions", {"prompt_version": {"template": "5"}}),
        ("post", f"{base}/prod.ml_team.p/versions", {}),
        ("post", f"{base}/search", {}),
        ("post", f"{base}/prod.ml_team.p/tags", {"key": "mlflow.prompt.text", "value": "x"}),
        ("get", f"{base}/prod.ml_team.p/versions/abc", None),
        ("get", f"{base}/prod.ml_team.m", None),  # a model is no prompt
        ("get", f"{base}/prod.ml_team.nope/versions/1", None),
    ):
        response = getattr(client, method)(path, body, format="json") if body is not None else client.get(path)
        assert response.status_code in (400, 404), (path, response.status_code, response.content)
        assert set(response.json()) >= {"error_code", "message"}
