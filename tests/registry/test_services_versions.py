"""Model-version services: numbering that never reuses a number, status on creation, stages (workspace models
only), the model's last-updated time, and refusals that change nothing."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from registry.errors import InvalidParameter, NotFound
from registry.models import Job, ModelAlias, ModelVersion, RegisteredModel
from registry.models.models import Stage, VersionStatus
from registry.selectors import version_get
from registry.services.aliases import alias_set
from registry.services.versions import (
    model_version_create,
    model_version_delete,
    model_version_transition_stage,
    model_version_update,
)
from tests.registry.factories import make_model, make_run, make_version, run_source, state_fingerprint


def _numbers(name: str) -> list[int]:
    return sorted(ModelVersion.objects.filter(model__name=name.split(".")[-1]).values_list("version", flat=True))


def _age_model(name: str):
    """Move the model's last-updated time into the past, so any later touch is visible."""
    past = timezone.now() - timedelta(days=1)
    RegisteredModel.objects.filter(name=name.split(".")[-1]).update(updated_at=past)
    return past


def _updated_at(name: str):
    return RegisteredModel.objects.get(name=name.split(".")[-1]).updated_at


@pytest.mark.django_db
def test_workspace_version_is_ready_at_once_and_points_at_the_run_artifacts(owner):
    make_model(owner, "iris")
    run = make_run()
    mv = model_version_create(actor=owner, name="iris", source=f"runs:/{run.run_id}/model")
    assert (mv.version, mv.status, mv.run_id) == (1, VersionStatus.READY, run.run_id)
    assert mv.storage_location == f"mlflow-artifacts:/0/{run.run_id}/artifacts/model"
    assert mv.current_stage == Stage.NONE and mv.created_by == owner


@pytest.mark.django_db
def test_unity_catalog_version_starts_pending_with_a_registration_job(governed, owner):
    make_model(owner, "prod.ml_team.iris")
    mv = make_version(owner, "prod.ml_team.iris")
    assert mv.status == VersionStatus.PENDING_REGISTRATION
    assert mv.storage_location == mv.managed_location
    job = Job.objects.get(model_version=mv)
    assert job.kind == Job.Kind.REGISTER and job.state == Job.State.QUEUED


@pytest.mark.django_db
def test_version_numbers_are_never_reused_after_a_delete(owner):
    make_model(owner, "iris")
    for _ in range(3):
        make_version(owner, "iris")
    model_version_delete(actor=owner, name="iris", version=3)
    assert make_version(owner, "iris").version == 4
    for number in (1, 2, 4):
        model_version_delete(actor=owner, name="iris", version=number)
    assert make_version(owner, "iris").version == 5
    assert _numbers("iris") == [5]


@pytest.mark.django_db
def test_deleting_a_version_removes_its_aliases(owner):
    make_model(owner, "iris")
    make_version(owner, "iris")
    alias_set(actor=owner, name="iris", alias="Champion", version=1)
    model_version_delete(actor=owner, name="iris", version=1)
    assert not ModelAlias.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("change", ["create", "delete", "stage"])
def test_version_changes_move_the_model_last_updated_time(owner, change):
    make_model(owner, "iris")
    make_version(owner, "iris")
    past = _age_model("iris")
    if change == "create":
        make_version(owner, "iris")
    elif change == "delete":
        model_version_delete(actor=owner, name="iris", version=1)
    else:
        model_version_transition_stage(actor=owner, name="iris", version=1, stage="Staging")
    assert _updated_at("iris") > past


@pytest.mark.django_db
def test_transition_with_archive_existing_versions_archives_the_others_in_that_stage(owner):
    make_model(owner, "iris")
    for _ in range(4):
        make_version(owner, "iris")
    model_version_transition_stage(actor=owner, name="iris", version=1, stage="Production")
    model_version_transition_stage(actor=owner, name="iris", version=2, stage="Production")
    model_version_transition_stage(actor=owner, name="iris", version=3, stage="Staging")
    mv = model_version_transition_stage(actor=owner, name="iris", version=4, stage="production",
                                        archive_existing_versions=True)
    assert mv.current_stage == "Production"
    stages = dict(ModelVersion.objects.values_list("version", "current_stage"))
    assert stages == {1: "Archived", 2: "Archived", 3: "Staging", 4: "Production"}


@pytest.mark.django_db
def test_transition_without_archiving_keeps_the_others(owner):
    make_model(owner, "iris")
    make_version(owner, "iris")
    make_version(owner, "iris")
    model_version_transition_stage(actor=owner, name="iris", version=1, stage="Production")
    model_version_transition_stage(actor=owner, name="iris", version=2, stage="Production")
    assert set(ModelVersion.objects.values_list("current_stage", flat=True)) == {"Production"}


@pytest.mark.django_db
@pytest.mark.parametrize("stage", ["Prod", "", "Deleted", None, "Production\u202e"])
def test_unknown_stage_is_an_invalid_parameter(owner, stage):
    make_model(owner, "iris")
    make_version(owner, "iris")
    before = state_fingerprint()
    with pytest.raises(InvalidParameter, match="Staging"):
        model_version_transition_stage(actor=owner, name="iris", version=1, stage=stage)
    assert state_fingerprint() == before


@pytest.mark.django_db
def test_stages_are_refused_on_three_level_models_with_a_pointer_to_aliases(governed, owner):
    make_model(owner, "prod.ml_team.iris")
    make_version(owner, "prod.ml_team.iris")
    before = state_fingerprint()
    with pytest.raises(InvalidParameter, match="alias"):
        model_version_transition_stage(actor=owner, name="prod.ml_team.iris", version=1, stage="Production",
                                       archive_existing_versions=True)
    assert state_fingerprint() == before


@pytest.mark.django_db
@pytest.mark.parametrize("source", ["/etc/passwd", "file:///etc/passwd", "s3://bucket/model", "runs:/../../etc",
                                    "runs:/%2e%2e/x", "mlflow-artifacts:/../secret", "models:/", "", None,
                                    "runs:/abc/..%2f..%2fsecret", "runs:/ab\x00c/model"])
def test_hostile_sources_are_invalid_parameters_and_change_nothing(owner, source):
    make_model(owner, "iris")
    before = state_fingerprint()
    with pytest.raises(InvalidParameter):
        model_version_create(actor=owner, name="iris", source=source)
    assert state_fingerprint() == before


@pytest.mark.django_db
def test_source_run_that_does_not_exist_is_not_found(owner):
    make_model(owner, "iris")
    with pytest.raises(NotFound, match="Run"):
        model_version_create(actor=owner, name="iris", source="runs:/0123456789abcdef/model")
    assert RegisteredModel.objects.get(name="iris").last_version_number == 0


@pytest.mark.django_db
def test_run_id_must_match_the_source(owner):
    make_model(owner, "iris")
    with pytest.raises(InvalidParameter, match="does not match"):
        model_version_create(actor=owner, name="iris", source=run_source(), run_id=make_run().run_id)


@pytest.mark.django_db
def test_version_description_limit(owner):
    make_model(owner, "iris")
    make_version(owner, "iris", description="d" * 65536)
    before = state_fingerprint()
    with pytest.raises(InvalidParameter):
        model_version_update(actor=owner, name="iris", version=1, description="d" * 65537)
    with pytest.raises(InvalidParameter):
        make_version(owner, "iris", description="d" * 65537)
    assert state_fingerprint() == before


@pytest.mark.django_db
def test_version_tags_are_validated_on_create(owner):
    make_model(owner, "iris")
    with pytest.raises(InvalidParameter):
        make_version(owner, "iris", tags={"k": "v" * 5001})
    assert not ModelVersion.objects.exists()
    assert make_version(owner, "iris", tags={"k": "v"}).tags.get().value == "v"


@pytest.mark.django_db
@pytest.mark.parametrize("version", ["abc", "0", "-1", "1.5", "", None, str(2**63)])
def test_bad_version_numbers_are_invalid_parameters(owner, version):
    make_model(owner, "iris")
    make_version(owner, "iris")
    with pytest.raises(InvalidParameter):
        version_get(actor=owner, name="iris", version=version)
    with pytest.raises(InvalidParameter):
        model_version_update(actor=owner, name="iris", version=version, description="x")


@pytest.mark.django_db
def test_a_valid_int64_version_that_does_not_exist_is_not_found(owner):
    make_model(owner, "iris")
    make_version(owner, "iris")
    with pytest.raises(NotFound):
        version_get(actor=owner, name="iris", version="99999999999")


@pytest.mark.django_db
def test_missing_version_is_not_found(owner):
    make_model(owner, "iris")
    with pytest.raises(NotFound, match=r"version=7"):
        model_version_delete(actor=owner, name="iris", version=7)


@pytest.mark.django_db
@pytest.mark.parametrize("field,value", [("run_link", "http://x/\x00"), ("model_id", "m-" + "a" * 100),
                                         ("model_id", "m-a\x00")])
def test_hostile_optional_fields_are_invalid_parameters(owner, field, value):
    make_model(owner, "iris")
    before = state_fingerprint()
    with pytest.raises(InvalidParameter):
        make_version(owner, "iris", **{field: value})
    assert state_fingerprint() == before
