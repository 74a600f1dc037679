"""Fixtures for the browser UI tests: a governed three-level model with versions, signed-in clients per persona,
and a bulk model with hundreds of versions for query-count bounds."""
from __future__ import annotations

import pytest
from django.test import Client

from registry.models import ModelVersion, ModelVersionTag
from registry.services.aliases import alias_set
from registry.services.grants import grant_add
from registry.services.tags import model_tag_set, version_tag_set
from registry.services.versions import model_version_mark_ready
from tests.registry.factories import make_model, make_version

SIGNATURE = {
    "inputs": [{"type": "double", "name": "sepal_length", "required": True},
               {"type": "double", "name": "petal_width", "required": False}],
    "outputs": [{"type": "long", "name": "species", "required": True}],
    "params": None,
}
MODEL = "prod.ml_team.iris"


@pytest.fixture
def client_for(db):
    def make(user) -> Client:
        client = Client()
        client.force_login(user)
        return client

    return make


@pytest.fixture
def iris(governed, owner, reader):
    """`prod.ml_team.iris` owned by `owner`, two READY versions, alias Champion on v1, tags; `reader` has EXECUTE."""
    model = make_model(owner, MODEL, description="# Iris\nClassifies **iris** flowers.")
    for _ in range(2):
        mv = make_version(owner, MODEL)
        model_version_mark_ready(version_id=mv.pk, signature=SIGNATURE)
    alias_set(actor=owner, name=MODEL, alias="Champion", version=1)
    model_tag_set(actor=owner, name=MODEL, key="task", value="classification")
    version_tag_set(actor=owner, name=MODEL, version=1, key="validation_status", value="approved")
    grant_add(actor=owner, securable=model, principal=reader, privilege="EXECUTE")
    model.refresh_from_db()
    return model


@pytest.fixture
def big_model(governed, owner, reader):
    """A model with 300 versions (tags and aliases on many), for query-count bounds."""
    model = make_model(owner, "prod.ml_team.big")
    first = make_version(owner, "prod.ml_team.big")
    rows = [ModelVersion(model=model, version=n, source=first.source, run_id=first.run_id, status="READY",
                         storage_location=f"{model.storage_location}/versions/{n}", created_by=owner,
                         signature=SIGNATURE) for n in range(2, 301)]
    ModelVersion.objects.bulk_create(rows)
    model.last_version_number = 300
    model.save(update_fields=["last_version_number"])
    versions = list(ModelVersion.objects.filter(model=model))
    ModelVersionTag.objects.bulk_create(ModelVersionTag(version=mv, key="k", value=str(mv.version)) for mv in versions)
    for n in range(1, 10):
        alias_set(actor=owner, name="prod.ml_team.big", alias=f"a{n}x", version=n * 7)
    grant_add(actor=owner, securable=model, principal=reader, privilege="EXECUTE")
    return model
