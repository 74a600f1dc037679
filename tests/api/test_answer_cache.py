"""The cache of MLflow read answers (registry/api/answer_cache.py): an answer served again is exactly what the
request would be answered without the cache, after any write to what it shows (through a service or behind the
services' back), for each principal; an answer served again costs one query; a read that reads a table whose writes
do not change the `answers` counter is never kept."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext

from registry import change_counter
from registry.api import answer_cache
from registry.models import Experiment, LoggedModel, ModelVersion, RegisteredModel, Run
from registry.selectors import model_lookup
from registry.services.aliases import alias_delete, alias_set
from registry.services.grants import grant_add, grant_remove
from registry.services.models import registered_model_rename, registered_model_update
from registry.services.tags import model_tag_delete, model_tag_set, version_tag_set
from registry.services.versions import model_version_transition_stage
from tests.api.mlflow_reads import mlflow_reads
from tests.registry.factories import make_model, make_run, make_version, run_source

API = "/api/2.0/mlflow/"


def _reads(name: str) -> dict[str, tuple[str, dict]]:
    return mlflow_reads(name, alias="champion", version="1", models_filter="name LIKE 'cached%'")


def _answers(client, name: str) -> dict[str, tuple[int, bytes]]:
    out = {}
    for label, (path, params) in _reads(name).items():
        response = client.get(API + path, params)
        out[label] = (response.status_code, response.content)
    return out


def _fresh(client, name: str) -> dict[str, tuple[int, bytes]]:
    with override_settings(ANSWER_CACHE_MB=0):
        return _answers(client, name)


@pytest.fixture
def world(owner, reader, team, member):
    experiment = Experiment.objects.create(id=41, name="cached-exp", artifact_location="x", open_to_all=True,
                                           creation_time=0, last_update_time=0, owner_user=owner)
    run = make_run(experiment.pk)
    make_model(owner, "cached_model")
    for _ in range(2):
        make_version(owner, "cached_model", source=run_source(run), run_id=run.run_id)
    alias_set(actor=owner, name="cached_model", alias="champion", version="1")
    model = model_lookup("cached_model").get()
    grant_add(actor=owner, securable=model, principal=reader, privilege="EXECUTE")
    grant_add(actor=owner, securable=model, principal=team, privilege="EXECUTE")
    return {"model": model, "run": run, "experiment": experiment}


def test_every_write_is_seen_by_the_next_cached_read_for_every_reader(api, owner, reader, member, team, world):
    run, experiment = world["run"], world["experiment"]
    name = ["cached_model"]  # renamed below

    def rename():
        registered_model_rename(actor=owner, name="cached_model", new_name="cached_renamed")
        name[0] = "cached_renamed"

    writes = {
        "alias moved": lambda: alias_set(actor=owner, name=name[0], alias="champion", version="2"),
        "model tag set": lambda: model_tag_set(actor=owner, name=name[0], key="team", value="ml"),
        "model tag deleted": lambda: model_tag_delete(actor=owner, name=name[0], key="team"),
        "version tag set": lambda: version_tag_set(actor=owner, name=name[0], version="1", key="k", value="v"),
        "model described": lambda: registered_model_update(actor=owner, name=name[0], description="new words"),
        "stage moved": lambda: model_version_transition_stage(actor=owner, name=name[0], version=1,
                                                              stage="Production"),
        # Behind the services' back: the triggers see these too.
        "version described in SQL": lambda: ModelVersion.objects.filter(version=1).update(description="sql"),
        "experiment made private": lambda: Experiment.objects.filter(pk=experiment.pk).update(open_to_all=False),
        "experiment opened again": lambda: Experiment.objects.filter(pk=experiment.pk).update(open_to_all=True),
        "run deleted": lambda: Run.objects.filter(pk=run.pk).update(lifecycle_stage="deleted"),
        "logged models touched": lambda: LoggedModel.objects.update(name="renamed"),
        "member left the group": lambda: member.groups.remove(team),
        "reader's grant removed": lambda: grant_remove(actor=owner, securable=RegisteredModel.objects.get(),
                                                       principal=reader, privilege="EXECUTE"),
        "model renamed": rename,
        "alias deleted": lambda: alias_delete(actor=owner, name=name[0], alias="champion"),
    }
    clients = {user.username: api(user) for user in (owner, reader, member)}
    for who, client in clients.items():
        _answers(client, name[0])  # fill the cache
    for write_name, write in writes.items():
        write()
        for who, client in clients.items():
            cached = _answers(client, name[0])
            assert cached == _fresh(client, name[0]), (write_name, who)
            assert cached == _answers(client, name[0]), (write_name, who)  # and again, now from the cache
    # The writes did change what the readers see (the test is not comparing empty answers).
    assert _answers(clients["reader"], name[0])["get model"][0] == 404
    assert _answers(clients["owner"], name[0])["get by alias"][0] == 400  # the alias is gone


def test_an_answer_served_again_costs_one_query(api, reader, world):
    client = api(reader)
    for label, (path, params) in _reads("cached_model").items():
        assert client.get(API + path, params).status_code == 200, label
        with CaptureQueriesContext(connection) as queries:
            again = client.get(API + path, params)
        assert again.status_code == 200 and again.json(), label
        assert len(queries) == 1, (label, [q["sql"][:100] for q in queries])  # the counters' row, for the token


def test_one_principal_is_never_served_anothers_answer(api, owner, reader, outsider, world):
    for path, params in _reads("cached_model").values():
        assert api(owner).get(API + path, params).status_code == 200
    outsider_client = api(outsider)
    answers = _answers(outsider_client, "cached_model")
    assert answers == _fresh(outsider_client, "cached_model")
    assert answers["get version"][0] == 404 and b"cached_model" not in answers["search models"][1]


def test_a_read_of_a_table_whose_writes_are_not_counted_is_not_kept(api, reader, world, monkeypatch):
    client = api(reader)
    path, params = _reads("cached_model")["get version"]
    client.get(API + path, params)
    kept = answer_cache.answer_tables()
    monkeypatch.setattr(answer_cache, "answer_tables", lambda: kept - {"registry_modelversiontag"})
    answer_cache.clear()
    for _ in range(2):
        with CaptureQueriesContext(connection) as queries:
            assert client.get(API + path, params).status_code == 200
        assert len(queries) > 1  # computed again each time


def test_every_table_a_cached_read_reads_is_counted(api, admin, owner, reader, governed, world):
    """The tables the five reads read, for a workspace and a three-level model and for an admin and a reader, are
    all watched by the `answers` counter: otherwise the cache would silently keep nothing for them."""
    from tests.api.test_hot_path_queries import _model

    _model(owner, "prod.ml_team.cached", versions=2)
    grant_add(actor=owner, securable=model_lookup("prod.ml_team.cached").get(), principal=reader,
              privilege="EXECUTE")
    for user in (admin, reader):
        client = api(user)
        for name in ("cached_model", "prod.ml_team.cached"):
            reads = dict(_reads(name), **{"get by alias": ("registered-models/alias", {"name": name, "alias": "a1"})}) \
                if name.startswith("prod") else _reads(name)
            for label, (path, params) in reads.items():
                client.get(API + path, params)  # the token's lookup is not the handler's
                answer_cache.clear()
                with CaptureQueriesContext(connection) as queries:
                    assert client.get(API + path, params).status_code == 200, (user, name, label)
                read = {t.lower() for q in queries for t in answer_cache._TABLE.findall(q["sql"])}
                assert read <= answer_cache.answer_tables(), (user.username, name, label, read
                                                             - answer_cache.answer_tables())


def test_registry_writes_keep_the_token_cache_and_token_writes_drop_it(owner, reader, world):
    tokens = change_counter.current("tokens")
    answers = change_counter.current("answers")
    model_tag_set(actor=owner, name="cached_model", key="x", value="y")
    alias_set(actor=owner, name="cached_model", alias="champion", version="2")
    assert change_counter.current("tokens") == tokens
    assert change_counter.current("answers") != answers
    from registry.services.tokens import token_create

    token_create(actor=reader, user=reader)
    assert change_counter.current("tokens") != tokens


def test_unity_catalog_reads_are_cached_and_see_every_write(api, owner, reader, governed):
    from tests.api.test_hot_path_queries import _model

    name = "prod.ml_team.uc_cached"
    _model(owner, name, versions=2)  # aliases a1 -> 1, a2 -> 2
    grant_add(actor=owner, securable=model_lookup(name).get(), principal=reader, privilege="EXECUTE")
    uc = "/api/2.1/unity-catalog/models/"
    reads = [uc + name, uc + name + "?include_aliases=true", uc + name + "/versions/1", uc + name + "/aliases/a1"]
    client = api(reader)

    def answers():
        return [(r.status_code, r.content) for r in (client.get(path) for path in reads)]

    def fresh():
        with override_settings(ANSWER_CACHE_MB=0):
            return answers()

    first = answers()
    assert [status for status, _ in first] == [200] * 4
    for path in reads:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(path).status_code == 200
        assert len(queries) == 1, path
    for write in (lambda: alias_set(actor=owner, name=name, alias="a1", version="2"),
                  lambda: registered_model_update(actor=owner, name=name, description="uc words"),
                  lambda: grant_remove(actor=owner, securable=model_lookup(name).get(), principal=reader,
                                       privilege="EXECUTE")):
        write()
        assert answers() == fresh()
    assert [status for status, _ in answers()] == [404] * 4
