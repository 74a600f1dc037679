"""Alias services: validation, the per-model limit, reassignment and deletion, and the one case rule (a
three-level model matches aliases ignoring case, a workspace model exactly, and no model holds two that differ
only in case) through the services, both APIs, the database and lineage."""
from __future__ import annotations

import pytest

from registry.errors import AlreadyExists, InvalidParameter, NotFound
from registry.models import ModelAlias
from registry.selectors import aliases_by_version, model_get, version_get_by_alias
from registry.services.aliases import alias_delete, alias_set
from tests.registry.factories import make_model, make_version, state_fingerprint


@pytest.fixture
def iris(governed, owner):
    make_model(owner, "prod.ml_team.iris")
    make_version(owner, "prod.ml_team.iris")
    make_version(owner, "prod.ml_team.iris")
    return "prod.ml_team.iris"


@pytest.mark.django_db
def test_alias_resolves_to_its_version_by_any_case_of_the_model_name(iris, owner):
    alias_set(actor=owner, name=iris, alias="Champion", version=1)
    assert version_get_by_alias(actor=owner, name="Prod.ML_Team.Iris", alias="Champion").version == 1


@pytest.mark.django_db
def test_reassigning_an_alias_moves_it(iris, owner):
    alias_set(actor=owner, name=iris, alias="Champion", version=1)
    alias_set(actor=owner, name=iris, alias="Champion", version=2)
    assert version_get_by_alias(actor=owner, name=iris, alias="Champion").version == 2
    assert ModelAlias.objects.count() == 1
    assert aliases_by_version(model_get(actor=owner, name=iris)) == {2: ["Champion"]}


@pytest.mark.django_db
@pytest.mark.parametrize("alias", ["latest", "Latest", "v1", "V12", "a" * 256, "bad alias", "a/b", "x\u202e", ""])
def test_invalid_aliases_change_nothing(iris, owner, alias):
    before = state_fingerprint()
    with pytest.raises(InvalidParameter):
        alias_set(actor=owner, name=iris, alias=alias, version=1)
    assert state_fingerprint() == before


@pytest.mark.django_db
def test_alias_of_255_characters_is_accepted(iris, owner):
    alias_set(actor=owner, name=iris, alias="a" * 255, version=1)
    assert version_get_by_alias(actor=owner, name=iris, alias="a" * 255).version == 1


@pytest.mark.django_db
def test_eleventh_alias_is_refused_with_an_explanation(iris, owner):
    for i in range(10):
        alias_set(actor=owner, name=iris, alias=f"alias_{i}", version=1)
    before = state_fingerprint()
    with pytest.raises(InvalidParameter) as excinfo:
        alias_set(actor=owner, name=iris, alias="one_too_many", version=1)
    assert "10 aliases" in excinfo.value.message and "delete" in excinfo.value.message
    assert state_fingerprint() == before
    # Moving an existing alias is still allowed at the limit.
    alias_set(actor=owner, name=iris, alias="alias_0", version=2)
    alias_delete(actor=owner, name=iris, alias="alias_1")
    alias_set(actor=owner, name=iris, alias="one_more", version=2)


@pytest.mark.django_db
def test_alias_limit_is_a_setting(iris, owner, settings):
    settings.REGISTRY_MAX_ALIASES_PER_MODEL = 2
    alias_set(actor=owner, name=iris, alias="a", version=1)
    alias_set(actor=owner, name=iris, alias="b", version=1)
    with pytest.raises(InvalidParameter, match="2 aliases"):
        alias_set(actor=owner, name=iris, alias="c", version=1)


@pytest.mark.django_db
def test_alias_to_a_missing_version_is_not_found(iris, owner):
    with pytest.raises(NotFound):
        alias_set(actor=owner, name=iris, alias="Champion", version=9)
    with pytest.raises(InvalidParameter):
        alias_set(actor=owner, name=iris, alias="Champion", version="nine")


@pytest.mark.django_db
def test_deleting_an_alias_stops_it_resolving(iris, owner):
    alias_set(actor=owner, name=iris, alias="Champion", version=1)
    alias_delete(actor=owner, name=iris, alias="Champion")
    with pytest.raises(NotFound):
        version_get_by_alias(actor=owner, name=iris, alias="Champion")
    alias_delete(actor=owner, name=iris, alias="Champion")  # idempotent, as on an MLflow server


@pytest.mark.django_db
@pytest.mark.parametrize("alias", ["a\x00b", "x" * 300, "bad alias"])
def test_hostile_alias_in_lookups_and_deletes_is_an_invalid_parameter(iris, owner, alias):
    with pytest.raises(InvalidParameter):
        alias_delete(actor=owner, name=iris, alias=alias)
    with pytest.raises((InvalidParameter, NotFound)):
        version_get_by_alias(actor=owner, name=iris, alias=alias)


# The case rule (registry.selectors): no two aliases of a model differ only in case; a three-level model matches
# them ignoring case, as Unity Catalog does; a workspace model matches them exactly, as MLflow does.

@pytest.fixture
def legacy(owner):
    make_model(owner, "Legacy")
    for _ in range(4):
        make_version(owner, "Legacy")
    return "Legacy"


@pytest.fixture
def iris4(iris, owner):
    make_version(owner, iris)
    make_version(owner, iris)
    return iris


@pytest.mark.django_db
def test_another_case_of_an_alias_of_a_three_level_model_is_that_alias(iris4, owner):
    alias_set(actor=owner, name=iris4, alias="Champion", version=2)
    moved = alias_set(actor=owner, name=iris4, alias="champion", version=4)
    assert moved.alias == "Champion"  # the alias keeps the spelling it was created with
    assert list(ModelAlias.objects.values_list("alias", "version__version")) == [("Champion", 4)]
    for spelling in ("Champion", "champion", "CHAMPION"):
        assert version_get_by_alias(actor=owner, name=iris4, alias=spelling).version == 4
    alias_delete(actor=owner, name=iris4, alias="CHAMPION")
    assert not ModelAlias.objects.exists()


@pytest.mark.django_db
def test_another_case_of_an_alias_of_a_workspace_model_is_refused_and_not_found(legacy, owner):
    alias_set(actor=owner, name=legacy, alias="Champion", version=2)
    before = state_fingerprint()
    with pytest.raises(AlreadyExists) as excinfo:
        alias_set(actor=owner, name=legacy, alias="champion", version=4)
    assert "'Champion' (on version 2)" in excinfo.value.message and "only in case" in excinfo.value.message
    assert state_fingerprint() == before
    with pytest.raises(NotFound):  # exact matching, as on an MLflow server
        version_get_by_alias(actor=owner, name=legacy, alias="champion")
    alias_delete(actor=owner, name=legacy, alias="champion")  # not this alias: a no-op
    assert version_get_by_alias(actor=owner, name=legacy, alias="Champion").version == 2
    alias_set(actor=owner, name=legacy, alias="Champion", version=4)  # the exact spelling moves it
    assert list(ModelAlias.objects.values_list("alias", "version__version")) == [("Champion", 4)]


@pytest.mark.django_db
def test_the_case_rule_holds_in_the_database_too(iris, legacy, owner):
    from django.db import IntegrityError, transaction

    from registry.models import RegisteredModel

    for name in (iris, legacy):
        alias_set(actor=owner, name=name, alias="Champion", version=1)
        model = model_get(actor=owner, name=name)
        with pytest.raises(IntegrityError), transaction.atomic():
            ModelAlias.objects.create(model=model, alias="CHAMPION", version=model.versions.get(version=1))
    assert RegisteredModel.objects.count() == 2 and ModelAlias.objects.count() == 2


@pytest.mark.django_db
def test_the_case_rule_through_the_mlflow_and_unity_catalog_apis(api, iris4, legacy, owner):
    client = api(owner)
    mlflow_alias = "/api/2.0/mlflow/registered-models/alias"
    uc_alias = f"/api/2.1/unity-catalog/models/{iris4}/aliases"
    assert client.post(mlflow_alias, {"name": iris4, "alias": "Champion", "version": "2"}, format="json").status_code == 200
    moved = client.put(f"{uc_alias}/champion", {"version_num": 4}, format="json")
    assert moved.status_code == 200
    assert {k: moved.json()[k] for k in ("alias_name", "version_num")} == {"alias_name": "Champion", "version_num": 4}
    got = client.get(mlflow_alias, {"name": iris4, "alias": "CHAMPION"}).json()["model_version"]
    assert got["version"] == "4" and got["aliases"] == ["Champion"]
    assert client.get(f"{uc_alias}/cHaMpIoN").json()["version"] == 4

    assert client.post(mlflow_alias, {"name": legacy, "alias": "Champion", "version": "2"}, format="json").status_code == 200
    refused = client.post(mlflow_alias, {"name": legacy, "alias": "champion", "version": "4"}, format="json")
    assert refused.status_code == 400 and refused.json()["error_code"] == "RESOURCE_ALREADY_EXISTS"
    assert "only in case" in refused.json()["message"]
    # Not this alias: an MLflow server answers an unknown alias of a known model with 400.
    missing = client.get(mlflow_alias, {"name": legacy, "alias": "champion"})
    assert missing.status_code == 400 and "alias champion not found" in missing.json()["message"]


@pytest.mark.django_db
def test_lineage_starts_from_an_alias_by_any_case_on_a_three_level_model(iris, owner):
    from registry.lineage.loaders import load_root

    found = alias_set(actor=owner, name=iris, alias="Champion", version=1)
    assert load_root(owner, "alias", f"{iris}@champion").obj.pk == found.pk
    assert load_root(owner, "alias", f"{iris}@Champion").obj.pk == found.pk
