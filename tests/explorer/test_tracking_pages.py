"""Tracking pages: experiments, an experiment's runs, a run (Overview, Lineage) and the Register-model dialog."""
from __future__ import annotations

import json

import pytest
from django.urls import reverse

from registry.models import (
    AuditEvent,
    Dataset,
    Experiment,
    Job,
    LoggedModel,
    Metric,
    ModelVersion,
    Param,
    RegisteredModel,
    RunInput,
    RunTag,
)
from tests.registry.factories import make_run, state_fingerprint

pytestmark = pytest.mark.django_db


def _private(owner) -> Experiment:
    return Experiment.objects.create(id=5, name="private", artifact_location="mlflow-artifacts:/5", owner_user=owner,
                                     open_to_all=False, creation_time=0, last_update_time=0)


def _logged_model(run, model_id="m-abc123", name="clf") -> LoggedModel:
    return LoggedModel.objects.create(
        model_id=model_id, experiment_id=run.experiment_id, name=name, source_run=run,
        status="LOGGED_MODEL_READY", artifact_uri=f"mlflow-artifacts:/{run.experiment_id}/models/{model_id}/artifacts",
        creation_timestamp_ms=1, last_updated_timestamp_ms=1)


def _rich_run(experiment_id: int, *, keys: int = 3, points: int = 5, name="rich"):
    run = make_run(experiment_id)
    run.name, run.status, run.start_time, run.user_id = name, "FINISHED", 1_700_000_000_000, "alice"
    run.save()
    Param.objects.bulk_create(Param(run=run, key=f"p{k}", value=str(k)) for k in range(keys))
    Metric.objects.bulk_create(Metric(run=run, key=f"m{k}", value=float(s * (k + 1)), timestamp=s, step=s)
                               for k in range(keys) for s in range(points))
    RunTag.objects.create(run=run, key="mlflow.source.name", value="train.py")
    table, _ = Dataset.objects.get_or_create(
        experiment_id=experiment_id, name="iris_train", digest="d1", source_type="delta",
        source=json.dumps({"delta_table_name": "prod.ml_team.iris_data", "version": 3}))
    files, _ = Dataset.objects.get_or_create(experiment_id=experiment_id, name="csvdata", digest="d2",
                                             source_type="http", source=json.dumps({"url": "https://example.com/x.csv"}))
    RunInput.objects.create(run=run, dataset=table, tags=[{"key": "mlflow.data.context", "value": "training"}])
    RunInput.objects.create(run=run, dataset=files, tags=[{"key": "mlflow.data.context", "value": "evaluation"}])
    _logged_model(run, model_id=f"m-{run.run_id[:10]}")
    return run


# Experiments ----------------------------------------------------------------------------------------------

def test_experiments_list_shows_only_readable(client_for, owner, outsider):
    _private(owner)
    make_run(0)
    body = client_for(owner).get(reverse("explorer:experiments")).content.decode()
    assert "private" in body and "Default" in body
    out = client_for(outsider).get(reverse("explorer:experiments"))
    assert out.status_code == 200
    assert "private" not in out.content.decode() and "Default" in out.content.decode()


def test_experiments_list_pages(client_for, owner):
    Experiment.objects.bulk_create(Experiment(id=100 + n, name=f"exp-{n}", artifact_location=f"mlflow-artifacts:/{n}",
                                              owner_user=owner, creation_time=n, last_update_time=n)
                                   for n in range(30))
    client = client_for(owner)
    first = client.get(reverse("explorer:experiments")).content.decode()
    assert "Page 1 of 2" in first and "exp-29" in first
    second = client.get(reverse("explorer:experiments") + "?page=2").content.decode()
    assert "exp-0<" in second
    assert client.get(reverse("explorer:experiments") + "?page=junk&page_size=x").status_code == 200


def test_experiment_page_owner_outsider_and_bad_ids(client_for, owner, outsider):
    _private(owner)
    _rich_run(5)
    url = reverse("explorer:experiment", args=["5"])
    body = client_for(owner).get(url).content.decode()
    assert "rich" in body and "p0" in body and "m2" in body and "FINISHED" in body
    assert client_for(outsider).get(url).status_code == 404
    for bad in ("999", "abc", "-1", "9" * 30):
        assert client_for(owner).get(reverse("explorer:experiment", args=[bad])).status_code == 404


def test_experiment_page_sorts_bounds_columns_and_pages(client_for, owner):
    _private(owner)
    for n in range(30):
        run = make_run(5)
        run.name, run.start_time = f"run-{n:02d}", 1000 + n
        run.save()
        Param.objects.bulk_create(Param(run=run, key=f"k{n:02d}", value="v") for _ in range(1))
    client = client_for(owner)
    url = reverse("explorer:experiment", args=["5"])
    desc = client.get(url).content.decode()
    assert desc.index("run-29") < desc.index("run-28") and "run-00" not in desc
    asc = client.get(url + "?order=asc").content.decode()
    assert asc.index("run-00") < asc.index("run-01") and "run-29" not in asc
    assert asc.count('class="param-col"') == 10
    assert client.get(url + "?order=sideways&page=99").status_code == 200


# Runs -----------------------------------------------------------------------------------------------------

def test_run_overview_owner_outsider_and_bad_ids(client_for, owner, outsider):
    _private(owner)
    run = _rich_run(5)
    url = reverse("explorer:run", args=[run.run_id])
    response = client_for(owner).get(url)
    body = response.content.decode()
    assert response.status_code == 200
    assert "<polyline" in body and "p1" in body and "mlflow.source.name" in body
    assert reverse("explorer:table", args=["prod.ml_team.iris_data"]) in body and "training" in body
    assert "csvdata" in body and "evaluation" in body
    assert f"m-{run.run_id[:10]}" in body and "LOGGED_MODEL_READY" in body
    assert reverse("explorer:run_register", args=[run.run_id]) in body
    assert reverse("explorer:run_lineage", args=[run.run_id]) in body
    for u in (url, reverse("explorer:run_lineage", args=[run.run_id]), reverse("explorer:run_register", args=[run.run_id])):
        assert client_for(outsider).get(u).status_code == 404
    for bad in ("nope", "x" * 40, "%00"):
        assert client_for(owner).get(reverse("explorer:run", args=[bad])).status_code == 404


def test_run_lineage_tab(client_for, owner):
    _private(owner)
    run = _rich_run(5)
    response = client_for(owner).get(reverse("explorer:run_lineage", args=[run.run_id]) + "?depth=junk&direction=x")
    assert response.status_code == 200
    assert "<svg" in response.content.decode()


def test_run_page_query_count_is_bounded(client_for, owner, django_assert_max_num_queries):
    _private(owner)
    small = _rich_run(5, keys=2, points=3, name="small")
    big = _rich_run(5, keys=40, points=300, name="big")
    client = client_for(owner)
    client.get(reverse("explorer:run", args=[small.run_id]))
    with django_assert_max_num_queries(25) as ctx:
        client.get(reverse("explorer:run", args=[small.run_id]))
    small_count = len(ctx.captured_queries)
    with django_assert_max_num_queries(small_count) as ctx:
        body = client.get(reverse("explorer:run", args=[big.run_id])).content.decode()
    assert body.count("<polyline") == 20


def test_sparkline_points():
    from explorer.views.tracking import sparkline

    assert sparkline([]) == "" and sparkline([1.0]) == "" and sparkline([None, 2.0]) == ""
    points = sparkline([0.0, 1.0, 0.5]).split()
    assert len(points) == 3 and points[0].startswith("0.0,") and points[-1].startswith("120.0,")
    assert sparkline([3.0, 3.0]) != ""


# Register model ----------------------------------------------------------------------------------------------

def test_register_dialog_get_renders_select(client_for, owner):
    run = make_run(0)
    lm = _logged_model(run)
    client = client_for(owner)
    body = client.get(reverse("explorer:run_register", args=[run.run_id])).content.decode()
    assert lm.model_id in body and 'name="name"' in body
    partial = client.get(reverse("explorer:run_register", args=[run.run_id]), HTTP_HX_REQUEST="true")
    assert "<html" not in partial.content.decode() and lm.model_id in partial.content.decode()


def test_register_workspace_model_version_ready(client_for, owner):
    run = make_run(0)
    lm = _logged_model(run)
    response = client_for(owner).post(reverse("explorer:run_register", args=[run.run_id]),
                                      {"logged_model": lm.model_id, "name": "iris_ws"})
    mv = ModelVersion.objects.get(model__name="iris_ws")
    assert response.status_code == 302
    assert response["Location"] == reverse("explorer:version", kwargs={"name": "iris_ws", "version": 1})
    assert mv.status == "READY" and mv.source == f"models:/{lm.model_id}"
    assert mv.run_id == run.run_id and mv.logged_model_id == lm.model_id
    # A second registration to the same (now existing) model adds version 2.
    client_for(owner).post(reverse("explorer:run_register", args=[run.run_id]),
                           {"logged_model": lm.model_id, "name": "iris_ws"})
    assert ModelVersion.objects.filter(model__name="iris_ws").count() == 2


def test_register_three_level_version_pending(client_for, owner, governed):
    run = make_run(0)
    lm = _logged_model(run)
    response = client_for(owner).post(reverse("explorer:run_register", args=[run.run_id]),
                                      {"logged_model": lm.model_id, "name": "prod.ml_team.fresh"},
                                      HTTP_HX_REQUEST="true")
    assert response.status_code == 204
    assert response["HX-Redirect"] == reverse("explorer:version", kwargs={"name": "prod.ml_team.fresh", "version": 1})
    mv = ModelVersion.objects.get(model__name="fresh")
    assert mv.status == "PENDING_REGISTRATION"
    assert Job.objects.filter(model_version=mv, kind=Job.Kind.REGISTER).exists()
    page = client_for(owner).get(response["HX-Redirect"]).content.decode()
    assert "This version is being registered." in page


@pytest.mark.parametrize("name", ["prod.ml_team.theirs", "a.b", "a/b", "prod..x", "x" * 600])
def test_refused_registration_shows_form_error_and_changes_nothing(client_for, owner, outsider, governed, name):
    run = make_run(0)  # the default experiment: everyone may read the run
    lm = _logged_model(run)
    before = state_fingerprint()
    versions = ModelVersion.objects.count()
    response = client_for(outsider).post(reverse("explorer:run_register", args=[run.run_id]),
                                         {"logged_model": lm.model_id, "name": name})
    assert response.status_code == 200
    assert 'class="error"' in response.content.decode()
    assert state_fingerprint() == before and ModelVersion.objects.count() == versions


def test_register_unknown_logged_model_is_a_form_error(client_for, owner):
    run = make_run(0)
    _logged_model(run)
    other = _logged_model(make_run(0), model_id="m-other1")
    before = state_fingerprint()
    response = client_for(owner).post(reverse("explorer:run_register", args=[run.run_id]),
                                      {"logged_model": other.model_id, "name": "ws_model"})
    assert response.status_code == 200 and 'class="error"' in response.content.decode()
    assert state_fingerprint() == before


def test_register_version_refused_after_model_created_is_taken_back(client_for, owner):
    """The model is created in the same request; when its version is refused, neither exists (one transaction),
    and the refusal is audited."""
    run = make_run(0)
    lm = _logged_model(run)
    lm.artifact_uri = "s3://elsewhere/model"  # not a managed location: the version service refuses it
    lm.save()
    response = client_for(owner).post(reverse("explorer:run_register", args=[run.run_id]),
                                      {"logged_model": lm.model_id, "name": "ws_orphan"})
    assert response.status_code == 200 and 'class="error"' in response.content.decode()
    assert not RegisteredModel.objects.filter(name="ws_orphan").exists()
    assert AuditEvent.objects.filter(action="model_version.create", outcome=AuditEvent.Outcome.FAILED).exists()
    # Rolled back, not deleted afterwards: no trace of a model that never came to be.
    assert not AuditEvent.objects.filter(action__startswith="registered_model.", object_name__contains="ws_orphan",
                                         outcome=AuditEvent.Outcome.SUCCESS).exists()


def test_experiments_nav_link(client_for, owner):
    assert reverse("explorer:experiments") in client_for(owner).get(reverse("explorer:home")).content.decode()


def test_run_page_shows_what_each_logged_model_was_registered_as_and_registers_one_directly(client_for, owner,
                                                                                            reader):
    from tests.registry.factories import make_model, make_version

    run = make_run(0)
    first, second = _logged_model(run), _logged_model(run, model_id="m-second2", name="second")
    make_model(owner, "mine")  # a workspace model only its owner may read
    make_version(owner, "mine", source=f"models:/{first.model_id}", run_id=run.run_id, model_id=first.model_id)
    page = reverse("explorer:run", args=[run.run_id])
    register = reverse("explorer:run_register", args=[run.run_id])
    html = client_for(owner).get(page).content.decode()
    assert 'href="/models/mine/versions/1/">mine v1</a>' in html and "Not registered" in html
    assert f'href="{register}?logged_model={second.model_id}"' in html
    # The reader may see the run but not the model: no trace of it.
    assert "mine v1" not in client_for(reader).get(page).content.decode()
    dialog = client_for(owner).get(register, {"logged_model": second.model_id}).content.decode()
    assert f'<option value="{second.model_id}" selected>' in dialog
    assert '<datalist id="register-model-names"><option value="mine">' in dialog


@pytest.mark.parametrize("name, says", [
    ("", "Pick a model you can see"),
    ("mine", "Registers version 1 of mine."),
    ("prod.ml_team.fresh", "Creates the three-level model prod.ml_team.fresh (needs CREATE MODEL on prod.ml_team)"),
    ("brand_new", "Creates the workspace-registry model brand_new"),
    ("a.b", "Use catalog.schema.model"),
    ("<script>x</script>", "&lt;script&gt;"),
])
def test_register_dialog_says_what_a_name_would_do(client_for, owner, reader, name, says):
    from tests.registry.factories import make_model

    run = make_run(0)
    _logged_model(run)
    make_model(owner, "mine")
    url = reverse("explorer:run_register", args=[run.run_id])
    hint = client_for(owner).get(url, {"hint": "1", "name": name}, HTTP_HX_REQUEST="true")
    assert hint.status_code == 200 and says in hint.content.decode() and 'id="register-hint"' in hint.content.decode()
    if name == "mine":  # a model the reader may not see reads as a new one, never as "exists"
        assert "Creates the workspace-registry model mine" in client_for(reader).get(
            url, {"hint": "1", "name": name}).content.decode()
