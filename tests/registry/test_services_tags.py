"""Tag services on models and versions: key and value lengths, the per-object count, updates and deletes."""
from __future__ import annotations

import pytest

from registry.errors import InvalidParameter
from registry.models import ModelVersionTag, RegisteredModelTag
from registry.services.tags import model_tag_delete, model_tag_set, version_tag_delete, version_tag_set
from tests.registry.factories import make_model, make_version, state_fingerprint

SETTERS = {
    "model": lambda actor, key, value: model_tag_set(actor=actor, name="iris", key=key, value=value),
    "version": lambda actor, key, value: version_tag_set(actor=actor, name="iris", version=1, key=key, value=value),
}


@pytest.fixture
def iris(owner):
    make_model(owner, "iris")
    make_version(owner, "iris")
    return "iris"


@pytest.mark.django_db
@pytest.mark.parametrize("target", sorted(SETTERS))
def test_tag_key_255_and_value_5000_are_accepted(iris, owner, target):
    tag = SETTERS[target](owner, "k" * 255, "v" * 5000)
    assert (len(tag.key), len(tag.value)) == (255, 5000)


@pytest.mark.django_db
@pytest.mark.parametrize("target", sorted(SETTERS))
@pytest.mark.parametrize("key,value", [("k" * 256, "v"), ("k", "v" * 5001), ("", "v"), ("k\u202e", "v"),
                                       ("k\x00", "v"), (None, "v"), ("k", {"not": "text"})])
def test_invalid_tags_are_invalid_parameters_and_change_nothing(iris, owner, target, key, value):
    before = state_fingerprint()
    with pytest.raises(InvalidParameter):
        SETTERS[target](owner, key, value)
    assert state_fingerprint() == before


@pytest.mark.django_db
@pytest.mark.parametrize("target", sorted(SETTERS))
def test_fifty_first_tag_is_refused_but_updating_one_of_fifty_is_fine(iris, owner, target):
    for i in range(50):
        SETTERS[target](owner, f"k{i}", "v")
    before = state_fingerprint()
    with pytest.raises(InvalidParameter, match="50"):
        SETTERS[target](owner, "k50", "v")
    assert state_fingerprint() == before
    assert SETTERS[target](owner, "k0", "changed").value == "changed"


@pytest.mark.django_db
def test_setting_a_tag_again_replaces_its_value(iris, owner):
    model_tag_set(actor=owner, name=iris, key="task", value="classification")
    model_tag_set(actor=owner, name=iris, key="task", value="regression")
    assert list(RegisteredModelTag.objects.values_list("key", "value")) == [("task", "regression")]


@pytest.mark.django_db
def test_deleting_tags(iris, owner):
    model_tag_set(actor=owner, name=iris, key="task", value="classification")
    version_tag_set(actor=owner, name=iris, version=1, key="validation_status", value="approved")
    model_tag_delete(actor=owner, name=iris, key="task")
    version_tag_delete(actor=owner, name=iris, version=1, key="validation_status")
    assert not RegisteredModelTag.objects.exists() and not ModelVersionTag.objects.exists()


@pytest.mark.django_db
def test_deleting_a_tag_that_is_not_set_is_a_no_op_as_on_mlflow(iris, owner):
    model_tag_set(actor=owner, name=iris, key="keep", value="1")
    model_tag_delete(actor=owner, name=iris, key="task")
    version_tag_delete(actor=owner, name=iris, version=1, key="validation_status")
    assert list(RegisteredModelTag.objects.values_list("key", flat=True)) == ["keep"]


@pytest.mark.django_db
@pytest.mark.parametrize("target", sorted(SETTERS))
def test_nul_in_a_tag_value_is_an_invalid_parameter_not_a_database_error(iris, owner, target):
    before = state_fingerprint()
    with pytest.raises(InvalidParameter, match="NUL"):
        SETTERS[target](owner, "k", "a\x00b")
    assert state_fingerprint() == before
    assert SETTERS[target](owner, "k", "line one\nline two\ttabbed").value == "line one\nline two\ttabbed"


@pytest.mark.django_db
@pytest.mark.parametrize("key", ["k\x00", "k" * 256, ""])
def test_hostile_keys_on_delete_are_invalid_parameters(iris, owner, key):
    with pytest.raises(InvalidParameter):
        model_tag_delete(actor=owner, name=iris, key=key)
    with pytest.raises(InvalidParameter):
        version_tag_delete(actor=owner, name=iris, version=1, key=key)
