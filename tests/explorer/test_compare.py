"""Compare versions page: side-by-side sections, highlighted differences, the differences-only view, metric charts,
clear errors for bad selections (never a 500), visibility (outsider 404, unreadable runs stay hidden) and a
fixed number of queries however many versions, params and metrics are compared."""
from __future__ import annotations

import re

import pytest

from explorer.views.compare import MAX_CHARTS, SelectionError, parse_versions
from registry.models import Experiment, Metric, ModelVersion, Param, Run
from registry.services.grants import grant_add
from registry.services.tags import version_tag_set
from registry.services.versions import model_version_mark_ready
from tests.explorer.conftest import MODEL, SIGNATURE
from tests.registry.factories import make_model, make_run, make_version

URL = f"/models/{MODEL}/compare/"


def _rows(html: str) -> dict[str, bool]:
    """Row label (tags stripped) -> whether the row is marked as differing."""
    found = re.findall(r'<tr( class="differs")?>\s*<th scope="row">(.*?)</th>', html, re.S)
    return {re.sub(r"<[^>]+>|≠| \(values differ\)", "", label).strip(): bool(differs) for differs, label in found}


def _metric(run, key, values, *, start=0):
    return [Metric(run=run, key=key, value=v, timestamp=1000 + s, step=start + s) for s, v in enumerate(values)]


@pytest.fixture
def compared(iris, owner):
    """iris v1 and v2, each from a named source run: `lr` equal, `depth` different; `accuracy` logged over 5
    steps (different), `rmse` once (equal); tag validation_status only on v1; Champion alias on v1."""
    runs = {}
    for mv in ModelVersion.objects.filter(model=iris).order_by("version"):
        run = Run.objects.get(run_id=mv.run_id)
        run.name = f"train-{mv.version}"
        run.save()
        runs[mv.version] = run
    Param.objects.bulk_create([
        Param(run=runs[1], key="lr", value="0.1"), Param(run=runs[2], key="lr", value="0.1"),
        Param(run=runs[1], key="depth", value="3"), Param(run=runs[2], key="depth", value="5"),
    ])
    Metric.objects.bulk_create(
        _metric(runs[1], "accuracy", [0.5, 0.6, 0.7, 0.8, 0.9])
        + _metric(runs[2], "accuracy", [0.4, 0.5, 0.6, 0.7, 0.75])
        + _metric(runs[1], "rmse", [0.25]) + _metric(runs[2], "rmse", [0.25]))
    return runs


def test_compare_shows_every_section_side_by_side(client_for, reader, compared):
    response = client_for(reader).get(URL + "?versions=1&versions=2")
    assert response.status_code == 200
    html = response.content.decode()
    for heading in ("Version", "Parameters", "Metrics", "Metric charts", "Signature", "Tags"):
        assert f'-h">{heading}' in html
    assert f'href="/models/{MODEL}/versions/1/"' in html and f'href="/models/{MODEL}/versions/2/"' in html
    assert f'href="/runs/{compared[1].run_id}/"' in html and ">train-1</a>" in html and ">train-2</a>" in html
    assert "@Champion" in html and "Ready" in html and "owner" in html
    rows = _rows(html)
    for label in ("Status", "Created by", "Aliases", "Source", "Source run", "lr", "depth", "accuracy", "rmse",
                  "Inputs, in order", "input sepal_length", "output species", "validation_status"):
        assert label in rows, label
    assert "0.9" in html and "0.75" in html  # latest accuracy of each version
    assert "double · required" in html and "double · optional" in html
    assert "Stage" not in rows  # three-level models have no stages


def test_differing_values_are_highlighted_and_equal_ones_not(client_for, reader, compared):
    rows = _rows(client_for(reader).get(URL + "?versions=1,2").content.decode())
    assert rows["depth"] and rows["accuracy"] and rows["Aliases"] and rows["validation_status"] and rows["Source run"]
    assert not rows["lr"] and not rows["rmse"] and not rows["Status"] and not rows["input sepal_length"]


def test_differences_only_hides_equal_rows(client_for, reader, compared):
    html = client_for(reader).get(URL + "?versions=1,2&diff=1").content.decode()
    rows = _rows(html)
    assert "depth" in rows and "accuracy" in rows and "validation_status" in rows
    assert "lr" not in rows and "rmse" not in rows and "Status" not in rows and "input sepal_length" not in rows
    assert all(rows.values())
    assert "equal row hidden" in html and "equal rows hidden: nothing differs here" in html  # params; signature
    # The toggle is a pair of plain links that keep the selection.
    assert re.search(r'<a href="[^"]*\?versions=1&amp;versions=2&amp;diff=1" aria-current="true"', html)
    assert re.search(r'<a href="[^"]*\?versions=1&amp;versions=2">All rows</a>', html)


def test_repeated_and_comma_separated_versions_are_the_same_selection(client_for, reader, compared):
    client = client_for(reader)
    queries = ("?versions=1&versions=2", "?versions=1,2", "?versions=2,1,2", "?versions= 2 , 1")
    pages = [client.get(URL + q) for q in queries]
    assert {p.status_code for p in pages} == {200}
    assert len({tuple(_rows(p.content.decode()).items()) for p in pages}) == 1


def test_metric_charts_draw_a_line_per_version_with_a_legend(client_for, reader, compared):
    html = client_for(reader).get(URL + "?versions=1,2").content.decode()
    charts = re.findall(r'<figure class="compare-chart">(.*?)</figure>', html, re.S)
    assert len(charts) == 2  # accuracy, rmse
    accuracy, rmse = charts
    assert accuracy.count("<polyline") == 2 and "step 0" in accuracy and "step 4" in accuracy
    assert "Version 1" in accuracy and "Version 2" in accuracy and 'class="legend"' in accuracy
    # Logged once: one point per version, side by side, labelled with the version numbers.
    assert rmse.count("<circle") == 2 and ">v1</text>" in rmse and ">v2</text>" in rmse
    assert "<script" not in html.split('<main id="main"')[1]  # server-rendered, no chart library


def test_version_without_a_run_shows_dashes(client_for, owner, reader, compared):
    mv = make_version(owner, MODEL)
    model_version_mark_ready(version_id=mv.pk, signature={**SIGNATURE, "inputs": SIGNATURE["inputs"][:1]})
    ModelVersion.objects.filter(pk=mv.pk).update(run_id="", source="mlflow-artifacts:/elsewhere/model")
    html = client_for(reader).get(URL + "?versions=1,2,3").content.decode()
    rows = _rows(html)
    assert rows["lr"] and rows["input petal_width"] and rows["Inputs, in order"]
    lr_row = re.search(r'<th scope="row"><code>lr</code>.*?</tr>', html, re.S).group(0)
    assert lr_row.count("0.1") == 2 and lr_row.count("—") == 1
    accuracy = re.findall(r'<figure class="compare-chart">(.*?)</figure>', html, re.S)[0]
    assert accuracy.count("<polyline") == 2 and "no data" in accuracy


def test_run_the_reader_may_not_read_shows_nothing_from_it(client_for, owner, reader, iris):
    private = Experiment.objects.create(id=7, name="private", artifact_location="mlflow-artifacts:/7",
                                        owner_user=owner, open_to_all=False, creation_time=0, last_update_time=0)
    run = make_run(private.pk)
    Param.objects.create(run=run, key="secret_param", value="s3cr3t")
    Metric.objects.bulk_create(_metric(run, "secret_metric", [1.0, 2.0]))
    ModelVersion.objects.filter(model=iris, version=2).update(run_id=run.run_id, source=f"runs:/{run.run_id}/model")
    reader_html = client_for(reader).get(URL + "?versions=1,2").content.decode()
    assert run.run_id not in reader_html  # not even its id (issue 11: as lineage shows it, restricted)
    assert "secret_param" not in reader_html and "s3cr3t" not in reader_html and "secret_metric" not in reader_html
    owner_html = client_for(owner).get(URL + "?versions=1,2").content.decode()
    assert "secret_param" in owner_html and f"/runs/{run.run_id}/" in owner_html


def test_a_nul_in_the_selection_is_the_request_guards_400(client_for, reader, iris):
    response = client_for(reader).get(URL + "?versions=1,%00")
    assert response.status_code == 400 and "NUL" in response.content.decode()


@pytest.mark.parametrize("query,message", [
    ("?versions=abc", "is not a version number"),
    ("?versions=1,x", "&#x27;x&#x27; is not a version number"),
    ("?versions=1&versions=2.0", "is not a version number"),
    ("?versions=-1,2", "is not a version number"),
    ("?versions=0,1", "is not a version number"),
    ("?versions=1,%EF%BC%92", "is not a version number"),  # a full-width digit
    ("?versions=1,99999999999999999999", "is not a version number"),
    ("?versions=1," + "9" * 5000, "is not a version number"),  # past int()'s digit limit
    ("?versions=a,b", "&#x27;a&#x27;, &#x27;b&#x27; are not version numbers"),
    ("?versions=<script>,1", "&lt;script&gt;"),
    ("?versions=" + ",".join(str(n) for n in range(1, 12)), "at most 10 versions"),
    ("?versions=" + ",".join(["1"] * 500), "at most 10 versions"),
    ("?versions=1,7", "Version 7 of prod.ml_team.iris does not exist"),
    ("?versions=1,7,8", "Versions 7, 8 of prod.ml_team.iris do not exist"),
])
def test_bad_selections_are_a_clear_400_never_a_500(client_for, reader, iris, query, message):
    response = client_for(reader).get(URL + query)
    assert response.status_code == 400
    html = response.content.decode()
    assert 'class="notice danger" role="alert"' in html and message in html
    assert '<details class="compare-picker panel" open>' in html  # pick again right there
    assert 'name="versions" value="2"' in html


def test_only_versions_of_that_model_are_compared(client_for, owner, reader, iris):
    make_model(owner, "prod.ml_team.other")
    for _ in range(3):
        make_version(owner, "prod.ml_team.other")
    response = client_for(reader).get(URL + "?versions=1,3")
    assert response.status_code == 400 and "Version 3 of prod.ml_team.iris does not exist" in response.content.decode()


@pytest.mark.parametrize("persona,status", [("admin", 200), ("owner", 200), ("reader", 200), ("outsider", 404)])
def test_compare_permission_matrix(request, client_for, iris, persona, status):
    assert client_for(request.getfixturevalue(persona)).get(URL + "?versions=1,2").status_code == status


def test_outsider_gets_404_even_for_a_bad_selection_and_unknown_model_is_404(client_for, outsider, reader, iris):
    assert client_for(outsider).get(URL + "?versions=junk").status_code == 404
    assert client_for(reader).get("/models/prod.ml_team.nope/compare/?versions=1,2").status_code == 404
    assert client_for(reader).get("/models/not..a.name/compare/?versions=1,2").status_code == 404


def test_group_reader_with_access_sees_it(client_for, admin, member, team, iris):
    from registry.models import Catalog, Schema

    grant_add(actor=admin, securable=Catalog.objects.get(name="prod"), principal=team, privilege="USE CATALOG")
    grant_add(actor=admin, securable=Schema.objects.get(name="ml_team"), principal=team, privilege="USE SCHEMA")
    assert client_for(member).get(URL + "?versions=1,2").status_code == 404
    grant_add(actor=admin, securable=iris, principal=team, privilege="EXECUTE")
    assert client_for(member).get(URL + "?versions=1,2").status_code == 200


def test_anonymous_is_sent_to_sign_in_and_post_is_refused(client, client_for, reader, iris):
    response = client.get(URL + "?versions=1,2")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client_for(reader).post(URL + "?versions=1,2").status_code == 405


def test_compare_changes_nothing(client_for, owner, compared):
    from tests.registry.factories import state_fingerprint

    before = state_fingerprint()
    client_for(owner).get(URL + "?versions=1,2&diff=1")
    assert state_fingerprint() == before


def test_workspace_model_shows_stages(client_for, owner):
    make_model(owner, "Fraud")
    for _ in range(2):
        make_version(owner, "Fraud")
    ModelVersion.objects.filter(model__name="Fraud", version=2).update(current_stage="Production")
    html = client_for(owner).get("/models/Fraud/compare/?versions=1,2").content.decode()
    assert _rows(html)["Stage"] and "Production" in html


def test_model_overview_offers_compare_checkboxes(client_for, reader, iris):
    html = client_for(reader).get(f"/models/{MODEL}/").content.decode()
    assert f'<form id="compare-form" class="compare-form" method="get" action="/models/{MODEL}/compare/"' in html
    assert ('<td class="select-col"><input type="checkbox" name="versions" value="1" form="compare-form" '
            'aria-label="Compare version 1">') in html
    # Nothing is ticked yet: the button is disabled and its hint says what to do (static/js/explorer.js enables it).
    assert ('<button type="submit" class="small" aria-describedby="compare-hint" disabled data-compare-submit>'
            'Compare</button>') in html
    assert "Tick 2–10 versions to compare" in html


def test_model_with_one_version_offers_no_compare(client_for, owner):
    make_model(owner, "Solo")
    make_version(owner, "Solo")
    html = client_for(owner).get("/models/Solo/").content.decode()
    assert "compare-form" not in html


def _wide_model(owner, name: str, *, versions: int, params: int, metrics: int, steps: int):
    make_model(owner, name)
    runs = []
    for n in range(versions):
        mv = make_version(owner, name, tags={"team": f"t{n % 2}"})
        model_version_mark_ready(version_id=mv.pk, signature=SIGNATURE)
        runs.append(Run.objects.get(run_id=mv.run_id))
    Param.objects.bulk_create(Param(run=run, key=f"p{k:03d}", value=str(k * i)) for i, run in enumerate(runs)
                              for k in range(params))
    Metric.objects.bulk_create(m for i, run in enumerate(runs) for k in range(metrics)
                               for m in _metric(run, f"m{k:03d}", [float(s * (k + i + 1)) for s in range(steps)]))


def test_query_count_is_bounded_whatever_the_selection(client_for, owner, reader, governed,
                                                       django_assert_max_num_queries):
    from registry.models import RegisteredModel

    _wide_model(owner, "prod.ml_team.small", versions=2, params=1, metrics=1, steps=2)
    _wide_model(owner, "prod.ml_team.wide", versions=10, params=60, metrics=30, steps=40)
    for name in ("prod.ml_team.small", "prod.ml_team.wide"):
        grant_add(actor=owner, securable=RegisteredModel.objects.get(name=name.rsplit(".", 1)[1]), principal=reader,
                  privilege="EXECUTE")
    client = client_for(reader)
    client.get("/")  # session and user loading warmed up
    with django_assert_max_num_queries(40) as ctx:  # the model header (tabs, actions) is most of it
        assert client.get("/models/prod.ml_team.small/compare/?versions=1,2").status_code == 200
    small_count = len(ctx.captured_queries)
    with django_assert_max_num_queries(small_count):
        response = client.get("/models/prod.ml_team.wide/compare/?versions=" + ",".join(str(n) for n in range(1, 11)))
    html = response.content.decode()
    assert response.status_code == 200
    assert html.count('<figure class="compare-chart">') == MAX_CHARTS
    assert html.count("<polyline") == MAX_CHARTS * 10
    assert "<code>p059</code>" in html and "<code>m029</code>" in html


def test_parse_versions():
    assert parse_versions(["3", "1,2", " 2 "]) == [1, 2, 3]
    for bad in ([], ["1"], ["a,1"], ["1", ""], ["1,2,3,4,5,6,7,8,9,10,11"], ["٣,1"]):
        with pytest.raises(SelectionError):
            parse_versions(bad)
