"""Alias services: validation, the per-model limit, reassignment and deletion."""
from __future__ import annotations

import pytest

from registry.errors import InvalidParameter, NotFound
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
