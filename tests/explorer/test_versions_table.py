"""A model with hundreds of versions (issue 16 §2): the versions table filters by status, alias, tag and text,
has a page size and a jump to one version, in a bounded number of queries; compare picking reaches every
version and fewer than two chosen is not an error page."""
from __future__ import annotations

import re

from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.models import ModelVersion

BIG = "/models/prod.ml_team.big/"


def _versions_shown(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'<tr id="version-(\d+)">', html)]


def test_page_size_and_default(client_for, reader, big_model):
    client = client_for(reader)
    assert _versions_shown(client.get(BIG).content.decode()) == list(range(300, 250, -1))
    html = client.get(BIG + "?page_size=10&page=2").content.decode()
    assert _versions_shown(html) == list(range(290, 280, -1))
    assert '<option value="10" selected>10</option>' in html and "Page 2 of 30" in html
    assert "{#" not in html and 'aria-label="Filter versions"' in html


def test_a_short_table_has_no_filter_tools(client_for, reader, iris):
    html = client_for(reader).get("/models/prod.ml_team.iris/").content.decode()
    assert 'aria-label="Filter versions"' not in html and 'id="version-2"' in html


def test_filters_by_status_alias_tag_and_text(client_for, owner, reader, big_model):
    ModelVersion.objects.filter(model=big_model, version__in=[5, 6]).update(status="FAILED_REGISTRATION",
                                                                           description="Broken **run**")
    client = client_for(reader)
    assert _versions_shown(client.get(BIG + "?status=failed").content.decode()) == [6, 5]
    assert _versions_shown(client.get(BIG + "?alias=a3x").content.decode()) == [21]
    assert _versions_shown(client.get(BIG + "?alias=@A3X").content.decode()) == [21]  # as typed in a chip
    assert _versions_shown(client.get(BIG + "?alias=*").content.decode()) == [63, 56, 49, 42, 35, 28, 21, 14, 7]
    assert _versions_shown(client.get(BIG + "?tag=k=123").content.decode()) == [123]
    assert len(_versions_shown(client.get(BIG + "?tag=k").content.decode())) == 50  # every version has `k`
    assert _versions_shown(client.get(BIG + "?tag=nope").content.decode()) == []
    assert _versions_shown(client.get(BIG + "?q=broken").content.decode()) == [6, 5]
    assert _versions_shown(client.get(BIG + "?q=250").content.decode()) == [250]
    html = client.get(BIG + "?status=failed&q=nothing").content.decode()
    assert "No version matches these filters." in html and "Versions <span class=\"count\">0 of 300</span>" in html
    # The filters stay in the pager's links.
    html = client.get(BIG + "?status=ready&page_size=10").content.decode()
    assert "status=ready" in re.search(r'<a href="([^"]+)" rel="next"', html).group(1)


def test_jump_goes_to_the_page_holding_that_version(client_for, reader, big_model):
    client = client_for(reader)
    response = client.get(BIG + "?jump=117&page_size=25")
    # 300..276 is page 1, ..., 125..101 is page 8
    assert response.status_code == 302 and response["Location"] == BIG + "?page_size=25&page=8#version-117"
    assert 117 in _versions_shown(client.get(response["Location"]).content.decode())
    response = client.get(BIG + "?jump=21&alias=*")
    assert response["Location"] == BIG + "?alias=%2A#version-21"
    html = client.get(BIG + "?jump=22&alias=*").content.decode()
    assert "Version 22 is not among the versions shown; clear the filters to look for it." in html
    assert "prod.ml_team.big has no version 999." in client.get(BIG + "?jump=999").content.decode()
    assert "has no version abc." in client.get(BIG + "?jump=abc").content.decode()


def test_the_table_costs_the_same_queries_for_10_or_100_rows_and_any_filter(client_for, reader, big_model):
    client = client_for(reader)
    counts = {}
    for query in ("?page_size=10", "?page_size=100", "?page_size=100&status=ready&alias=*&tag=k&q=1"):
        client.get(BIG + query)  # warm caches (session, content types)
        with CaptureQueriesContext(connection) as queries:
            assert client.get(BIG + query).status_code == 200
        counts[query] = len(queries)
    assert counts["?page_size=10"] == counts["?page_size=100"]
    assert counts["?page_size=100&status=ready&alias=*&tag=k&q=1"] <= counts["?page_size=100"] + 1
    assert max(counts.values()) <= 30


def test_compare_with_fewer_than_two_versions_is_a_picker_not_an_error(client_for, reader, big_model):
    client = client_for(reader)
    for query in ("", "?versions=", "?versions=7", "?versions=7,7"):
        response = client.get(BIG + "compare/" + query)
        html = response.content.decode()
        assert response.status_code == 200, query
        assert 'role="alert"' not in html and "Cannot compare" not in html
        assert '<details class="compare-picker panel" open>' in html and "Pick at least 2 versions" in html
    html = client.get(BIG + "compare/?versions=7").content.decode()
    assert 'name="versions" value="7" checked' in html  # ticked again, though older than the newest 50


def test_compare_picker_reaches_every_version_by_number(client_for, reader, big_model):
    client = client_for(reader)
    html = client.get(BIG + "compare/").content.decode()
    assert 'id="compare-numbers" name="more"' in html  # any version by its number
    assert 'value="250"' not in html.split('id="compare-numbers"')[0].split("picker-options")[-1]
    # The typed numbers join the ticked ones in one shareable URL: version 3 is far below the listed 50.
    response = client.get(BIG + "compare/?versions=300&more=3,%2012&diff=1")
    assert response.status_code == 302
    assert response["Location"] == BIG + "compare/?versions=300&versions=3%2C+12&diff=1"
    assert client.get(BIG + "compare/?versions=300&more=").headers["Location"] == BIG + "compare/?versions=300"
    response = client.get(response["Location"])
    assert response.status_code == 200
    assert [c for c in ("Version 300", "Version 3", "Version 12") if c in response.content.decode()] == [
        "Version 300", "Version 3", "Version 12"]


def test_source_run_is_its_name_linked_with_the_id_on_hover(client_for, owner, reader, iris):
    from registry.models import Run
    from registry.services.tracking import experiment_create

    mv = iris.versions.get(version=1)
    Run.objects.filter(run_id=mv.run_id).update(name="bright-owl-7")
    html = client_for(owner).get("/models/prod.ml_team.iris/").content.decode()
    assert f'<a href="/runs/{mv.run_id}/" title="Run {mv.run_id}">bright-owl-7</a>' in html
    assert f'href="/runs/{mv.run_id}/"' in client_for(reader).get("/models/prod.ml_team.iris/").content.decode()
    # In an experiment `reader` may not read, the run is neither named nor linked.
    private = experiment_create(actor=owner, name="private-training")
    Run.objects.filter(run_id=mv.run_id).update(experiment=private)
    body = client_for(reader).get("/models/prod.ml_team.iris/").content.decode()
    assert 'id="version-1"' in body
    assert "bright-owl-7" not in body and f'href="/runs/{mv.run_id}/"' not in body


def test_long_full_names_break_after_their_dots(client_for, reader, iris):
    from explorer.templatetags.explorer_tags import break_at_dots

    html = client_for(reader).get("/models/prod.ml_team.iris/").content.decode()
    assert "<h1>prod.<wbr>ml_team.<wbr>iris</h1>" in html
    assert break_at_dots("<b>.x&y") == "&lt;b&gt;.<wbr>x&amp;y"
    assert break_at_dots("iris ws") == "iris ws"
