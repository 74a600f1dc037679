"""The models list: visibility, filter box (plain and expert), sort, paging in the URL, three empty states."""
import re
from html import unescape as html_unescape

import pytest

from registry.models import RegisteredModel
from tests.explorer.conftest import MODEL
from tests.registry.factories import make_model


def test_lists_only_visible_models_with_aliases_and_latest(client_for, owner, reader, iris):
    make_model(owner, "prod.ml_team.private")
    html = client_for(reader).get("/models/").content.decode()
    assert MODEL in html and "prod.ml_team.private" not in html
    assert "Champion: Version 1" in html and "Version 2" in html and "owner" in html


def test_plain_text_means_name_contains(client_for, owner, iris):
    make_model(owner, "prod.ml_team.fraud_detector")
    html = client_for(owner).get("/models/", {"q": "fraud"}).content.decode()
    assert "fraud_detector" in html and f"/models/{MODEL}/" not in html


@pytest.mark.parametrize("q", ["it's", "100%", "a_b", "\\", "'; DROP TABLE x; --", "ñandú"])
def test_plain_text_with_special_characters_never_breaks(client_for, owner, iris, q):
    response = client_for(owner).get("/models/", {"q": q})
    assert response.status_code == 200 and b"No models match" in response.content


def test_expert_syntax_is_used_as_is(client_for, owner, iris):
    make_model(owner, "prod.ml_team.other")
    html = client_for(owner).get("/models/", {"q": "tags.task = 'classification'"}).content.decode()
    assert f"/models/{MODEL}/" in html and "prod.ml_team.other" not in html


def test_invalid_expert_syntax_is_an_error_state(client_for, owner, iris):
    response = client_for(owner).get("/models/", {"q": "name = "})
    assert response.status_code == 200 and b"could not be used" in response.content and b"Reset filters" in response.content


def test_empty_state_without_models(client_for, outsider):
    assert b"No models registered yet" in client_for(outsider).get("/models/").content


def test_sort_and_cursor_paging(client_for, owner, governed):
    for i in range(12):
        make_model(owner, f"prod.ml_team.m{i:02d}")
    client = client_for(owner)
    first = client.get("/models/", {"page_size": 10, "sort": "name"}).content.decode()
    assert "prod.ml_team.m00" in first and "prod.ml_team.m10" not in first and "page_token=" in first
    next_href = html_unescape(re.search(r'href="(\?[^"]*page_token=[^"]*)" rel="next"', first).group(1))
    second = client.get("/models/" + next_href).content.decode()
    assert "prod.ml_team.m10" in second and "Previous" in second
    desc = client.get("/models/", {"page_size": 10, "sort": "-name"}).content.decode()
    assert desc.index("prod.ml_team.m11") < desc.index("prod.ml_team.m05")


@pytest.mark.parametrize("params", [{"page_size": "5000"}, {"page_size": "x"}, {"sort": "bogus"},
                                    {"page_token": "garbage!!"}, {"q": "x" * 5000}])
def test_bad_parameters_never_500(client_for, owner, iris, params):
    assert client_for(owner).get("/models/", params).status_code == 200


def test_models_list_has_bounded_queries(client_for, owner, reader, governed, django_assert_max_num_queries):
    from registry.services.grants import grant_add

    for i in range(60):
        model = make_model(owner, f"prod.ml_team.q{i:02d}", tags={"task": "t"})
        grant_add(actor=owner, securable=model, principal=reader, privilege="EXECUTE")
    client = client_for(reader)
    client.get("/")
    with django_assert_max_num_queries(20):
        response = client.get("/models/", {"page_size": 50})
    assert response.status_code == 200 and RegisteredModel.objects.count() == 60


def _listed(html: str) -> list[str]:
    return re.findall(r'<td><a href="/models/([^"/]+)/">', html)


def test_sort_by_owner_both_ways_with_the_name_breaking_ties(client_for, admin, owner, member, team, governed):
    from registry.selectors import model_get
    from registry.services.grants import grant_add, owner_set

    grant_add(actor=admin, securable=governed, principal=member, privilege="CREATE MODEL")
    for principal in (member, team):
        grant_add(actor=admin, securable=governed.catalog, principal=principal, privilege="USE CATALOG")
        grant_add(actor=admin, securable=governed, principal=principal, privilege="USE SCHEMA")
    make_model(owner, "prod.ml_team.b_owned")
    make_model(owner, "prod.ml_team.a_owned")
    make_model(member, "prod.ml_team.c_member")
    make_model(owner, "prod.ml_team.d_team")
    owner_set(actor=admin, securable=model_get(actor=admin, name="prod.ml_team.d_team"), principal=team)
    client = client_for(admin)

    ascending = client.get("/models/", {"sort": "owner"}).content.decode()
    # Owners shown: member, ml_team (the group), owner, owner.
    assert _listed(ascending) == ["prod.ml_team.c_member", "prod.ml_team.d_team", "prod.ml_team.a_owned",
                                  "prod.ml_team.b_owned"]
    assert '<option value="owner" selected>Owner A-Z</option>' in ascending
    descending = client.get("/models/", {"sort": "-owner"}).content.decode()
    assert _listed(descending) == ["prod.ml_team.a_owned", "prod.ml_team.b_owned", "prod.ml_team.d_team",
                                   "prod.ml_team.c_member"]


def test_sort_by_owner_pages_through_in_the_url(client_for, owner, governed):
    for i in range(12):
        make_model(owner, f"prod.ml_team.m{i:02d}")
    client = client_for(owner)
    first = client.get("/models/", {"page_size": 10, "sort": "-owner"}).content.decode()
    next_href = html_unescape(re.search(r'href="(\?[^"]*page_token=[^"]*)" rel="next"', first).group(1))
    assert "sort=-owner" in next_href
    second = client.get("/models/" + next_href).content.decode()
    assert _listed(first) + _listed(second) == [f"prod.ml_team.m{i:02d}" for i in range(12)]


def test_owner_column_header_sorts_and_reverses(client_for, owner, iris):
    html = client_for(owner).get("/models/", {"sort": "owner"}).content.decode()
    header = re.search(r'<th scope="col" aria-sort="(\w+)"><a href="([^"]+)">Owner</a>', html)
    assert header.group(1) == "ascending" and "sort=-owner" in html_unescape(header.group(2))
    name = re.search(r'<th scope="col" aria-sort="(\w+)"><a href="([^"]+)">Name</a>', html)
    assert name.group(1) == "none" and "sort=name" in html_unescape(name.group(2))


def test_the_api_does_not_accept_the_ui_only_owner_sort(owner, iris):
    from registry.errors import InvalidParameter
    from registry.search import search_registered_models

    with pytest.raises(InvalidParameter):
        search_registered_models(actor=owner, order_by=["owner ASC"])
