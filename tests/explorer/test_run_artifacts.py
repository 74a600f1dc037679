"""A run's Artifacts tab: browse, preview and download the run's artifacts, confined to the run's artifact root
and shown only to those who may read the run."""
from __future__ import annotations

import io
import os

import pytest
from django.urls import reverse

from registry import storage
from registry.models import Experiment
from registry.services.grants import grant_add
from tests.registry.factories import make_run

pytestmark = pytest.mark.django_db
PERSONAS = [("admin", 200), ("owner", 200), ("reader", 200), ("outsider", 404)]


@pytest.fixture
def store(settings, tmp_path):
    settings.ARTIFACT_ROOT = tmp_path / "artifacts"
    return tmp_path / "artifacts"


@pytest.fixture
def experiment(owner, reader):
    exp = Experiment.objects.create(id=5, name="private", artifact_location="mlflow-artifacts:/5", owner_user=owner,
                                    open_to_all=False, creation_time=0, last_update_time=0)
    grant_add(actor=owner, securable=exp, principal=reader, privilege="EXECUTE")
    return exp


@pytest.fixture
def run(store, experiment):
    run = make_run(5)
    root = f"5/{run.run_id}/artifacts"
    storage.save_stream(f"{root}/model/MLmodel", io.BytesIO(b"flavors:\n  sklearn:\n    pickled_model: model.pkl\n"))
    storage.save_stream(f"{root}/model/model.pkl", io.BytesIO(b"\x80\x04binary\x00"))
    storage.save_stream(f"{root}/metrics.json", io.BytesIO(b'{"accuracy": 0.95, "folds": [1, 2]}'))
    storage.save_stream(f"{root}/notes.txt", io.BytesIO("héllo from the run\n".encode()))
    storage.save_stream(f"{root}/big.log", io.BytesIO(b"x" * (300 * 1024)))
    storage.save_stream(f"{root}/odd dir & more/a+b.txt", io.BytesIO(b"odd"))
    # What must stay out of reach: a sibling run's artifacts and the run's own directory outside artifacts/.
    sibling = make_run(5)
    storage.save_stream(f"5/{sibling.run_id}/artifacts/secret.txt", io.BytesIO(b"sibling secret"))
    storage.save_stream(f"5/{run.run_id}/outside.txt", io.BytesIO(b"outside secret"))
    return run


def _page(run) -> str:
    return reverse("explorer:run_artifacts", args=[run.run_id])


def _download(run) -> str:
    return reverse("explorer:run_artifact_download", args=[run.run_id])


def test_listing_shows_names_sizes_and_directories(client_for, reader, run):
    response = client_for(reader).get(_page(run))
    html = response.content.decode()
    assert response.status_code == 200
    assert "model/</a>" in html and 'class="folder-icon"' in html and "metrics.json" in html and "notes.txt" in html
    assert "300.0\xa0KB" in html  # big.log, with its size
    assert f'href="{_download(run)}?path=notes.txt" download' in html
    assert "outside.txt" not in html and "secret" not in html


def test_directories_navigate_with_breadcrumbs(client_for, reader, run):
    client = client_for(reader)
    html = client.get(_page(run), {"path": "model"}).content.decode()
    assert "MLmodel" in html and "model.pkl" in html and "notes.txt" not in html
    assert f'href="{_page(run)}">artifacts</a>' in html and f'href="{_page(run)}?path=model" aria-current' in html
    assert 'href="?path=model/MLmodel"' in html  # entries open relative to the tab
    odd = client.get(_page(run)).content.decode()
    assert 'href="?path=odd%20dir%20%26%20more"' in odd
    nested = client.get(_page(run), {"path": "odd dir & more"}).content.decode()
    assert "a+b.txt" in nested and f'href="{_page(run)}?path=odd+dir+%26+more"' in nested


def test_previews_text_mlmodel_and_json(client_for, reader, run):
    client = client_for(reader)
    mlmodel = client.get(_page(run), {"path": "model/MLmodel"}).content.decode()
    assert "pickled_model: model.pkl" in mlmodel and '<pre class="preview">' in mlmodel
    assert f'href="{_download(run)}?path=model/MLmodel" download' in mlmodel
    assert "&quot;folds&quot;: [\n" in client.get(_page(run), {"path": "metrics.json"}).content.decode()
    assert "héllo from the run" in client.get(_page(run), {"path": "notes.txt"}).content.decode()
    assert "No preview" in client.get(_page(run), {"path": "model/model.pkl"}).content.decode()
    assert "Too large to preview" in client.get(_page(run), {"path": "big.log"}).content.decode()


def test_a_file_shows_the_sha256_recorded_at_upload_while_it_still_describes_the_file(client_for, reader, run,
                                                                                     store):
    import hashlib

    client = client_for(reader)
    expected = hashlib.sha256("héllo from the run\n".encode()).hexdigest()
    assert f"<code class=\"wrap\" data-sha256>{expected}</code>" in client.get(
        _page(run), {"path": "notes.txt"}).content.decode()
    # Replaced behind the store's back (a new file): the record no longer describes it, so nothing is claimed.
    path = store / f"5/{run.run_id}/artifacts/notes.txt"
    path.unlink()
    path.write_bytes(b"changed")
    assert "data-sha256" not in client.get(_page(run), {"path": "notes.txt"}).content.decode()


def test_download_is_an_attachment_with_the_bytes(client_for, reader, run):
    response = client_for(reader).get(_download(run), {"path": "model/model.pkl"})
    assert response.status_code == 200 and "attachment" in response["Content-Disposition"]
    assert 'filename="model.pkl"' in response["Content-Disposition"]
    assert b"".join(response.streaming_content) == b"\x80\x04binary\x00"
    odd = client_for(reader).get(_download(run), {"path": "odd dir & more/a+b.txt"})
    assert b"".join(odd.streaming_content) == b"odd"


def test_directory_or_nothing_is_not_downloadable(client_for, reader, run):
    client = client_for(reader)
    assert client.get(_download(run), {"path": "model"}).status_code == 404
    assert client.get(_download(run)).status_code == 404


HOSTILE = ["../../etc/passwd", "/etc/passwd", "model/../../outside.txt", "../outside.txt", "..", "model/..",
           "%2e%2e/outside.txt", "%252e%252e/outside.txt", "..%2foutside.txt", "model/%2e%2e/%2e%2e/outside.txt",
           "..\\outside.txt", "nope", "model/nope.txt", "#frag", "/", "./notes.txt"]


def test_a_nul_in_a_path_is_a_bad_request(client_for, reader, run):
    # The request guard refuses it before any view or storage sees it.
    client = client_for(reader)
    assert client.get(_page(run), {"path": "a\x00b"}).status_code == 400
    assert client.get(_download(run), {"path": "a\x00b"}).status_code == 400


@pytest.mark.parametrize("path", HOSTILE)
def test_hostile_paths_stay_inside_the_run(client_for, reader, run, path):
    client = client_for(reader)
    page = client.get(_page(run), {"path": path})
    if path == "/":  # nothing left once the slashes are trimmed: the root listing
        assert page.status_code == 200 and "notes.txt" in page.content.decode()
    else:
        assert page.status_code == 404 and "secret" not in page.content.decode()
    download = client.get(_download(run), {"path": path})
    assert download.status_code == 404


@pytest.mark.parametrize("escape", ["../../{sibling}/artifacts/secret.txt", "../outside.txt"])
def test_sibling_runs_and_the_run_directory_are_out_of_reach(client_for, owner, run, escape):
    sibling = next(r for r in run.experiment.runs.exclude(pk=run.pk))
    path = escape.format(sibling=sibling.run_id)
    assert client_for(owner).get(_page(run), {"path": path}).status_code == 404
    assert client_for(owner).get(_download(run), {"path": path}).status_code == 404


def test_symlink_out_of_the_store_is_not_followed(client_for, owner, run, store, tmp_path):
    (tmp_path / "elsewhere.txt").write_text("host secret")
    os.symlink(tmp_path / "elsewhere.txt", store / "5" / run.run_id / "artifacts" / "link.txt")
    client = client_for(owner)
    assert "link.txt" not in client.get(_page(run)).content.decode()
    assert client.get(_page(run), {"path": "link.txt"}).status_code == 404
    assert client.get(_download(run), {"path": "link.txt"}).status_code == 404


@pytest.mark.parametrize("persona,status", PERSONAS)
@pytest.mark.parametrize("params", [{}, {"path": "model"}, {"path": "notes.txt"}])
def test_tab_permission_matrix(request, client_for, run, persona, status, params):
    response = client_for(request.getfixturevalue(persona)).get(_page(run), params)
    assert response.status_code == status
    if status == 404:
        assert "héllo" not in response.content.decode() and "model.pkl" not in response.content.decode()


@pytest.mark.parametrize("persona,status", PERSONAS)
def test_download_permission_matrix(request, client_for, run, persona, status):
    response = client_for(request.getfixturevalue(persona)).get(_download(run), {"path": "notes.txt"})
    assert response.status_code == status


def test_artifacts_tab_sits_between_overview_and_lineage(client_for, reader, run):
    client = client_for(reader)
    overview = client.get(reverse("explorer:run", args=[run.run_id])).content.decode()
    tabs = overview.split('class="tabs"', 1)[1].split("</nav>", 1)[0]
    assert tabs.index(">Overview<") < tabs.index(">Artifacts<") < tabs.index(">Lineage<")
    html = client.get(_page(run)).content.decode()
    assert f'<a href="{_page(run)}" aria-current="page" class="active">Artifacts</a>' in html
    assert reverse("explorer:run_register", args=[run.run_id]) in html  # the run header stays


def test_run_without_artifacts(client_for, owner, store, experiment):
    run = make_run(5)
    html = client_for(owner).get(_page(run)).content.decode()
    assert "This run logged no artifacts." in html


def test_artifacts_kept_elsewhere_are_explained(client_for, owner, store, experiment):
    run = make_run(5)
    run.artifact_uri = "s3://bucket/elsewhere/artifacts"
    run.save()
    response = client_for(owner).get(_page(run))
    assert response.status_code == 200 and "not kept by this server" in response.content.decode()
    assert client_for(owner).get(_download(run), {"path": "x.txt"}).status_code == 404


def test_unknown_run_is_404(client_for, admin, store):
    for bad in ("0" * 32, "nope", "x" * 40):
        assert client_for(admin).get(reverse("explorer:run_artifacts", args=[bad])).status_code == 404
        assert client_for(admin).get(reverse("explorer:run_artifact_download", args=[bad]),
                                     {"path": "a.txt"}).status_code == 404


def test_query_count_does_not_grow_with_the_listing(client_for, owner, run, django_assert_max_num_queries):
    small = make_run(5)
    storage.save_stream(f"5/{small.run_id}/artifacts/one.txt", io.BytesIO(b"1"))
    for n in range(200):
        storage.save_stream(f"5/{run.run_id}/artifacts/many/f{n:03d}.txt", io.BytesIO(b"x"))
    client = client_for(owner)
    client.get(_page(small))
    with django_assert_max_num_queries(20) as ctx:
        client.get(_page(small))
    with django_assert_max_num_queries(len(ctx.captured_queries)):
        html = client.get(_page(run), {"path": "many"}).content.decode()
    assert html.count("download>Download</a>") == 200
