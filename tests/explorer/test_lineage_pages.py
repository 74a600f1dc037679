"""Lineage tabs and the table page: the graph as SVG with the same content as a table, links to pages, and
restricted nodes that reveal no names."""
import json

import pytest

from registry.models import Dataset, Experiment, ModelVersion, Run, RunInput
from registry.services.catalogs import catalog_create, schema_create
from registry.services.grants import grant_add
from registry.services.versions import model_version_mark_ready
from tests.explorer.conftest import MODEL, SIGNATURE
from tests.registry.factories import make_model, make_run, make_version

pytestmark = pytest.mark.django_db


def _trained_on_table(run: Run, table: str = "prod.ml_team.iris_table", version: int = 3) -> None:
    dataset = Dataset.objects.create(
        experiment=run.experiment, name="iris", digest="abc123", source_type="delta_table",
        source=json.dumps({"delta_table_name": table, "delta_table_version": version}))
    RunInput.objects.create(run=run, dataset=dataset, tags=[{"key": "mlflow.data.context", "value": "training"}])


@pytest.fixture
def lineage_model(governed, owner):
    run = make_run()
    _trained_on_table(run)
    make_model(owner, MODEL)
    mv = make_version(owner, MODEL, source=f"runs:/{run.run_id}/model")
    model_version_mark_ready(version_id=mv.pk, signature=SIGNATURE)
    return mv


def test_version_lineage_tab_draws_the_table_upstream_with_its_version(client_for, owner, lineage_model):
    response = client_for(owner).get(f"/models/{MODEL}/versions/1/lineage/")
    assert response.status_code == 200
    html = response.content.decode()
    assert "<svg" in html and "prod.ml_team.iris_table" in html
    assert "table version 3" in html
    assert 'href="/tables/prod.ml_team.iris_table/"' in html
    assert "training" in html


def test_model_lineage_tab_shows_the_chosen_version(client_for, owner, lineage_model):
    mv2 = make_version(owner, MODEL)
    model_version_mark_ready(version_id=mv2.pk, signature=SIGNATURE)
    latest = client_for(owner).get(f"/models/{MODEL}/lineage/").content.decode()
    assert "version 2" in latest
    first = client_for(owner).get(f"/models/{MODEL}/lineage/?version=1&depth=2&direction=upstream").content.decode()
    assert "prod.ml_team.iris_table" in first


def test_table_page_lists_runs_and_versions_that_used_it(client_for, owner, lineage_model):
    response = client_for(owner).get("/tables/prod.ml_team.iris_table/")
    assert response.status_code == 200
    html = response.content.decode()
    assert f"{MODEL} v1" in html and "training" in html and "<svg" in html


def test_table_page_of_an_unknown_or_hidden_table_is_404(client_for, owner, outsider, lineage_model):
    assert client_for(owner).get("/tables/prod.ml_team.no_such_table/").status_code == 404
    Experiment.objects.filter(pk=0).update(open_to_all=False)
    assert client_for(outsider).get("/tables/prod.ml_team.iris_table/").status_code == 404


def test_a_copy_reader_sees_the_source_as_restricted_without_its_name(admin, client_for, owner, outsider,
                                                                     lineage_model):
    catalog = catalog_create(actor=admin, name="staging")
    schema = schema_create(actor=admin, catalog_name="staging", name="ml_team")
    for privilege, securable in (("USE CATALOG", catalog), ("USE SCHEMA", schema), ("CREATE MODEL", schema)):
        grant_add(actor=admin, securable=securable, principal=owner, privilege=privilege)
    make_model(owner, "staging.ml_team.copy")
    copy = make_version(owner, "staging.ml_team.copy", source=f"models:/{MODEL}/1")
    model_version_mark_ready(version_id=copy.pk, signature=SIGNATURE)
    grant_add(actor=admin, securable=catalog, principal=outsider, privilege="USE CATALOG")
    grant_add(actor=admin, securable=schema, principal=outsider, privilege="USE SCHEMA")
    grant_add(actor=owner, securable=copy.model, principal=outsider, privilege="EXECUTE")
    html = client_for(outsider).get("/models/staging.ml_team.copy/versions/1/lineage/").content.decode()
    assert "Restricted" in html
    assert "prod.ml_team" not in html
    assert ModelVersion.objects.filter(model__name="iris").exists()


@pytest.mark.parametrize("query", ["?depth=abc", "?depth=-5", "?direction=sideways", "?version=999"])
def test_odd_lineage_parameters_fall_back_to_defaults(client_for, owner, lineage_model, query):
    assert client_for(owner).get(f"/models/{MODEL}/lineage/{query}").status_code == 200


def test_search_finds_tables_used_as_inputs(client_for, owner, outsider, lineage_model):
    html = client_for(owner).get("/search/?q=iris_table").content.decode()
    assert 'href="/tables/prod.ml_team.iris_table/"' in html
    Experiment.objects.filter(pk=0).update(open_to_all=False)
    assert "iris_table" not in client_for(outsider).get("/search/?q=iris_table").content.decode().split("</form>")[1]
