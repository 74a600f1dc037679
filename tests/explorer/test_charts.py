"""Charts and lineage that read at a glance (issue 16 §4), without a browser: the metric-history JSON behind the
charts (visibility, errors, thinning), the server-rendered fallbacks (a metric logged once is a value, the others a
sparkline with a text summary), the experiment page's column chooser, compare boxes and chart fallback, lineage
nodes that all link somewhere, the version Lineage tab's title, and a dataset logged by the real mlflow client with
`source="main.raw.wine_train"` that keeps its source and becomes a table node."""
from __future__ import annotations

import json
import re

import pytest
from django.urls import reverse

from registry.models import Dataset, Experiment, Metric, Param, RunInput
from tests.registry.factories import make_run

pytestmark = pytest.mark.django_db


def _experiment(owner, reader=None, *, pk=11, name="wine") -> Experiment:
    from registry.services.grants import grant_add

    exp = Experiment.objects.create(id=pk, name=name, artifact_location=f"mlflow-artifacts:/{pk}", owner_user=owner,
                                    open_to_all=False, creation_time=0, last_update_time=0)
    if reader is not None:
        grant_add(actor=owner, securable=exp, principal=reader, privilege="EXECUTE")
    return exp


def _run(exp, name, **metrics):
    run = make_run(exp.pk)
    run.name = name
    run.save()
    for key, values in metrics.items():
        Metric.objects.bulk_create(Metric(run=run, key=key, value=v, timestamp=1_700_000_000_000 + s * 1000, step=s)
                                   for s, v in enumerate(values))
    return run


def _history(client, runs, keys):
    query = "&".join([f"run={r}" for r in runs] + [f"key={k}" for k in keys])
    return client.get(reverse("explorer:metric_history") + "?" + query)


# The JSON ---------------------------------------------------------------------------------------------------

def test_reader_gets_each_runs_history_with_steps_times_and_values(client_for, owner, reader):
    exp = _experiment(owner, reader)
    a = _run(exp, "a", accuracy=[0.5, 0.7, 0.9], loss=[1.0, 0.5])
    b = _run(exp, "b", accuracy=[0.6, 0.8])
    r = _history(client_for(reader), [a.run_id, b.run_id], ["accuracy", "loss"])
    assert r.status_code == 200, r.content
    body = r.json()
    series = {(s["run_id"], s["key"]): s for s in body["series"]}
    assert set(series) == {(a.run_id, "accuracy"), (b.run_id, "accuracy"), (a.run_id, "loss")}
    acc = series[(a.run_id, "accuracy")]
    assert acc["step"] == [0, 1, 2] and acc["value"] == [0.5, 0.7, 0.9] and acc["total"] == 3
    assert acc["timestamp"] == [1_700_000_000_000, 1_700_000_001_000, 1_700_000_002_000]
    assert acc["run_name"] == "a" and acc["run_url"] == reverse("explorer:run", args=[a.run_id])


def test_nan_is_a_gap_and_infinity_a_string(client_for, owner):
    exp = _experiment(owner)
    run = _run(exp, "odd", loss=[1.0])
    Metric.objects.create(run=run, key="loss", value=None, is_nan=True, timestamp=5, step=1)
    Metric.objects.create(run=run, key="loss", value=float("inf"), timestamp=6, step=2)
    body = _history(client_for(owner), [run.run_id], ["loss"]).json()
    assert body["series"][0]["value"] == [1.0, None, "Infinity"]


def test_hidden_run_reads_as_unknown_and_errors_are_json(client, client_for, owner, outsider):
    exp = _experiment(owner)
    run = _run(exp, "secret", accuracy=[0.9, 0.95])
    r = _history(client_for(outsider), [run.run_id], ["accuracy"])
    assert r.status_code == 404
    assert r.json()["error_code"] == "RESOURCE_DOES_NOT_EXIST" and "secret" not in r.content.decode()
    unknown = _history(client_for(outsider), ["f" * 32], ["accuracy"]).json()
    assert unknown["message"] == r.json()["message"].replace(run.run_id, "f" * 32)
    assert _history(client, [run.run_id], ["accuracy"]).status_code == 401  # not signed in: JSON, no redirect
    for runs, keys in (([], ["accuracy"]), ([run.run_id], []), ([run.run_id] * 1 + [f"{i:032x}" for i in range(25)],
                                                                 ["accuracy"]), ([run.run_id], ["k" * 300])):
        bad = _history(client_for(owner), runs, keys)
        assert bad.status_code == 400, (runs, keys)
        assert set(bad.json()) == {"error_code", "message"} and bad.json()["error_code"] == "INVALID_PARAMETER_VALUE"


def test_a_long_history_is_thinned_evenly_and_keeps_its_last_point(client_for, owner):
    exp = _experiment(owner)
    run = _run(exp, "long", loss=[1.0 / (s + 1) for s in range(2500)])
    series = _history(client_for(owner), [run.run_id], ["loss"]).json()["series"][0]
    assert series["total"] == 2500
    assert 800 <= len(series["step"]) <= 1001
    assert series["step"][-1] == 2499 and series["step"] == sorted(series["step"])
    gaps = {b - a for a, b in zip(series["step"][:-2], series["step"][1:-1])}
    assert gaps == {3}


# Run page fallback ------------------------------------------------------------------------------------------

def test_run_page_shows_a_metric_logged_once_as_a_value_and_others_as_charts(client_for, owner):
    exp = _experiment(owner)
    run = _run(exp, "r", accuracy=[0.71, 0.82, 0.86], f1=[0.84])
    html = client_for(owner).get(reverse("explorer:run", args=[run.run_id])).content.decode()
    values = html[html.index('class="metric-values"'):html.index("</ul>", html.index('class="metric-values"'))]
    assert "<code>f1</code>" in values and "0.84" in values and "step 0" in values and "accuracy" not in values
    charts = html[html.index("data-metric-charts"):html.index("metrics-details")]
    assert 'data-key="accuracy"' in charts and 'data-key="f1"' not in charts
    assert "3 points, steps 0–2, min 0.71, max 0.86, last 0.86" in charts  # the chart's text alternative
    assert re.search(r'<svg class="sparkline sparkline-large"[^>]*aria-label="History of accuracy: 3 points', charts)
    assert "vendor/uplot/uPlot.iife.min.js" in html and "js/charts.js" in html
    assert f'data-history-url="{reverse("explorer:metric_history")}"' in html


# Experiment page --------------------------------------------------------------------------------------------

def test_column_chooser_shows_exactly_the_ticked_columns_and_sort_links_keep_them(client_for, owner):
    exp = _experiment(owner)
    for name, c in (("a", "1"), ("b", "2")):
        run = _run(exp, name, accuracy=[0.5, 0.9], loss=[0.3])
        Param.objects.bulk_create([Param(run=run, key="C", value=c), Param(run=run, key="solver", value="lbfgs")])
    url = reverse("explorer:experiment", args=[exp.pk])
    html = client_for(owner).get(url).content.decode()
    assert all(f"</span> {k}" in html for k in ("C", "solver", "accuracy", "loss"))  # default: all (few) columns
    assert 'name="col" value="params.C" checked' in html
    html = client_for(owner).get(url + "?col=params.solver&col=metrics.loss&col=metrics.nope").content.decode()
    head = html[html.index("<thead>"):html.index("</thead>")]
    assert "</span> solver" in head and "</span> loss" in head
    assert "</span> C<" not in head and "accuracy" not in head
    assert "col=params.solver&amp;col=metrics.loss" in head  # a sort keeps the chosen columns
    assert 'name="col" value="params.C">' in html and 'name="col" value="metrics.loss" checked' in html


def test_compare_boxes_drive_the_chart_and_its_fallback_bars(client_for, owner):
    exp = _experiment(owner)
    runs = [_run(exp, f"run-{i}", accuracy=[0.5, 0.6 + i / 100]) for i in range(7)]
    url = reverse("explorer:experiment", args=[exp.pk])
    html = client_for(owner).get(url).content.decode()
    assert "5 runs compared (the first on this page until you tick some)" in html
    picked = [runs[0].run_id, runs[3].run_id]
    html = client_for(owner).get(url + f"?compare={picked[0]}&compare={picked[1]}&chart_metric=accuracy"
                                 ).content.decode()
    # a box per row; the two ticked ones kept by the column chooser's and the chart's forms
    assert html.count('name="compare" value="') == 7 + 2 + 2
    for run_id in picked:
        assert f'value="{run_id}" form="runs-compare" aria-label="Compare' in html
        assert re.search(rf'value="{run_id}" form="runs-compare" aria-label="Compare [^"]+" checked', html)
    assert "2 runs compared" in html
    bars = html[html.index('<svg class="bars"'):html.index("</svg>", html.index('<svg class="bars"'))]
    assert bars.count("<rect") == 2 and "run-0: 0.6" in bars and "run-3: 0.63" in bars
    data = json.loads(re.search(r'<script id="runs-chart-data" type="application/json">(.*?)</script>', html,
                                re.S).group(1))
    assert {r["name"] for r in data} == {f"run-{i}" for i in range(7)}
    assert data[0]["metrics"]["accuracy"] in {0.6 + i / 100 for i in range(7)}


def test_a_hostile_chart_query_is_not_an_error(client_for, owner):
    exp = _experiment(owner)
    _run(exp, "a", accuracy=[0.5, 0.9])
    url = reverse("explorer:experiment", args=[exp.pk])
    assert client_for(owner).get(url + "?chart_metric=%00").status_code == 400  # the request guard's answer
    for query in ("?chart=<script>&chart_metric=<b>&chart_param=x", "?compare=" + "z" * 5000, "?col=" + "q" * 9000,
                  "?col=params.&col=metrics."):
        r = client_for(owner).get(url + query)
        assert r.status_code == 200, query
        assert "<script>" not in r.content.decode().split("runs-chart-data")[0].split("<body")[1]


# Lineage ----------------------------------------------------------------------------------------------------

def _graph(html: str) -> str:
    start = html.index('class="lineage-graph"')
    return html[start:html.index("</svg>", start)]


def test_every_lineage_node_links_and_the_version_tab_has_its_title(client_for, iris, owner):
    from registry.models import ModelVersion

    mv = ModelVersion.objects.get(model=iris, version=1)
    html = client_for(owner).get(reverse("explorer:version_lineage", args=[iris.full_name, 1])).content.decode()
    assert "<title>Lineage of prod.ml_team.iris version 1 · Catalog Explorer</title>" in html
    h1 = " ".join(re.sub(r"<[^>]+>", " ", html[html.index("<h1>"):html.index("</h1>")].replace("<wbr>", "")).split())
    assert h1.startswith("prod.ml_team.iris Version 1"), h1  # the version's own header, as on its other tabs
    svg = _graph(html)
    nodes = re.findall(r'(<a href="[^"]+">)?<g class="lineage-node lineage-node--(\w+)', svg)
    assert {kind for _, kind in nodes} >= {"run", "experiment", "model_version"}
    assert all(link for link, _ in nodes), nodes  # every node is a link
    run_id = mv.run_id
    assert f'<a href="{reverse("explorer:run", args=[run_id])}">' in svg
    assert f'<a href="{reverse("explorer:experiment", args=["0"])}">' in svg
    assert "lineage-node--root" in svg and 'data-lineage="fit"' in html and "js/lineage.js" in html


def test_run_lineage_tab_has_its_title(client_for, owner):
    exp = _experiment(owner)
    run = _run(exp, "train-wine", accuracy=[0.9])
    html = client_for(owner).get(reverse("explorer:run_lineage", args=[run.run_id])).content.decode()
    assert "<title>Lineage of run train-wine · Catalog Explorer</title>" in html


def test_a_dataset_shows_its_source_uri_on_the_run_page_and_in_lineage(client_for, owner):
    exp = _experiment(owner)
    run = _run(exp, "r", accuracy=[0.9])
    d = Dataset.objects.create(experiment=exp, name="wine_csv", digest="abc", source_type="s3",
                               source=json.dumps({"uri": "s3://bucket/wine/train.csv"}))
    RunInput.objects.create(run=run, dataset=d, tags=[{"key": "mlflow.data.context", "value": "training"}])
    client = client_for(owner)
    html = client.get(reverse("explorer:run", args=[run.run_id])).content.decode()
    assert "<code class=\"wrap\">s3://bucket/wine/train.csv</code>" in html
    lineage = client.get(reverse("explorer:run_lineage", args=[run.run_id])).content.decode()
    svg = _graph(lineage)
    assert "DATASET · wine_csv" in svg and "s3://bucket/wine/train.csv" in svg
    assert "source s3://bucket/wine/train.csv" in lineage  # the table under the graph


@pytest.fixture
def mlflow_client_env(live_server, monkeypatch, tmp_path):
    import mlflow

    from tests.e2e.test_mlflow_client import data_scientist

    monkeypatch.chdir(tmp_path)
    yield data_scientist(monkeypatch, live_server.url)
    if mlflow.active_run():
        mlflow.end_run()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_from_pandas_with_a_three_level_source_becomes_a_table_node(mlflow_client_env, client_for):
    import mlflow
    import pandas as pd

    df = pd.DataFrame({"alcohol": [12.1, 13.4, 11.9], "quality": [5, 7, 6]})
    with mlflow.start_run(run_name="train-wine") as run:
        mlflow.log_input(mlflow.data.from_pandas(df, source="main.raw.wine_train", targets="quality"),
                         context="training")
        mlflow.log_metric("rmse", 0.7)
    client = client_for(mlflow_client_env["alice"])
    html = client.get(reverse("explorer:run", args=[run.info.run_id])).content.decode()
    table_url = reverse("explorer:table", args=["main.raw.wine_train"])
    assert f'<a href="{table_url}">main.raw.wine_train</a>' in html
    assert "<code class=\"wrap\">main.raw.wine_train</code>" in html  # the recorded source URI
    lineage = client.get(reverse("explorer:run_lineage", args=[run.info.run_id])).content.decode()
    svg = _graph(lineage)
    assert f'<a href="{table_url}"><g class="lineage-node lineage-node--table' in svg
    assert "source main.raw.wine_train" in lineage
    table = client.get(table_url)
    assert table.status_code == 200 and "train-wine" in table.content.decode()
