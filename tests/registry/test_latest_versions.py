"""A model's latest versions (the newest in each stage), loaded for a whole page of models in one query."""
from __future__ import annotations

import pytest

from registry.search import latest_versions_by_model
from registry.services.versions import model_version_transition_stage
from tests.registry.factories import make_model, make_version


@pytest.mark.django_db
def test_newest_version_in_each_stage_for_every_model_of_the_page(owner, django_assert_num_queries):
    staged = make_model(owner, "Staged")
    stages = ["None", "Staging", "Production", "None", "Archived", "Staging"]
    for number, stage in enumerate(stages, start=1):
        make_version(owner, "Staged")
        if stage != "None":
            model_version_transition_stage(actor=owner, name="Staged", version=number, stage=stage)
    plain = make_model(owner, "Plain")
    for _ in range(3):
        make_version(owner, "Plain")
    empty = make_model(owner, "Empty")

    with django_assert_num_queries(2):  # the versions, then their tags
        latest = latest_versions_by_model([staged, plain, empty])

    assert [(mv.version, mv.current_stage) for mv in latest[staged.pk]] == [
        (3, "Production"), (4, "None"), (5, "Archived"), (6, "Staging")]
    assert [mv.version for mv in latest[plain.pk]] == [3]
    assert latest[empty.pk] == []
    assert all(mv.model is staged for mv in latest[staged.pk])


@pytest.mark.django_db
def test_no_models_no_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        assert latest_versions_by_model([]) == {}
