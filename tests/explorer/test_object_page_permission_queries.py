"""What a non-admin's model and version pages cost in permission queries: everything the page offers (buttons and
tabs) is answered by one `permissions.abilities` query, however many actions are refused."""
from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from registry.services.grants import grant_add
from tests.explorer.conftest import MODEL

# Lineage tabs are left out: the lineage graph checks the visibility of each node it shows, which an admin skips.
MODEL_TABS = ["", "details/", "permissions/", "history/"]
VERSION_TABS = ["", "artifacts/", "history/"]
PAGES = [f"/models/{MODEL}/{tab}" for tab in MODEL_TABS] + [f"/models/{MODEL}/versions/1/{tab}" for tab in VERSION_TABS]


def _count(client, url: str) -> int:
    client.get(url)  # session, user and caches warmed up
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200, url
    return len(ctx.captured_queries)


# Pages that show versions' sources also decide what the reader may see of them (registry.source_visibility): one
# query more for a non-admin, and one to load the versions the model's history is about.
PROVENANCE_QUERIES = {f"/models/{MODEL}/": 1, f"/models/{MODEL}/history/": 2, f"/models/{MODEL}/versions/1/": 1,
                      f"/models/{MODEL}/versions/1/history/": 1}


@pytest.mark.parametrize("url", PAGES)
def test_a_reader_pays_one_query_more_than_an_admin(client_for, admin, reader, iris, url):
    """The admin's abilities need no query; the reader's four refused actions (modify, tag, delete, manage
    grants) used to cost three or four queries each."""
    extra = PROVENANCE_QUERIES.get(url, 0)
    assert _count(client_for(reader), url) == _count(client_for(admin), url) + 1 + extra


@pytest.mark.parametrize("url", PAGES)
def test_the_query_count_does_not_depend_on_which_actions_are_allowed(client_for, admin, owner, reader, member, team,
                                                                     governed, iris, url):
    """Owner: everything allowed; reader: everything refused; member: only tagging, through its group."""
    for securable, privilege in ((governed.catalog, "USE CATALOG"), (governed, "USE SCHEMA"), (iris, "EXECUTE"),
                                 (iris, "APPLY TAG")):
        grant_add(actor=admin, securable=securable, principal=team, privilege=privilege)
    counts = {persona.username: _count(client_for(persona), url) for persona in (owner, reader, member)}
    assert counts["owner"] == counts["reader"] == counts["member"], counts


# Measured 10 and 9 (2026-11-26); the page header used to cost 16 permission queries on its own. The version page
# asks one more since 2026-12-02: whether serving is on for the model (its REST snippet).
# Since 2026-12-02 the Overview tabs also read their comment thread (one query), and the model page whether the
# viewer follows the model (one) and which of its aliases are protected (one, the approvals' lock marks), and the
# versions table names the source runs the viewer may read (one, for all the listed versions).
@pytest.mark.parametrize("url,limit", [(f"/models/{MODEL}/", 16), (f"/models/{MODEL}/versions/1/", 13)])
def test_model_and_version_overview_query_counts_for_a_reader(client_for, reader, iris, url, limit):
    assert _count(client_for(reader), url) <= limit


def test_tabs_needing_an_action_are_answered_with_the_page_abilities(reader, owner, iris, django_assert_num_queries):
    from explorer.tabs import Tab, render_tabs
    from registry.permissions import Action

    tabs = (Tab("Overview", "explorer:model"), Tab("Permissions", "explorer:model_permissions", Action.MANAGE_GRANTS))
    kwargs = {"name": MODEL}
    with django_assert_num_queries(0):  # the page already knows: no query
        shown = render_tabs(tabs, actor=reader, obj=iris, kwargs=kwargs, active="explorer:model",
                            allowed={Action.MANAGE_GRANTS: False})
    assert [t.label for t in shown] == ["Overview"]
    with django_assert_num_queries(1):  # asked on its own: one query
        shown = render_tabs(tabs, actor=owner, obj=iris, kwargs=kwargs, active="explorer:model")
    assert [t.label for t in shown] == ["Overview", "Permissions"]
