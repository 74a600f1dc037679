"""Create dialogs (catalog on the home page, schema on a catalog page, model on a schema page): offered only to those
the services allow, refused otherwise (403, or 404 for a parent they may not see) without changing anything,
service errors shown on the form, success audited and answered with the new object's page."""
from __future__ import annotations

from html import unescape

import pytest

from registry.models import AuditEvent, Catalog, RegisteredModel, Schema
from registry.services.grants import grant_add, owner_set
from tests.registry.factories import make_model, state_fingerprint

HX = {"HTTP_HX_REQUEST": "true"}
CREATE_CATALOG = "/create-catalog/"
CREATE_SCHEMA = "/catalogs/prod/create-schema/"
CREATE_MODEL = "/schemas/prod.ml_team/create-model/"
ALL = [CREATE_CATALOG, CREATE_SCHEMA, CREATE_MODEL]


def _state() -> tuple:
    """Everything a create dialog could change, and how many changes were audited as made."""
    return state_fingerprint(), AuditEvent.objects.filter(outcome="success").count()


def _text(response) -> str:
    return unescape(response.content.decode())


# Permissions ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url,persona,status", [
    (CREATE_CATALOG, "admin", 200), (CREATE_CATALOG, "owner", 403), (CREATE_CATALOG, "reader", 403),
    (CREATE_CATALOG, "outsider", 403),
    (CREATE_SCHEMA, "admin", 200), (CREATE_SCHEMA, "owner", 403), (CREATE_SCHEMA, "reader", 403),
    (CREATE_SCHEMA, "outsider", 404),
    (CREATE_MODEL, "admin", 200), (CREATE_MODEL, "owner", 200), (CREATE_MODEL, "reader", 403),
    (CREATE_MODEL, "outsider", 404),
])
def test_create_dialog_permission_matrix(request, client_for, governed, url, persona, status):
    client = client_for(request.getfixturevalue(persona))
    assert client.get(url).status_code == status
    assert client.get(url, **HX).status_code == status
    if status != 200:
        before = _state()
        data = {"name": "sneaky", "comment": "x", "description": "x"}
        assert client.post(url, data).status_code == status
        assert client.post(url, data, **HX).status_code == status
        assert _state() == before


@pytest.mark.parametrize("url", ALL)
def test_signed_out_users_are_sent_to_sign_in(client, governed, url):
    before = _state()
    response = client.post(url, {"name": "anon"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert _state() == before


def test_reader_is_told_why_not(client_for, reader, governed):
    assert "CREATE MODEL" in _text(client_for(reader).get(CREATE_MODEL))
    assert "only metastore admins may create catalogs" in _text(client_for(reader).get(CREATE_CATALOG))


def test_create_schema_privilege_opens_the_schema_dialog(client_for, admin, owner, governed):
    grant_add(actor=admin, securable=governed.catalog, principal=owner, privilege="CREATE SCHEMA")
    client = client_for(owner)
    assert 'hx-get="/catalogs/prod/create-schema/"' in client.get("/catalogs/prod/").content.decode()
    response = client.post(CREATE_SCHEMA, {"name": "owned", "comment": ""})
    assert response.status_code == 302 and response["Location"] == "/schemas/prod.owned/"
    assert Schema.objects.get(catalog__name="prod", name="owned").owner_user == owner


def test_catalog_owner_may_create_schemas(client_for, admin, outsider, governed):
    owner_set(actor=admin, securable=governed.catalog, principal=outsider)
    response = client_for(outsider).post(CREATE_SCHEMA, {"name": "mine"})
    assert response.status_code == 302 and Schema.objects.filter(catalog__name="prod", name="mine").exists()


def test_create_model_without_use_schema_is_refused(client_for, admin, owner, governed):
    from registry.services.grants import grant_remove

    grant_remove(actor=admin, securable=governed, principal=owner, privilege="USE SCHEMA")
    # CREATE MODEL alone still makes the schema visible, but not usable.
    assert client_for(owner).get(CREATE_MODEL).status_code == 403


# Buttons -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("persona,page,link,shown", [
    ("admin", "/", CREATE_CATALOG, True), ("owner", "/", CREATE_CATALOG, False),
    ("reader", "/", CREATE_CATALOG, False), ("outsider", "/", CREATE_CATALOG, False),
    ("admin", "/catalogs/prod/", CREATE_SCHEMA, True), ("owner", "/catalogs/prod/", CREATE_SCHEMA, False),
    ("reader", "/catalogs/prod/", CREATE_SCHEMA, False),
    ("admin", "/schemas/prod.ml_team/", CREATE_MODEL, True), ("owner", "/schemas/prod.ml_team/", CREATE_MODEL, True),
    ("reader", "/schemas/prod.ml_team/", CREATE_MODEL, False),
])
def test_create_buttons_only_for_those_who_may(request, client_for, governed, persona, page, link, shown):
    html = client_for(request.getfixturevalue(persona)).get(page).content.decode()
    assert (f'hx-get="{link}"' in html) is shown
    assert (f'href="{link}"' in html) is shown  # the same link works without JavaScript


def test_admin_pays_no_query_for_the_create_buttons(admin, reader, governed, django_assert_num_queries):
    from explorer.views.create import may_create

    with django_assert_num_queries(0):
        assert may_create(admin, "catalog") and may_create(admin, "schema", governed.catalog)
        assert may_create(admin, "model", governed) and not may_create(reader, "catalog")
    with django_assert_num_queries(1):
        assert not may_create(reader, "schema", governed.catalog)


# Partial and page ----------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ALL)
def test_create_dialog_is_a_partial_for_htmx_and_a_page_otherwise(client_for, admin, governed, url):
    client = client_for(admin)
    partial = client.get(url, **HX).content.decode()
    page = client.get(url).content.decode()
    assert "<html" not in partial and 'id="modal-title"' in partial and f'hx-post="{url}"' in partial
    assert "<html" in page and 'id="modal-title"' in page and f'action="{url}"' in page and 'method="post"' in page
    assert 'name="name"' in partial and 'data-close-modal' in partial


# Success -------------------------------------------------------------------------------------------------

def test_admin_creates_a_catalog_and_lands_on_it(client_for, admin, governed):
    response = client_for(admin).post(CREATE_CATALOG, {"name": "Sandbox", "comment": "for experiments"})
    assert response.status_code == 302 and response["Location"] == "/catalogs/sandbox/"
    catalog = Catalog.objects.get(name="sandbox")
    assert catalog.comment == "for experiments" and catalog.owner_user == admin
    assert AuditEvent.objects.filter(action="catalog.create", outcome="success", via="ui", actor=admin,
                                     object_name="sandbox").exists()


def test_create_catalog_with_htmx_redirects_the_page(client_for, admin, governed):
    response = client_for(admin).post(CREATE_CATALOG, {"name": "htmx_made"}, **HX)
    assert response.status_code == 204 and response["HX-Redirect"] == "/catalogs/htmx_made/"
    assert Catalog.objects.filter(name="htmx_made").exists()


def test_admin_creates_a_schema_and_lands_on_it(client_for, admin, governed):
    client = client_for(admin)
    response = client.post(CREATE_SCHEMA, {"name": "features", "comment": "feature models"}, **HX)
    assert response.status_code == 204 and response["HX-Redirect"] == "/schemas/prod.features/"
    schema = Schema.objects.get(catalog__name="prod", name="features")
    assert schema.comment == "feature models" and schema.owner_user == admin
    assert AuditEvent.objects.filter(action="schema.create", outcome="success", via="ui",
                                     object_name="prod.features").exists()
    assert client.get("/schemas/prod.features/").status_code == 200


def test_owner_creates_a_model_and_lands_on_it(client_for, owner, governed):
    client = client_for(owner)
    response = client.post(CREATE_MODEL, {"name": "Churn", "description": "Predicts **churn**."})
    assert response.status_code == 302 and response["Location"] == "/models/prod.ml_team.churn/"
    model = RegisteredModel.objects.get(schema=governed, name="churn")
    assert model.description == "Predicts **churn**." and model.owner_user == owner
    assert AuditEvent.objects.filter(action="registered_model.create", outcome="success", via="ui", actor=owner,
                                     object_name="prod.ml_team.churn").exists()
    page = client.get(response["Location"])
    assert page.status_code == 200 and "<strong>churn</strong>" in page.content.decode()


def test_create_model_with_htmx_redirects_the_page(client_for, admin, governed):
    response = client_for(admin).post(CREATE_MODEL, {"name": "x_1"}, **HX)
    assert response.status_code == 204 and response["HX-Redirect"] == "/models/prod.ml_team.x_1/"


# Errors --------------------------------------------------------------------------------------------------

BAD_NAMES = [
    ("a.b", "must not contain a period"),
    ("a b", "must not contain a space"),
    ("a/b", "must not contain a slash"),
    ("evil\u202eexe", "bidirectional"),
    ("zero\u200bwidth", "bidirectional"),
    ("tab\tbed", "whitespace"),
    ("nul\x00byte", "Null characters are not allowed"),
    ("", "This field is required"),
    ("   ", "This field is required"),
    ("x" * 256, "at most 255 characters"),
]


@pytest.mark.parametrize("url", ALL)
@pytest.mark.parametrize("name,message", BAD_NAMES)
@pytest.mark.parametrize("htmx", [True, False])
def test_bad_names_are_form_errors_and_change_nothing(client_for, admin, governed, url, name, message, htmx):
    before = _state()
    response = client_for(admin).post(url, {"name": name, "comment": "c", "description": "d"}, **(HX if htmx else {}))
    assert response.status_code == 200
    html = _text(response)
    assert message in html and 'class="field has-error"' in response.content.decode()
    assert ("<html" in html) is not htmx
    assert _state() == before


@pytest.mark.parametrize("url,taken,message", [
    (CREATE_CATALOG, "prod", "Catalog 'prod' already exists."),
    (CREATE_CATALOG, "PROD", "Catalog 'prod' already exists."),
    (CREATE_SCHEMA, "ml_team", "Schema 'prod.ml_team' already exists."),
    (CREATE_SCHEMA, "ML_Team", "Schema 'prod.ml_team' already exists."),
    (CREATE_MODEL, "iris", "Registered Model (name=prod.ml_team.iris) already exists."),
    (CREATE_MODEL, "IRIS", "Registered Model (name=prod.ml_team.iris) already exists."),
])
def test_duplicates_are_form_errors_and_change_nothing(client_for, admin, owner, governed, url, taken, message):
    make_model(owner, "prod.ml_team.iris", description="kept")
    before = _state()
    response = client_for(admin).post(url, {"name": taken, "comment": "new", "description": "new"}, **HX)
    assert response.status_code == 200 and message in _text(response)
    assert _state() == before
    assert RegisteredModel.objects.get(name="iris").description == "kept"
    assert Catalog.objects.get(name="prod").comment == "production"
    assert AuditEvent.objects.filter(outcome="failed", message=message).exists()


@pytest.mark.parametrize("url,field", [(CREATE_CATALOG, "comment"), (CREATE_SCHEMA, "comment"),
                                       (CREATE_MODEL, "description")])
def test_too_long_comment_is_an_error_on_that_field(client_for, admin, governed, settings, url, field):
    settings.REGISTRY_MAX_DESCRIPTION_LENGTH = 10
    before = _state()
    response = client_for(admin).post(url, {"name": "fine", field: "x" * 11}, **HX)
    html = response.content.decode()
    assert response.status_code == 200 and "at most 10 characters" in html
    # The error sits under the comment/description, not under the name.
    assert html.index("at most 10 characters") > html.index(f'name="{field}"')
    assert _state() == before


def test_typed_name_is_kept_after_an_error(client_for, admin, governed):
    html = client_for(admin).post(CREATE_SCHEMA, {"name": "ml_team", "comment": "my words"}, **HX).content.decode()
    assert 'value="ml_team"' in html and "my words</textarea>" in html


# Hostile input -------------------------------------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>", "\"><img src=x onerror=alert(1)>", "'; DROP TABLE registry_catalog; --",
    "%00", "..", "../../etc/passwd", "{{ 7*7 }}", "{% debug %}", "ｆｕｌｌｗｉｄｔｈ", "İstanbul", "😀", "-", "_",
    "a" * 255, "\r\n", "\ufeffbom", "\u0301combining", "name\\back",
]


@pytest.mark.parametrize("url", ALL)
@pytest.mark.parametrize("value", HOSTILE)
def test_hostile_input_never_fails_the_server(client_for, admin, governed, url, value):
    client = client_for(admin)
    for headers in ({}, HX):
        response = client.post(url, {"name": value, "comment": value, "description": value}, **headers)
        assert response.status_code in (200, 204, 302), (value, response.status_code)
        html = response.content.decode()
        assert "<script>alert(1)" not in html and "<img src=x" not in html


@pytest.mark.parametrize("url", ALL)
def test_odd_posts_never_fail_the_server(client_for, admin, governed, url):
    client = client_for(admin)
    before = _state()
    assert client.post(url, {}).status_code == 200
    assert client.post(url, {"comment": ["a", "b"], "description": "\x00"}).status_code == 200
    assert client.post(url, b"\xff\xfe", content_type="application/json").status_code == 200
    assert client.post(url, {"name": "ok", "comment": "\x00", "description": "\x00"}).status_code == 200
    assert _state() == before
    # Undecodable bytes in a form body are refused by the request guard before any view runs, never a crash.
    assert client.post(url, "name=%ff%fe", content_type="application/x-www-form-urlencoded").status_code == 400
    assert _state() == before


@pytest.mark.parametrize("url", ["/catalogs/%00/create-schema/", "/schemas/%00.x/create-model/"])
def test_a_nul_in_a_parents_name_is_a_bad_request(client_for, admin, governed, url):
    before = _state()
    assert client_for(admin).get(url).status_code == 400
    assert client_for(admin).post(url, {"name": "x"}).status_code == 400
    assert _state() == before


@pytest.mark.parametrize("url", ["/catalogs/nope/create-schema/", "/catalogs/a b/create-schema/",
                                 "/catalogs/a.b/create-schema/",
                                 "/schemas/prod/create-model/", "/schemas/a.b.c/create-model/",
                                 "/schemas/prod.nope/create-model/",
                                 "/schemas/nope.ml_team/create-model/"])
def test_unknown_or_malformed_parents_are_404(client_for, admin, governed, url):
    before = _state()
    assert client_for(admin).get(url).status_code == 404
    assert client_for(admin).post(url, {"name": "x"}).status_code == 404
    assert _state() == before
