"""Drafts of the "Generate" button: built only from what the current user may see, free of facts that go stale
on their own (version counts, latest version, alias targets, tags) and of other objects' names; and a copy says
that a generated description it carries describes the version (or model) it was copied from."""
from __future__ import annotations

import uuid

import pytest
from django.test import Client

from explorer.generators import generate_description
from registry.generated_descriptions import COPIED_NOTE, GENERATED_NOTE, copied_description
from registry.models import Grant, Metric, ModelVersion, Param, Privilege, RegisteredModel, Run
from registry.services.aliases import alias_set
from registry.services.catalogs import catalog_create, schema_create
from registry.services.copy import model_version_copy
from registry.services.grants import grant_add
from registry.services.models import registered_model_update
from registry.services.tags import model_tag_set, version_tag_set
from registry.services.tracking import experiment_create
from registry.services.versions import model_version_create, model_version_update
from tests.registry.factories import make_model, make_version

pytestmark = pytest.mark.django_db

SOURCE, COPY = "staging.ml_team.iris", "prod.ml_team.iris"
SIGNATURE = {"inputs": [{"name": "sepal_length", "type": "double"}], "outputs": [{"type": "long"}]}


def _ready(mv: ModelVersion) -> ModelVersion:
    ModelVersion.objects.filter(pk=mv.pk).update(status="READY", signature=SIGNATURE)
    mv.refresh_from_db()
    return mv


@pytest.fixture
def promoted(admin, owner, reader, governed):
    """staging.ml_team.iris v1 trained in `owner`'s private experiment (param `depth`, metric `accuracy`), copied
    to prod.ml_team.iris v1; `reader` may read prod.ml_team.iris only."""
    catalog = catalog_create(actor=admin, name="staging")
    schema = schema_create(actor=admin, catalog_name="staging", name="ml_team")
    for securable, privilege in ((catalog, "USE CATALOG"), (schema, "USE SCHEMA"), (schema, "CREATE MODEL")):
        grant_add(actor=admin, securable=securable, principal=owner, privilege=privilege)
    experiment = experiment_create(actor=owner, name="iris-private")
    run = Run.objects.create(run_id=uuid.uuid4().hex, experiment=experiment, name="train-secret",
                             artifact_uri=f"mlflow-artifacts:/{experiment.pk}/x/artifacts")
    Param.objects.create(run=run, key="depth", value="7")
    Metric.objects.create(run=run, key="accuracy", value=0.97, timestamp=1, step=0)
    make_model(owner, SOURCE)
    source = _ready(make_version(owner, SOURCE, source=f"runs:/{run.run_id}/model"))
    make_model(owner, COPY)
    copy = _ready(model_version_copy(actor=owner, source_name=SOURCE, source_version=1, destination_name=COPY))
    Grant.objects.create(privilege=Privilege.EXECUTE, user=reader, model=copy.model)
    return {"source": source, "copy": copy, "run": run}


def _named_nowhere(text: str, *names: str) -> None:
    for name in names:
        assert name not in text, f"{name!r} in {text!r}"


# ---- what a draft may say ---------------------------------------------------------------------------------

def test_a_readers_draft_holds_nothing_it_may_not_see(promoted, reader):
    copy = promoted["copy"]
    for obj in (copy, copy.model):
        draft = generate_description(obj, actor=reader)
        assert "sepal_length" in draft  # what it may see is used
        _named_nowhere(draft, "staging", promoted["run"].run_id, "train-secret", "depth", "accuracy", "0.97")


def test_the_owners_draft_uses_the_run_but_names_no_other_object(promoted, owner):
    # The saved text is read by everyone who may read this model: it must not name the source model or run.
    draft = generate_description(promoted["copy"], actor=owner)
    assert "`depth=7`" in draft and "scored 0.97 accuracy" in draft
    _named_nowhere(draft, "staging", promoted["run"].run_id, "train-secret")


def test_drafts_hold_no_facts_that_go_stale(promoted, owner):
    alias_set(actor=owner, name=COPY, alias="Champion", version=1)
    model_tag_set(actor=owner, name=COPY, key="stage_note", value="pending-review")
    version_tag_set(actor=owner, name=COPY, version=1, key="validation_status", value="pending")
    _ready(model_version_copy(actor=owner, source_name=SOURCE, source_version=1, destination_name=COPY))
    model = RegisteredModel.objects.get(pk=promoted["copy"].model_id)
    model_draft = generate_description(model, actor=owner)
    version_draft = generate_description(promoted["copy"], actor=owner)
    for draft in (model_draft, version_draft):
        _named_nowhere(draft, "Champion", "pending", "2 versions", "latest", COPY, "Version 1 of")
    # A model's draft pins what it says to a version number, which never changes meaning within the model.
    assert "Version 2:" in model_draft and "sepal_length" in model_draft


def test_every_generator_gets_the_generated_note(promoted, owner, settings):
    settings.DESCRIPTION_GENERATOR = "tests.explorer.test_generated_descriptions.plain_generator"
    assert generate_description(promoted["copy"], actor=owner) == "Plain words.\n\n" + GENERATED_NOTE["version"]
    assert generate_description(promoted["copy"].model, actor=owner).endswith(GENERATED_NOTE["model"])


def plain_generator(obj, *, actor):
    return "Plain words."


# ---- what a copy does with it -----------------------------------------------------------------------------

def _generated_on_source(promoted, owner) -> str:
    text = generate_description(promoted["source"], actor=owner)
    model_version_update(actor=owner, name=SOURCE, version=1, description=text)
    return text


def test_a_copy_says_its_generated_description_is_the_sources(promoted, owner):
    text = _generated_on_source(promoted, owner)
    copy = model_version_copy(actor=owner, source_name=SOURCE, source_version=1, destination_name=COPY)
    assert GENERATED_NOTE["version"] not in copy.description
    assert copy.description.endswith(COPIED_NOTE["version"])
    assert copy.description.replace(COPIED_NOTE["version"], GENERATED_NOTE["version"]) == text


def test_the_mlflow_clients_copy_path_says_so_too(promoted, owner):
    # MlflowClient.copy_model_version creates the version with the source's description and a models:/ source.
    text = _generated_on_source(promoted, owner)
    copy = model_version_create(actor=owner, name=COPY, source=f"models:/{SOURCE}/1", description=text)
    assert copy.description.endswith(COPIED_NOTE["version"])


def test_a_copy_into_a_new_model_marks_the_models_generated_description(promoted, owner):
    source_model = promoted["source"].model
    registered_model_update(actor=owner, name=SOURCE, description=generate_description(source_model, actor=owner))
    copy = model_version_copy(actor=owner, source_name=SOURCE, source_version=1,
                              destination_name="staging.ml_team.iris_new", create_destination=True)
    assert copy.model.description.endswith(COPIED_NOTE["model"])


def test_written_descriptions_are_copied_as_they_are(promoted, owner):
    model_version_update(actor=owner, name=SOURCE, version=1, description="Hand-written: classifies iris flowers.")
    copy = model_version_copy(actor=owner, source_name=SOURCE, source_version=1, destination_name=COPY)
    assert copy.description == "Hand-written: classifies iris flowers."


def test_the_longer_note_never_makes_a_copy_too_long(settings):
    settings.REGISTRY_MAX_DESCRIPTION_LENGTH = 200
    text = "x" * (200 - len(GENERATED_NOTE["version"]) - 2) + "\n\n" + GENERATED_NOTE["version"]
    assert len(text) == 200
    copied = copied_description(text, "version")
    assert len(copied) == 200 and copied.endswith(COPIED_NOTE["version"])


def test_the_dialog_shows_the_draft_with_its_note(promoted, owner):
    client = Client()
    client.force_login(owner)
    html = client.post(f"/models/{COPY}/versions/1/description/", {"op": "generate"}).content.decode()
    assert "sepal_length" in html and "Generated from the metadata of this version." in html
