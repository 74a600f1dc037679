"""The experiment page's runs table: MLflow run filters and column sorts through the REST API's runs/search,
kept in the URL with paging, with clear errors for bad filters and a bounded number of queries."""
from __future__ import annotations

import re
from urllib.parse import parse_qs, urlencode, urlsplit

import pytest
from django.urls import reverse
from django.utils.html import escape

from registry.errors import InvalidParameter
from registry.models import Experiment, Metric, Param, Run, RunTag
from registry.services.grants import grant_add
from registry.tracking_search import parse_filter
from tests.registry.factories import make_run

pytestmark = pytest.mark.django_db
URL = reverse("explorer:experiment", args=["5"])
API = "/api/2.0/mlflow"


@pytest.fixture
def experiment(owner, reader):
    """Private experiment 5 of `owner`; `reader` may read it (EXECUTE), `outsider` may not."""
    exp = Experiment.objects.create(id=5, name="fraud-training", artifact_location="mlflow-artifacts:/5",
                                    owner_user=owner, open_to_all=False, creation_time=0, last_update_time=0)
    grant_add(actor=owner, securable=exp, principal=reader, privilege="EXECUTE")
    return exp


def _run(name: str, *, start: int, status="FINISHED", params=None, metrics=None, tags=None, experiment_id=5) -> Run:
    run = make_run(experiment_id)
    run.name, run.start_time, run.status, run.user_id = name, start, status, "alice"
    run.save()
    Param.objects.bulk_create(Param(run=run, key=k, value=v) for k, v in (params or {}).items())
    for key, values in (metrics or {}).items():  # a history per key: the last value is the latest (highest step)
        Metric.objects.bulk_create(Metric(run=run, key=key, value=v, timestamp=s, step=s) for s, v in enumerate(values))
    RunTag.objects.bulk_create(RunTag(run=run, key=k, value=v) for k, v in (tags or {}).items())
    return run


@pytest.fixture
def runs(experiment):
    return {
        "r-a": _run("r-a", start=1000, params={"solver": "lbfgs", "C": "1.0"}, metrics={"accuracy": [0.5, 0.95]},
                    tags={"team": "fraud"}),
        "r-b": _run("r-b", start=2000, params={"solver": "sag"}, metrics={"accuracy": [0.99, 0.80]},
                    tags={"team": "risk"}),
        "r-c": _run("r-c", start=3000, status="FAILED", params={"solver": "lbfgs"}, metrics={"accuracy": [0.91]}),
        "baseline-d": _run("baseline-d", start=4000, status="RUNNING", params={"solver": "lbfgs"},
                           metrics={"loss": [0.3]}),
    }


def _names(html: str) -> list[str]:
    """Run names in table order."""
    body = html.split('class="list runs-table"', 1)[1].split("</tbody>", 1)[0]
    # The run cell starts with its compare box (static/js/charts.js) when the runs have metrics to chart.
    return re.findall(r'<td[^>]*>(?:<input type="checkbox" name="compare"[^>]*> )?<a href="/runs/[0-9a-f]+/">([^<]+)</a></td>',
                      body)


def _get(client, **params):
    return client.get(URL + ("?" + urlencode(params) if params else ""))


def _header(html: str, label: str) -> str:
    """The <th> of the column whose header text ends with `label`."""
    for th in re.findall(r"<th scope=\"col\"[^>]*>.*?</th>", html, flags=re.S):
        text = re.sub(r"<[^>]+>|[▲▼↕]", " ", th).split()
        if text and text[-1] == label:
            return th
    raise AssertionError(f"no header {label!r}")


def _href(th: str) -> str:
    return re.search(r'href="([^"]+)"', th).group(1).replace("&amp;", "&")


def _api_names(api, user, **body) -> list[str]:
    response = api(user).post(f"{API}/runs/search", {"experiment_ids": ["5"], **body}, format="json")
    assert response.status_code == 200, response.content
    return [r["info"]["run_name"] for r in response.json().get("runs", [])]


# Sorting --------------------------------------------------------------------------------------------------

def test_default_order_is_newest_start_first(client_for, owner, runs):
    html = _get(client_for(owner)).content.decode()
    assert _names(html) == ["baseline-d", "r-c", "r-b", "r-a"]
    assert 'aria-sort="descending"' in _header(html, "time")
    assert 'aria-sort="none"' in _header(html, "accuracy")


@pytest.mark.parametrize("order_by,expected", [
    # runs lacking the metric come last in both directions, as in the REST API
    ("metrics.accuracy DESC", ["r-a", "r-c", "r-b", "baseline-d"]),
    ("metrics.accuracy ASC", ["r-b", "r-c", "r-a", "baseline-d"]),
    ("metrics.loss ASC", ["baseline-d", "r-c", "r-b", "r-a"]),
    # equal values fall back to the API's order: newest start first, then run id
    ("params.solver ASC", ["baseline-d", "r-c", "r-a", "r-b"]),
    ("params.solver DESC", ["r-b", "baseline-d", "r-c", "r-a"]),
    ("attributes.run_name ASC", ["baseline-d", "r-a", "r-b", "r-c"]),
    ("attributes.run_name DESC", ["r-c", "r-b", "r-a", "baseline-d"]),
    ("attributes.start_time ASC", ["r-a", "r-b", "r-c", "baseline-d"]),
    ("attributes.status ASC", ["r-c", "r-b", "r-a", "baseline-d"]),
    ("tags.team ASC", ["r-a", "r-b", "baseline-d", "r-c"]),
])
def test_sort_orders_match_the_rest_api(client_for, api, owner, runs, order_by, expected):
    html = _get(client_for(owner), order_by=order_by).content.decode()
    assert _names(html) == expected
    assert _api_names(api, owner, order_by=[order_by]) == expected


def test_header_shows_current_sort_and_toggles(client_for, owner, runs):
    client = client_for(owner)
    html = _get(client, order_by="metrics.accuracy DESC").content.decode()
    th = _header(html, "accuracy")
    assert 'aria-sort="descending"' in th and "▼" in th
    assert parse_qs(urlsplit(_href(th)).query)["order_by"] == ["metrics.accuracy ASC"]
    assert 'aria-sort="none"' in _header(html, "time") and 'aria-sort="none"' in _header(html, "solver")
    # Following the header link sorts the other way and marks it.
    html = client.get(URL + _href(th)).content.decode()
    assert _names(html) == ["r-b", "r-c", "r-a", "baseline-d"]
    assert 'aria-sort="ascending"' in _header(html, "accuracy")
    # An unsorted column's first click: metrics and start time highest first, names and params A-Z.
    first = {label: parse_qs(urlsplit(_href(_header(html, label))).query)["order_by"][0]
             for label in ("Run", "time", "solver", "loss")}
    assert first == {"Run": "attributes.run_name ASC", "time": "attributes.start_time DESC",
                     "solver": "params.solver ASC", "loss": "metrics.loss DESC"}


def test_attribute_synonyms_mark_the_same_column(client_for, owner, runs):
    html = _get(client_for(owner), order_by="created ASC").content.decode()
    assert _names(html) == ["r-a", "r-b", "r-c", "baseline-d"]
    assert 'aria-sort="ascending"' in _header(html, "time")


def test_keys_that_need_quoting_sort_through_the_header(client_for, owner, experiment):
    _run("low", start=1, metrics={"val loss": [0.1]})
    _run("high", start=2, metrics={"val loss": [0.9]})
    client = client_for(owner)
    href = _href(_header(_get(client).content.decode(), "loss"))
    assert parse_qs(urlsplit(href).query)["order_by"] == ["metrics.`val loss` DESC"]
    html = client.get(URL + href).content.decode()
    assert _names(html) == ["high", "low"] and 'aria-sort="descending"' in _header(html, "loss")


def test_sorted_metric_column_is_shown_beyond_the_column_limit(client_for, owner, experiment):
    _run("many", start=1, metrics={f"m{k:02d}": [float(k)] for k in range(15)})
    client = client_for(owner)
    assert 'metric</span> m14' not in _get(client).content.decode()
    html = _get(client, order_by="metrics.m14 DESC").content.decode()
    assert 'metric</span> m14' in html and html.count('class="metric-col"') == 10
    assert 'metric</span> m12' in _get(client, filter="metrics.m12 > 1").content.decode()


def test_legacy_order_parameter_still_sorts_start_time(client_for, owner, runs):
    html = _get(client_for(owner), order="asc").content.decode()
    assert _names(html) == ["r-a", "r-b", "r-c", "baseline-d"]


# Filtering ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("text,expected", [
    ("metrics.accuracy > 0.9 and params.solver = 'lbfgs'", ["r-c", "r-a"]),
    ("metrics.accuracy > 0.9", ["r-c", "r-a"]),  # the latest value: r-b's 0.99 was earlier
    ("attributes.status = 'FINISHED'", ["r-b", "r-a"]),
    ("tags.team = 'fraud'", ["r-a"]),
    ("attributes.run_name LIKE 'baseline%'", ["baseline-d"]),
    ("params.solver != 'lbfgs'", ["r-b"]),
    ("params.C = '1.0'", ["r-a"]),
    ("attributes.status IN ('FAILED', 'RUNNING')", ["baseline-d", "r-c"]),
])
def test_filters_match_the_rest_api(client_for, api, owner, runs, text, expected):
    response = _get(client_for(owner), filter=text)
    html = response.content.decode()
    assert response.status_code == 200 and _names(html) == expected
    assert f"{len(expected)} run{'s' if len(expected) > 1 else ''} match" in html
    assert _api_names(api, owner, filter=text) == expected


def test_filter_and_sort_together(client_for, owner, runs):
    html = _get(client_for(owner), filter="params.solver = 'lbfgs'", order_by="metrics.accuracy ASC").content.decode()
    assert _names(html) == ["r-c", "r-a", "baseline-d"]
    th = _header(html, "accuracy")
    assert 'aria-sort="ascending"' in th
    # Sorting keeps the filter; the filter form keeps the sort.
    assert parse_qs(urlsplit(_href(th)).query) == {"filter": ["params.solver = 'lbfgs'"],
                                                   "order_by": ["metrics.accuracy DESC"]}
    assert '<input type="hidden" name="order_by" value="metrics.accuracy ASC">' in html


def test_no_match_is_its_own_empty_state(client_for, owner, runs):
    response = _get(client_for(owner), filter="tags.team = 'nobody'")
    html = response.content.decode()
    assert response.status_code == 200 and "No runs match this filter" in html and "runs-table" not in html


def test_experiment_without_runs(client_for, owner, experiment):
    assert "No runs yet" in _get(client_for(owner)).content.decode()


def test_a_nul_in_the_filter_is_a_bad_request_on_the_page_and_the_api(client_for, api, owner, runs):
    assert _get(client_for(owner), filter="a\x00b = 'x'").status_code == 400
    response = api(owner).post(f"{API}/runs/search", {"experiment_ids": ["5"], "filter": "a\x00b = 'x'"},
                               format="json")
    assert response.status_code == 400 and response.json()["error_code"] == "INVALID_PARAMETER_VALUE"


@pytest.mark.parametrize("params", [
    {"filter": "metrics.accuracy >"},
    {"filter": "metrics.accuracy > 0.9 or params.solver = 'sag'"},
    {"filter": "foo.bar = 1"},
    {"filter": "params.solver > 'a'"},
    {"filter": "metrics.accuracy > 'high'"},
    {"filter": "attributes.nope = 'x'"},
    {"filter": "params.solver = 'unterminated"},
    {"order_by": "metrics.accuracy SIDEWAYS"},
    {"order_by": "bogus.key DESC"},
    {"order_by": "attributes.nope"},
])
def test_bad_filter_or_sort_shows_the_parsers_message(client_for, api, owner, runs, params):
    response = _get(client_for(owner), **params)
    html = response.content.decode()
    assert response.status_code == 400
    assert "runs-table" not in html and 'role="alert"' in html
    body = {"filter": params["filter"]} if "filter" in params else {"order_by": [params["order_by"]]}
    api_error = api(owner).post(f"{API}/runs/search", {"experiment_ids": ["5"], **body}, format="json")
    assert api_error.status_code == 400
    assert escape(api_error.json()["message"]) in html  # the very message the REST API gives
    # The text stays in the box to be fixed.
    if "filter" in params and "\x00" not in params["filter"]:
        assert f'value="{escape(params["filter"])}"' in html


def test_bad_filter_message_is_the_grammars(client_for, owner, runs):
    html = _get(client_for(owner), filter="metrics.accuracy > 0.9 or params.solver = 'sag'").content.decode()
    assert "OR is not supported; combine conditions with AND" in html
    with pytest.raises(InvalidParameter) as exc:
        parse_filter("metrics.accuracy > 0.9 or params.solver = 'sag'")
    assert escape(exc.value.message) in html


@pytest.mark.parametrize("text,status,names", [
    ("attributes.start_time > 1e400", 400, None),  # infinity cannot meet an integer column: said so, not a 500
    ("attributes.start_time > 1e30", 200, []),
    ("attributes.end_time < -1e300", 200, []),
    ("metrics.accuracy > 1e400", 200, []),
    ("metrics.accuracy < 1e400", 200, ["r-c", "r-b", "r-a"]),
])
def test_out_of_range_numbers_are_no_server_error(client_for, owner, runs, text, status, names):
    response = _get(client_for(owner), filter=text)
    html = response.content.decode()
    assert response.status_code == status
    if status == 400:
        assert "out of range" in html and "runs-table" not in html
    elif names:
        assert _names(html) == names
    else:
        assert "No runs match this filter" in html


# Paging ---------------------------------------------------------------------------------------------------

def test_paging_keeps_filter_and_sort(client_for, owner, experiment):
    for n in range(30):
        _run(f"run-{n:02d}", start=1000 + n, params={"group": "even" if n % 2 == 0 else "odd"},
             metrics={"score": [float(n)]})
    client = client_for(owner)
    params = {"filter": "params.group = 'even'", "order_by": "metrics.score ASC", "page_size": "10"}
    html = _get(client, **params).content.decode()
    assert _names(html) == [f"run-{n:02d}" for n in range(0, 20, 2)]
    assert "Page 1 of 2 · 15 in all" in html
    next_link = re.search(r'href="([^"]+)" rel="next"', html).group(1).replace("&amp;", "&")
    assert parse_qs(urlsplit(next_link).query) == {**{k: [v] for k, v in params.items()}, "page": ["2"]}
    second = client.get(URL + next_link).content.decode()
    assert _names(second) == [f"run-{n:02d}" for n in range(20, 30, 2)]
    # A page past the end shows the last one.
    assert _names(_get(client, **params, page="9").content.decode()) == _names(second)
    # Sorting from a later page starts again at page 1, with the same page size.
    assert parse_qs(urlsplit(_href(_header(second, "score"))).query) == {
        "filter": ["params.group = 'even'"], "order_by": ["metrics.score DESC"], "page_size": ["10"]}


def test_deleted_runs_are_not_listed(client_for, owner, runs):
    Run.objects.filter(name="r-b").update(lifecycle_stage="deleted")
    html = _get(client_for(owner), filter="attributes.status = 'FINISHED'").content.decode()
    assert _names(html) == ["r-a"]


# Permissions and query bounds -------------------------------------------------------------------------------

@pytest.mark.parametrize("persona,status", [("admin", 200), ("owner", 200), ("reader", 200), ("outsider", 404)])
@pytest.mark.parametrize("params", [{}, {"filter": "metrics.accuracy > 0.9", "order_by": "metrics.accuracy DESC"},
                                    {"filter": "nonsense"}])
def test_permission_matrix(request, client_for, runs, persona, status, params):
    response = _get(client_for(request.getfixturevalue(persona)), **params)
    expected = 400 if status == 200 and params.get("filter") == "nonsense" else status
    assert response.status_code == expected
    if expected == 200 and params:
        assert _names(response.content.decode()) == ["r-a", "r-c"]


def test_only_readable_runs_are_searched(client_for, outsider, runs):
    """The outsider sees the default experiment but never the private experiment's runs through it."""
    _run("public", start=1, metrics={"accuracy": [0.99]}, experiment_id=0)
    html = client_for(outsider).get(reverse("explorer:experiment", args=["0"]) + "?"
                                    + urlencode({"filter": "metrics.accuracy > 0.9"})).content.decode()
    assert _names(html) == ["public"]


def _bulk(experiment_id: int, *, runs: int, keys: int, points: int) -> None:
    for n in range(runs):
        run = make_run(experiment_id)
        run.name, run.start_time, run.status = f"bulk-{n:03d}", n, "FINISHED"
        run.save()
        Param.objects.bulk_create(Param(run=run, key=f"p{k:02d}", value=str(n % 3)) for k in range(keys))
        Metric.objects.bulk_create(Metric(run=run, key=f"m{k:02d}", value=float(n * s), timestamp=s, step=s)
                                   for k in range(keys) for s in range(points))
        RunTag.objects.bulk_create(RunTag(run=run, key=f"t{k}", value="x") for k in range(3))


@pytest.mark.parametrize("params", [
    {},
    {"order_by": "metrics.m05 DESC"},
    {"filter": "metrics.m03 > 10 and params.p01 = '1' and tags.t0 = 'x'", "order_by": "params.p02 ASC",
     "page": "2", "page_size": "50"},
])
def test_query_count_is_bounded(client_for, owner, experiment, django_assert_max_num_queries, params):
    small = Experiment.objects.create(id=6, name="small", artifact_location="mlflow-artifacts:/6", owner_user=owner,
                                      open_to_all=False, creation_time=0, last_update_time=0)
    _bulk(small.pk, runs=2, keys=2, points=2)
    _bulk(experiment.pk, runs=150, keys=30, points=5)
    client = client_for(owner)
    client.get(URL)  # session and caches warmed
    with django_assert_max_num_queries(15) as ctx:  # the whole page for 2 runs with 2 params and 2 metrics
        assert _names(client.get(reverse("explorer:experiment", args=["6"])).content.decode())
    with django_assert_max_num_queries(len(ctx.captured_queries)):
        response = _get(client, **params)
    assert response.status_code == 200 and _names(response.content.decode())
