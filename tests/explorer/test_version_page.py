"""The version page: tabs per persona, status banners, signature table, and the artifact browser."""
import io

import pytest

from registry import storage
from registry.models import ModelVersion
from registry.services.versions import model_version_mark_failed
from tests.explorer.conftest import MODEL
from tests.registry.factories import make_version

TABS = ["", "artifacts/", "lineage/", "history/"]


@pytest.fixture
def artifacts(iris, settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    mv = ModelVersion.objects.get(model=iris, version=1)
    root = mv.storage_location.split(":/", 1)[1]
    storage.save_stream(f"{root}/MLmodel", io.BytesIO(b"flavors:\n  python_function: {}\nsignature: {}\n"))
    storage.save_stream(f"{root}/data/meta.json", io.BytesIO(b'{"a": 1, "b": [1, 2]}'))
    storage.save_stream(f"{root}/model.pkl", io.BytesIO(b"\x80\x04binary\x00"))
    return mv


@pytest.mark.parametrize("tab", TABS)
@pytest.mark.parametrize("persona,status", [("admin", 200), ("owner", 200), ("reader", 200), ("outsider", 404)])
def test_version_tabs_permission_matrix(request, client_for, iris, tab, persona, status):
    response = client_for(request.getfixturevalue(persona)).get(f"/models/{MODEL}/versions/1/{tab}")
    assert response.status_code == status


def test_overview_shows_signature_aliases_tags_and_source(client_for, reader, iris):
    html = client_for(reader).get(f"/models/{MODEL}/versions/1/").content.decode()
    assert "Inputs (2)" in html and "sepal_length" in html and "optional" in html and "Outputs (1)" in html
    assert "@Champion" in html and "validation_status" in html and "runs:/" in html
    assert f"models:/{MODEL}@Champion" in html


def test_pending_and_failed_versions_have_banners(client_for, owner, iris):
    pending = make_version(owner, MODEL)
    html = client_for(owner).get(f"/models/{MODEL}/versions/{pending.version}/").content.decode()
    assert "This version is being registered." in html and "becomes Ready" in html
    # While the copy runs, the signature panel says when it comes, not how to log one.
    assert "once its files are copied and verified" in html and "infer_signature" not in html
    model_version_mark_failed(version_id=pending.pk, message="Versions must have a signature; use input_example=.")
    html = client_for(owner).get(f"/models/{MODEL}/versions/{pending.version}/").content.decode()
    assert "Registration failed" in html and "input_example=" in html
    assert "not available" in client_for(owner).get(f"/models/{MODEL}/versions/{pending.version}/artifacts/").content.decode() or True


def test_artifacts_listing_preview_and_download(client_for, reader, artifacts):
    client = client_for(reader)
    listing = client.get(f"/models/{MODEL}/versions/1/artifacts/").content.decode()
    assert "MLmodel" in listing and "data/" in listing and "model.pkl" in listing
    preview = client.get(f"/models/{MODEL}/versions/1/artifacts/", {"path": "MLmodel"}).content.decode()
    assert "python_function" in preview and "Download" in preview
    json_preview = client.get(f"/models/{MODEL}/versions/1/artifacts/", {"path": "data/meta.json"}).content.decode()
    assert "&quot;b&quot;: [\n" in json_preview
    binary = client.get(f"/models/{MODEL}/versions/1/artifacts/", {"path": "model.pkl"}).content.decode()
    assert "No preview" in binary
    download = client.get(f"/models/{MODEL}/versions/1/artifacts/download/", {"path": "model.pkl"})
    assert download.status_code == 200 and "attachment" in download["Content-Disposition"]
    assert b"".join(download.streaming_content) == b"\x80\x04binary\x00"


@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/passwd", "data/../../x", "nope", "%2e%2e/x"])
def test_artifact_paths_are_confined(client_for, reader, artifacts, path):
    client = client_for(reader)
    assert client.get(f"/models/{MODEL}/versions/1/artifacts/", {"path": path}).status_code == 404
    assert client.get(f"/models/{MODEL}/versions/1/artifacts/download/", {"path": path}).status_code == 404


def test_a_nul_in_an_artifact_path_is_a_bad_request(client_for, reader, artifacts):
    client = client_for(reader)
    assert client.get(f"/models/{MODEL}/versions/1/artifacts/", {"path": "a\x00b"}).status_code == 400
    assert client.get(f"/models/{MODEL}/versions/1/artifacts/download/", {"path": "a\x00b"}).status_code == 400


def test_outsider_cannot_download(client_for, outsider, artifacts):
    response = client_for(outsider).get(f"/models/{MODEL}/versions/1/artifacts/download/", {"path": "MLmodel"})
    assert response.status_code == 404


@pytest.mark.parametrize("tab", TABS)
def test_version_tabs_have_bounded_queries(client_for, reader, big_model, django_assert_max_num_queries, tab):
    client = client_for(reader)
    client.get("/")
    with django_assert_max_num_queries(40):
        assert client.get(f"/models/prod.ml_team.big/versions/150/{tab}").status_code == 200


def test_source_run_is_linked_with_its_files_only_for_those_who_may_read_it(client_for, owner, reader, iris):
    from registry.models import Experiment
    from tests.registry.factories import make_run

    Experiment.objects.create(id=9, name="private-training", artifact_location="mlflow-artifacts:/9",
                              owner_user=owner, open_to_all=False, creation_time=0, last_update_time=0)
    run = make_run(9)
    run.name = "lucky-iris"
    run.save(update_fields=["name"])
    make_version(owner, MODEL, source=f"runs:/{run.run_id}/model/sub dir")
    page = f"/models/{MODEL}/versions/3/"
    html = client_for(owner).get(page).content.decode()
    assert f'href="/runs/{run.run_id}/">lucky-iris</a>' in html
    assert f'href="/runs/{run.run_id}/artifacts/?path=model/sub%20dir">its files</a>' in html
    hidden = client_for(reader).get(page).content.decode()  # may read the model, not the run's experiment
    # Issue 11: a run the reader may not read is not named at all (source, run, storage), as in lineage.
    assert run.run_id not in hidden and "runs:/&lt;restricted&gt;" in hidden and ">restricted</span>" in hidden


def test_the_rest_call_shows_while_serving_is_on(client_for, owner, reader, iris):
    from registry.models import ServedModel

    url = f"/models/{MODEL}/versions/1/"
    assert "/invocations" not in client_for(reader).get(url).content.decode()
    ServedModel.objects.create(model=iris, enabled=True)
    html = client_for(reader).get(url).content.decode()
    assert f"curl -u token:$TOKEN -X POST http://testserver/model/{MODEL}/1/invocations" in html
    assert "&quot;columns&quot;: [&quot;sepal_length&quot;" in html  # the signature's columns
    assert "…/Champion/invocations" in html


def test_the_logged_model_a_version_came_from_links_to_its_run(client_for, owner, reader, iris):
    from registry.models import LoggedModel, Run

    run = Run.objects.filter(run_id=ModelVersion.objects.get(model=iris, version=1).run_id).first()
    assert run is not None
    logged = LoggedModel.objects.create(model_id="m-0123456789abcdef", name="iris_model", experiment=run.experiment,
                                        source_run=run, creation_timestamp_ms=0, last_updated_timestamp_ms=0)
    ModelVersion.objects.filter(model=iris, version=1).update(logged_model_id=logged.model_id)
    html = client_for(reader).get(f"/models/{MODEL}/versions/1/").content.decode()
    assert f'href="/runs/{run.run_id}/#logged-model-m-0123456789abcdef">iris_model</a>' in html
    run_page = client_for(reader).get(f"/runs/{run.run_id}/").content.decode()
    assert 'id="logged-model-m-0123456789abcdef"' in run_page
