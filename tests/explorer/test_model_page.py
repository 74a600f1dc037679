"""The model page tabs: what each persona sees and may do, and bounded queries on hundreds of versions."""
import pytest

from registry.models import Grant
from tests.explorer.conftest import MODEL

TABS = ["", "details/", "permissions/", "lineage/", "history/"]


@pytest.mark.parametrize("tab", TABS)
@pytest.mark.parametrize("persona,status", [("admin", 200), ("owner", 200), ("reader", 200), ("outsider", 404)])
def test_model_tabs_permission_matrix(request, client_for, iris, tab, persona, status):
    response = client_for(request.getfixturevalue(persona)).get(f"/models/{MODEL}/{tab}")
    assert response.status_code == status


def test_overview_shows_versions_aliases_tags_and_sanitised_description(client_for, reader, iris):
    html = client_for(reader).get(f"/models/{MODEL}/").content.decode()
    assert "<h1>Iris</h1>" in html and "<strong>iris</strong>" in html
    assert "Version 1" in html and "Version 2" in html
    assert "@Champion" in html and "validation_status" in html and "classification" in html
    assert 'title="Ready"' in html


def test_reader_is_not_offered_changes(client_for, reader, iris):
    html = client_for(reader).get(f"/models/{MODEL}/").content.decode()
    for url in ("/aliases/", "/tags/", "/description/", "/rename/", "/delete/"):
        assert f"/models/{MODEL}{url}" not in html


def test_owner_is_offered_every_change(client_for, owner, iris):
    html = client_for(owner).get(f"/models/{MODEL}/").content.decode()
    for url in ("/aliases/", "/tags/", "/description/", "/rename/", "/delete/"):
        assert f"/models/{MODEL}{url}" in html
    assert "/grants/model/prod.ml_team.iris/owner/" in html


def test_tabs_are_links_with_the_current_one_marked(client_for, reader, iris):
    html = client_for(reader).get(f"/models/{MODEL}/details/").content.decode()
    assert f'href="/models/{MODEL}/details/" aria-current="page"' in html
    assert f'href="/models/{MODEL}/history/"' in html
    assert "mlflow-artifacts:/registry/" in html and str(iris.uid) in html


def test_description_script_is_not_rendered(client_for, owner, iris):
    from registry.services.models import registered_model_update

    registered_model_update(actor=owner, name=MODEL, description="<script>alert(1)</script>[x](javascript:alert(2))")
    html = client_for(owner).get(f"/models/{MODEL}/").content.decode()
    assert "alert(1)" not in html and "javascript:alert" not in html


def test_permissions_tab_shows_direct_and_inherited_grants(client_for, reader, iris):
    html = client_for(reader).get(f"/models/{MODEL}/permissions/").content.decode()
    assert "EXECUTE" in html and "direct" in html
    assert "USE SCHEMA" in html and "schema prod.ml_team" in html
    assert "USE CATALOG" in html and "catalog prod" in html
    assert "/grants/model/" not in html  # read-only for a reader


def test_permissions_tab_offers_grant_and_revoke_to_owner(client_for, owner, iris):
    html = client_for(owner).get(f"/models/{MODEL}/permissions/").content.decode()
    assert f"/grants/model/{MODEL}/grant/" in html and f"/grants/model/{MODEL}/revoke/" in html


def test_history_lists_audit_events_of_model_and_versions(client_for, reader, iris):
    html = client_for(reader).get(f"/models/{MODEL}/history/").content.decode()
    for action in ("registered_model.create", "model_version.create", "registered_model.set_alias",
                   "model_version.set_tag", "grant.add"):
        assert action in html


@pytest.mark.parametrize("tab", TABS)
def test_model_tabs_have_bounded_queries(client_for, reader, big_model, django_assert_max_num_queries, tab):
    client = client_for(reader)
    client.get("/")  # session and user loading warmed up
    with django_assert_max_num_queries(40):
        response = client.get(f"/models/prod.ml_team.big/{tab}")
    assert response.status_code == 200


def test_versions_table_pages_through_hundreds(client_for, reader, big_model):
    html = client_for(reader).get("/models/prod.ml_team.big/?page=2").content.decode()
    assert "Version 250" in html and "Version 251" not in html and "Page 2 of 6" in html


def test_grant_rows_are_read_from_tables(iris, reader):
    assert Grant.objects.filter(model=iris, user=reader, privilege="EXECUTE").exists()
