"""Identities pages (groups, service principals, a principal's page: admins only), the principal pickers, the
search suggestions (never what the user may not see), the runs and experiments results, and plain-text excerpts."""
from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from django.urls import reverse

from explorer.markdown import first_line, plain_excerpt
from registry.models import Experiment, PersonalAccessToken, Run, ServicePrincipal
from registry.services.aliases import alias_set
from registry.services.grants import grant_add
from registry.services.groups import group_create, group_member_add
from registry.services.principals import service_principal_create
from registry.services.tokens import token_authenticate
from tests.registry.factories import make_model, make_version

pytestmark = pytest.mark.django_db
MODEL = "prod.ml_team.iris"


@pytest.fixture
def world(governed, admin, owner, reader):
    """iris (reader may read it, alias Champion), fraud (owner only), an experiment with a run owned by owner."""
    iris = make_model(owner, MODEL, description="Classifies **iris** with `sklearn`.")
    make_version(owner, MODEL)
    alias_set(actor=owner, name=MODEL, alias="Champion", version=1)
    grant_add(actor=owner, securable=iris, principal=reader, privilege="EXECUTE")
    make_model(owner, "prod.ml_team.fraud_secret")
    make_version(owner, "prod.ml_team.fraud_secret")
    alias_set(actor=owner, name="prod.ml_team.fraud_secret", alias="Chimera", version=1)
    experiment = Experiment.objects.create(id=7, name="iris-tuning", artifact_location="x", owner_user=owner,
                                           creation_time=0, last_update_time=0)
    Run.objects.create(run_id="a" * 32, experiment=experiment, name="iris-run-lucky", owner=owner, artifact_uri="x",
                       start_time=1)
    return iris


# Identities pages -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("url", ["/settings/groups/", "/settings/service-principals/", "/settings/users/",
                                 "/settings/users/admin/"])
def test_identity_pages_are_404_for_non_admins(client_for, owner, url):
    assert client_for(owner).get(url).status_code == 404


def test_admin_creates_group_adds_service_principal_and_sees_its_reach(client_for, admin, world, governed):
    browser = client_for(admin)
    response = browser.post("/settings/service-principals/", {"display_name": "deployer"})
    sp = ServicePrincipal.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/settings/service-principals/{sp.application_id}/"
    response = browser.post("/settings/groups/", {"name": "bots"})
    group = Group.objects.get(name="bots")
    assert response["Location"] == f"/settings/groups/{group.pk}/"
    browser.post(f"/settings/groups/{group.pk}/members/add/", {"member": sp.user.get_username()})
    assert list(group.user_set.all()) == [sp.user]
    grant_add(actor=admin, securable=governed.catalog, principal=group, privilege="USE CATALOG")
    page = browser.get(f"/settings/groups/{group.pk}/").content.decode()
    assert "deployer" in page and "service principal" in page and "USE CATALOG here" in page
    page = browser.get(f"/settings/service-principals/{sp.application_id}/").content.decode()
    assert "bots" in page and "USE CATALOG here through group bots" in page
    assert browser.get("/settings/service-principals/").content.decode().count("deployer") == 1

    browser.post(f"/settings/groups/{group.pk}/rename/", {"name": "robots"})
    assert Group.objects.get(pk=group.pk).name == "robots"
    browser.post(f"/settings/groups/{group.pk}/members/remove/", {"member": sp.user.get_username()})
    assert not group.user_set.exists()
    response = browser.post(f"/settings/groups/{group.pk}/rename/", {"name": "bad\u202ename"})
    assert response.status_code == 302 and Group.objects.get(pk=group.pk).name == "robots"
    browser.post(f"/settings/groups/{group.pk}/delete/")
    assert not Group.objects.filter(pk=group.pk).exists()


def test_users_list_people_not_service_principals_and_filters(client_for, admin, owner, reader, team, member):
    sp = service_principal_create(actor=admin, display_name="ci")
    page = client_for(admin).get("/settings/users/").content.decode()
    assert all(f'href="/settings/users/{name}/"' in page for name in ("admin", "owner", "reader", "member"))
    assert str(sp.application_id) not in page
    assert f'href="/settings/groups/{team.pk}/">ml_team</a>' in page
    filtered = client_for(admin).get("/settings/users/", {"q": "rea"}).content.decode()
    assert 'href="/settings/users/reader/"' in filtered and 'href="/settings/users/owner/"' not in filtered
    user_page = client_for(admin).get("/settings/users/member/").content.decode()
    assert "ml_team" in user_page and "What it can reach" in user_page


def test_token_is_shown_once_listed_and_revoked(client_for, admin):
    sp = service_principal_create(actor=admin, display_name="ci")
    browser = client_for(admin)
    url = f"/settings/service-principals/{sp.application_id}/"
    response = browser.post(url, {"name": "github actions", "days": 30})
    assert response["Cache-Control"] == "no-store"
    token = PersonalAccessToken.objects.get(user=sp.user)
    secret = response.context["secret"]
    assert secret.startswith("cex_") and secret.encode() in response.content and token_authenticate(secret) == sp.user
    again = browser.get(url)
    assert secret.encode() not in again.content and b"github actions" in again.content
    browser.post(f"{url}tokens/{token.pk}/revoke/")
    assert token_authenticate(secret) is None
    browser.post(f"{url}active/", {"active": "false"})
    assert not ServicePrincipal.objects.get().user.is_active
    assert b"Activate the service principal" in browser.get(url).content
    browser.post(f"{url}delete/")
    assert not ServicePrincipal.objects.exists()


def test_grant_dialog_offers_groups_and_service_principals(client_for, admin, owner, world):
    sp = service_principal_create(actor=admin, display_name="scorer")
    group_create(actor=admin, name="ml-readers")
    page = client_for(admin).get(reverse("explorer:grant", args=["model", MODEL])).content.decode()
    assert f'<option value="{sp.application_id}">service principal scorer</option>' in page
    assert '<option value="ml-readers">group ml-readers</option>' in page
    client_for(admin).post(reverse("explorer:grant", args=["model", MODEL]),
                           {"principal": str(sp.application_id), "privileges": ["EXECUTE"]})
    table = client_for(admin).get(f"/models/{MODEL}/permissions/").content.decode()
    assert f'<a href="/settings/service-principals/{sp.application_id}/">scorer</a>' in table
    assert "service principal" in table and '<a href="/settings/users/reader/">reader</a>' in table
    owners_view = client_for(owner).get(f"/models/{MODEL}/permissions/").content.decode()
    assert "/settings/users/" not in owners_view and "/settings/service-principals/" not in owners_view


def test_a_service_principal_cannot_sign_in_through_the_form(admin):
    sp = service_principal_create(actor=admin, display_name="ci")
    sp.user.set_password("pw-ci")
    sp.user.save()
    browser = Client()
    browser.post("/accounts/login/", {"username": sp.user.get_username(), "password": "pw-ci"})
    assert browser.get("/").status_code == 302  # still sent to the sign-in page


# Suggestions ---------------------------------------------------------------------------------------------------

def _suggest(client, q):
    response = client.get(reverse("explorer:search_suggest"), {"q": q})
    assert response.status_code == 200 and response["Content-Type"] == "application/json"
    return [(s["kind"], s["label"]) for s in json.loads(response.content)["suggestions"]]


def test_suggestions_cover_every_kind_for_the_owner(client_for, owner, world):
    found = _suggest(client_for(owner), "i")
    assert ("catalog", "prod") not in found  # no "i" in prod
    assert {("model", MODEL), ("alias", f"{MODEL}@Champion"), ("alias", "prod.ml_team.fraud_secret@Chimera"),
            ("experiment", "iris-tuning"), ("run", "iris-run-lucky")} <= set(found)
    assert ("schema", "prod.ml_team") in _suggest(client_for(owner), "ml_")
    assert _suggest(client_for(owner), "iris@cha") == [("alias", f"{MODEL}@Champion")]


def test_suggestions_never_name_what_the_user_may_not_see(client_for, reader, outsider, world):
    seen = _suggest(client_for(reader), "i")
    assert ("model", MODEL) in seen and ("alias", f"{MODEL}@Champion") in seen
    names = " ".join(label for _, label in seen)
    assert "fraud" not in names and "Chimera" not in names and "iris-tuning" not in names and "lucky" not in names
    assert _suggest(client_for(reader), "fraud") == []
    assert _suggest(client_for(outsider), "i") == []
    assert _suggest(client_for(outsider), "prod") == []


def test_suggestions_refuse_anonymous_and_survive_junk(client_for, owner, world):
    response = Client().get(reverse("explorer:search_suggest"), {"q": "iris"})
    assert response.status_code == 401 and set(json.loads(response.content)) == {"error_code", "message"}
    for junk in ["", " ", "%", "_", "'; drop", "x" * 5000, "@", "@@", "\u202e"]:
        _suggest(client_for(owner), junk)
    # A NUL is refused before any view, as everywhere in the app (registry/request_guard.py): a 400, not a 500.
    assert client_for(owner).get(reverse("explorer:search_suggest"), {"q": "a\x00"}).status_code == 400


# Results pages and excerpts ------------------------------------------------------------------------------------

def test_search_has_runs_and_experiments_tabs_within_visibility(client_for, owner, reader, world):
    page = client_for(owner).get("/search/", {"q": "iris"}).content.decode()
    assert "iris-tuning" in page and "iris-run-lucky" in page and "Versions by alias" not in page
    runs = client_for(owner).get("/search/", {"q": "iris", "type": "runs"}).content.decode()
    assert "iris-run-lucky" in runs and "iris-tuning</a>" not in runs
    assert "iris-run-lucky" not in client_for(reader).get("/search/", {"q": "iris", "type": "runs"}).content.decode()
    assert "Champion" in client_for(reader).get("/search/", {"q": "champ", "type": "aliases"}).content.decode()
    assert client_for(owner).get("/search/", {"q": "iris", "type": "nonsense"}).status_code == 200


def test_result_snippets_show_no_markdown_syntax(client_for, owner, world):
    page = client_for(owner).get("/search/", {"q": "iris"}).content.decode()
    assert "Classifies iris with sklearn." in page and "**" not in page and "`sklearn`" not in page


def test_plain_text_helpers():
    assert first_line("```python\nx = 1\n```\nUses **bold** and [docs](http://x)") == "Uses bold and docs"
    assert first_line("- *one*\n- two") == "one"
    assert plain_excerpt("# T\n\n`a` & <b>b</b>", 200) == "T a & b"
    assert plain_excerpt("word " * 100, 20).endswith("…") and len(plain_excerpt("word " * 100, 20)) == 20
