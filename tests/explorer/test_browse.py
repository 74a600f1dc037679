"""Sign-in, the home page, the navigation tree, catalog and schema pages, workspace list and search."""
import pytest
from django.urls import reverse

from registry.services.catalogs import catalog_create, schema_create
from tests.explorer.conftest import MODEL
from tests.registry.factories import make_model


def test_pages_need_a_signed_in_user(client, iris):
    for url in ("/", "/models/", f"/models/{MODEL}/", "/catalogs/prod/", "/search/?q=iris", "/nav/catalogs/prod/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/accounts/login/"), url


def test_login_page_signs_in_and_out(client, owner):
    page = client.get("/accounts/login/")
    assert page.status_code == 200 and b"Sign in" in page.content
    response = client.post("/accounts/login/", {"username": "owner", "password": "pw-owner"})
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert client.post("/accounts/logout/").status_code == 200
    assert client.get("/").status_code == 302


def test_wrong_password_is_an_error_not_a_crash(client, owner):
    response = client.post("/accounts/login/", {"username": "owner", "password": "nope"})
    assert response.status_code == 200 and b"role=\"alert\"" in response.content


def test_home_lists_only_visible_catalogs(client_for, admin, reader, outsider, governed):
    catalog_create(actor=admin, name="secret")
    assert b"secret" in client_for(admin).get("/").content
    reader_page = client_for(reader).get("/").content
    assert b"/catalogs/prod/" in reader_page and b"/catalogs/secret/" not in reader_page
    outsider_page = client_for(outsider).get("/").content
    assert b"No catalogs yet" in outsider_page


@pytest.mark.parametrize("persona,status", [("admin", 200), ("owner", 200), ("reader", 200), ("outsider", 404)])
def test_catalog_and_schema_pages_permission_matrix(request, client_for, iris, persona, status):
    client = client_for(request.getfixturevalue(persona))
    assert client.get("/catalogs/prod/").status_code == status
    assert client.get("/schemas/prod.ml_team/").status_code == status
    assert client.get("/catalogs/prod/permissions/").status_code == status
    assert client.get("/nav/catalogs/prod/").status_code == status
    assert client.get("/nav/schemas/prod.ml_team/").status_code == status


def test_schema_page_lists_models_with_owner_and_description(client_for, reader, iris):
    page = client_for(reader).get("/schemas/prod.ml_team/")
    assert b"iris" in page.content and b"owner" in page.content and b"Iris" in page.content


def test_schema_page_hides_models_without_execute(client_for, owner, reader, governed):
    make_model(owner, "prod.ml_team.hidden")
    assert b"/models/prod.ml_team.hidden/" not in client_for(reader).get("/schemas/prod.ml_team/").content
    assert b"/models/prod.ml_team.hidden/" in client_for(owner).get("/schemas/prod.ml_team/").content


def test_catalog_page_pages_its_schemas(client_for, admin):
    catalog_create(actor=admin, name="many")
    for i in range(15):
        schema_create(actor=admin, catalog_name="many", name=f"s{i:02d}")
    first = client_for(admin).get("/catalogs/many/?page_size=10")
    assert b"s09" in first.content and b"s10" not in first.content and b"Page 1 of 2" in first.content
    second = client_for(admin).get("/catalogs/many/?page_size=10&page=2")
    assert b"s10" in second.content
    assert client_for(admin).get("/catalogs/many/?page=abc&page_size=zz").status_code == 200


def test_nav_tree_lazy_loads_schemas_and_models(client_for, reader, iris):
    client = client_for(reader)
    root = client.get("/").content.decode()
    assert 'hx-get="/nav/catalogs/prod/"' in root
    schemas = client.get("/nav/catalogs/prod/").content.decode()
    assert 'hx-get="/nav/schemas/prod.ml_team/"' in schemas
    models = client.get("/nav/schemas/prod.ml_team/").content.decode()
    assert f'href="/models/{MODEL}/"' in models


@pytest.mark.parametrize("url", ["/catalogs/nope/", "/catalogs/a b/", "/schemas/prod/", "/schemas/a.b.c/",
                                 "/schemas/prod.nope/", f"/models/{MODEL}x/",
                                 "/models/a.b/", "/models/prod.ml_team.iris/versions/99/"])
def test_bad_names_are_404_not_500(client_for, admin, iris, url):
    assert client_for(admin).get(url).status_code == 404


def test_a_nul_in_a_name_is_a_bad_request_not_500(client_for, admin, iris):
    # The request guard refuses text no database can store before any view looks the name up.
    assert client_for(admin).get("/nav/catalogs/%00/").status_code == 400


def test_search_finds_by_name_description_and_tag_within_visibility(client_for, owner, reader, outsider, iris):
    make_model(owner, "prod.ml_team.fraud", description="detects fraud")
    for q in ("iris", "flowers", "classification"):
        assert MODEL.encode() in client_for(reader).get(reverse("explorer:search"), {"q": q}).content, q
    assert b"prod.ml_team.fraud" not in client_for(reader).get("/search/", {"q": "fraud"}).content
    assert b"prod.ml_team.fraud" in client_for(owner).get("/search/", {"q": "fraud"}).content
    assert MODEL.encode() not in client_for(outsider).get("/search/", {"q": "iris"}).content


def test_workspace_registry_page(client_for, owner, outsider):
    make_model(owner, "Legacy Model")
    assert b"Legacy Model" in client_for(owner).get("/workspace/").content
    assert b"Legacy Model" not in client_for(outsider).get("/workspace/").content
    assert b"Legacy Model" in client_for(owner).get("/nav/workspace/").content
