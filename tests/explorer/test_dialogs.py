"""Dialogs: each renders as an htmx partial and as a full page, changes state only through services, refuses
personas without the right (403 when they may see the object, 404 when not) and shows service errors."""
import re
from html import unescape

import pytest

from registry.models import AuditEvent, Grant, ModelAlias, ModelVersion, RegisteredModel
from registry.services.aliases import alias_set
from tests.explorer.conftest import MODEL
from tests.registry.factories import make_model, make_version

HX = {"HTTP_HX_REQUEST": "true"}
DIALOGS = ["aliases/", "tags/", "description/", "rename/", "delete/", "versions/1/tags/", "versions/1/description/",
           "versions/1/delete/"]


@pytest.mark.parametrize("dialog", DIALOGS)
@pytest.mark.parametrize("persona,status", [("admin", 200), ("owner", 200), ("reader", 403), ("outsider", 404)])
def test_dialog_permission_matrix(request, client_for, iris, dialog, persona, status):
    client = client_for(request.getfixturevalue(persona))
    assert client.get(f"/models/{MODEL}/{dialog}").status_code == status
    posted = client.post(f"/models/{MODEL}/{dialog}", {"op": "noop"}).status_code
    assert posted == status if status != 200 else posted in (200, 302)


@pytest.mark.parametrize("dialog", DIALOGS)
def test_dialog_is_a_partial_for_htmx_and_a_page_otherwise(client_for, owner, iris, dialog):
    client = client_for(owner)
    partial = client.get(f"/models/{MODEL}/{dialog}", **HX).content.decode()
    page = client.get(f"/models/{MODEL}/{dialog}").content.decode()
    assert "<html" not in partial and 'id="modal-title"' in partial and 'hx-post="' in partial
    assert "<html" in page and 'id="modal-title"' in page and 'method="post"' in page


def test_set_alias_then_reassign_asks_before_moving(client_for, owner, iris):
    client = client_for(owner)
    response = client.post(f"/models/{MODEL}/aliases/", {"alias": "Challenger", "version": 2}, **HX)
    # Saved, and the dialog stays open for the next alias (tests/explorer/test_dialogs_stay_open.py).
    assert response.status_code == 200 and "'Challenger' is now on version 2." in unescape(response.content.decode())
    assert ModelAlias.objects.get(model=iris, alias="Challenger").version.version == 2
    ask = client.post(f"/models/{MODEL}/aliases/", {"alias": "Champion", "version": 2}, **HX)
    assert "'Champion' is on version 1; adding it here moves it from version 1 to version 2." in unescape(ask.content.decode())
    assert ModelAlias.objects.get(model=iris, alias="Champion").version.version == 1
    moved = client.post(f"/models/{MODEL}/aliases/", {"alias": "Champion", "version": 2,
                                                       "confirm_move": _move_token(ask)})
    assert moved.status_code == 302
    assert ModelAlias.objects.get(model=iris, alias="Champion").version.version == 2


def _move_token(response) -> str:
    match = re.search(r'name="confirm_move" value="([^"]+)"', response.content.decode())
    assert match, "no Move alias confirmation"
    return match.group(1)


def _legacy_with_versions(owner, count: int = 4) -> str:
    make_model(owner, "Legacy")
    for _ in range(count):
        make_version(owner, "Legacy")
    return "Legacy"


def test_another_case_of_an_alias_moves_that_alias_on_a_three_level_model(client_for, owner, iris):
    # Champion is on version 1; typing `champion` for version 2 is that alias, and moving it leaves one alias.
    client = client_for(owner)
    ask = client.post(f"/models/{MODEL}/aliases/", {"alias": "champion", "version": 2}, **HX)
    assert ("'champion' is the alias 'Champion', which is on version 1; adding it here moves it from version 1 "
            "to version 2.") in unescape(ask.content.decode())
    assert client.post(f"/models/{MODEL}/aliases/", {"alias": "champion", "version": 2,
                                                     "confirm_move": _move_token(ask)}).status_code == 302
    assert list(ModelAlias.objects.filter(model=iris).values_list("alias", "version__version")) == [("Champion", 2)]


def test_another_case_of_an_alias_is_a_form_error_on_a_workspace_model(client_for, owner):
    name = _legacy_with_versions(owner)
    alias_set(actor=owner, name=name, alias="Champion", version=2)
    html = unescape(client_for(owner).post(f"/models/{name}/aliases/", {"alias": "champion", "version": 4},
                                           **HX).content.decode())
    assert 'class="error"' in html and "differs from 'champion' only in case" in html
    assert "Move alias" not in html
    assert list(ModelAlias.objects.values_list("alias", "version__version")) == [("Champion", 2)]


def test_a_confirmation_moves_only_what_it_confirmed(client_for, owner, iris):
    client = client_for(owner)
    make_version(owner, MODEL)
    ask = client.post(f"/models/{MODEL}/aliases/", {"alias": "Champion", "version": 2}, **HX)
    # The user changed the version after the warning: that move was not confirmed, so it asks again.
    again = client.post(f"/models/{MODEL}/aliases/", {"alias": "Champion", "version": 3,
                                                      "confirm_move": _move_token(ask)}, **HX)
    assert "moves it from version 1 to version 3" in unescape(again.content.decode())
    assert ModelAlias.objects.get(model=iris).version.version == 1


@pytest.mark.parametrize("alias, version, level, says", [
    ("", 2, "", "Letters, digits"),
    ("Challenger", 2, "", "Adds the alias 'Challenger' to version 2."),
    ("Champion", 1, "", "'Champion' is already on version 1."),
    ("CHAMPION", 2, "warn", "'CHAMPION' is the alias 'Champion', which is on version 1; adding it here moves it"),
    ("latest", 2, "error", "reserved"),
])
def test_the_live_hint_says_what_saving_would_do(client_for, owner, iris, alias, version, level, says):
    html = unescape(client_for(owner).get(f"/models/{MODEL}/aliases/",
                                          {"hint": "1", "alias": alias, "version": version}, **HX).content.decode())
    assert f'data-level="{level}"' in html and says in html, html


def test_the_live_hint_on_a_workspace_model_refuses_another_case(client_for, owner):
    name = _legacy_with_versions(owner)
    alias_set(actor=owner, name=name, alias="Champion", version=2)
    client = client_for(owner)
    html = unescape(client.get(f"/models/{name}/aliases/", {"hint": "1", "alias": "champion", "version": 4}).content.decode())
    assert 'data-level="error"' in html and "only in case" in html
    html = unescape(client.get(f"/models/{name}/aliases/", {"hint": "1", "alias": "Champion", "version": 4}).content.decode())
    assert 'data-level="warn"' in html and "moves it from version 2 to version 4" in html


def test_the_alias_field_asks_for_the_live_hint(client_for, owner, iris):
    html = client_for(owner).get(f"/models/{MODEL}/aliases/", **HX).content.decode()
    assert f'hx-get="/models/{MODEL}/aliases/?hint=1"' in html and 'id="alias-hint"' in html
    assert "data-aliases" not in html  # no second copy of the rule in the browser


def test_remove_alias(client_for, owner, iris):
    response = client_for(owner).post(f"/models/{MODEL}/aliases/", {"op": "delete", "alias": "Champion"})
    assert response.status_code == 302 and not ModelAlias.objects.filter(model=iris).exists()


def test_invalid_alias_is_a_form_error(client_for, owner, iris):
    for alias in ("latest", "v3", "bad alias"):
        html = client_for(owner).post(f"/models/{MODEL}/aliases/", {"alias": alias, "version": 1}, **HX).content.decode()
        assert 'class="error"' in html, alias
    assert ModelAlias.objects.filter(model=iris).count() == 1


def test_alias_limit_is_explained(client_for, owner, iris, settings):
    settings.REGISTRY_MAX_ALIASES_PER_MODEL = 2
    alias_set(actor=owner, name=MODEL, alias="Second", version=2)
    html = client_for(owner).get(f"/models/{MODEL}/aliases/").content.decode()
    assert "already has 2 aliases, the most allowed" in html
    html = client_for(owner).post(f"/models/{MODEL}/aliases/", {"alias": "Third", "version": 2}).content.decode()
    assert "the most allowed" in html and not ModelAlias.objects.filter(alias="Third").exists()


def test_model_tags_add_change_remove(client_for, owner, iris):
    client = client_for(owner)
    assert client.post(f"/models/{MODEL}/tags/", {"key": "team", "value": "ml"}).status_code == 302
    assert iris.tags.get(key="team").value == "ml"
    client.post(f"/models/{MODEL}/tags/", {"key": "team", "value": "ds"})
    assert iris.tags.get(key="team").value == "ds"
    client.post(f"/models/{MODEL}/tags/", {"op": "delete", "key": "team"})
    assert not iris.tags.filter(key="team").exists()


def test_tag_limit_is_a_form_error(client_for, owner, iris, settings):
    settings.REGISTRY_MAX_TAGS_PER_OBJECT = 1
    html = client_for(owner).post(f"/models/{MODEL}/tags/", {"key": "more", "value": "x"}).content.decode()
    assert "at most 1 tags" in html and not iris.tags.filter(key="more").exists()


def test_version_tag_suggests_sibling_keys(client_for, owner, iris):
    html = client_for(owner).get(f"/models/{MODEL}/versions/2/tags/").content.decode()
    assert '<option value="validation_status">approved</option>' in html
    # A sibling's value is an example only: the value field is pre-filled from this version's own tags.
    assert "data-own-tags='{}'" in html and "data-suggestions='{&quot;validation_status&quot;: &quot;approved&quot;}'" in html
    response = client_for(owner).post(f"/models/{MODEL}/versions/2/tags/", {"key": "validation_status", "value": "pending"})
    assert response.status_code == 302 and response["Location"] == f"/models/{MODEL}/versions/2/tags/"
    assert ModelVersion.objects.get(model=iris, version=2).tags.get().value == "pending"


def test_reader_with_apply_tag_may_tag_but_not_modify(client_for, owner, reader, iris):
    from registry.services.grants import grant_add

    grant_add(actor=owner, securable=iris, principal=reader, privilege="APPLY TAG")
    client = client_for(reader)
    assert client.post(f"/models/{MODEL}/tags/", {"key": "by", "value": "reader"}).status_code == 302
    assert client.get(f"/models/{MODEL}/description/").status_code == 403


def test_description_write_preview_save(client_for, owner, iris):
    client = client_for(owner)
    preview = client.post(f"/models/{MODEL}/description/", {"op": "preview", "description": "**new** <script>x()</script>"}, **HX)
    html = preview.content.decode()
    assert "<strong>new</strong>" in html and "<script>x()" not in html
    assert RegisteredModel.objects.get(pk=iris.pk).description.startswith("# Iris")
    saved = client.post(f"/models/{MODEL}/description/", {"op": "save", "description": "plain"}, **HX)
    assert saved.status_code == 204 and RegisteredModel.objects.get(pk=iris.pk).description == "plain"


def test_generate_shows_a_draft_and_saves_only_on_accept(client_for, owner, iris):
    client = client_for(owner)
    before = RegisteredModel.objects.get(pk=iris.pk).description
    draft = client.post(f"/models/{MODEL}/description/", {"op": "generate"}, **HX).content.decode()
    # Issue 11: no alias targets or version counts in a saved text (tests/explorer/test_generated_descriptions.py).
    assert "Accept" in draft and "sepal_length" in draft and "Champion" not in draft and "2 versions" not in draft
    assert RegisteredModel.objects.get(pk=iris.pk).description == before
    edit = client.post(f"/models/{MODEL}/description/", {"op": "edit", "draft": "drafted text"}, **HX).content.decode()
    assert "drafted text</textarea>" in edit
    assert RegisteredModel.objects.get(pk=iris.pk).description == before
    accepted = client.post(f"/models/{MODEL}/description/", {"op": "accept", "draft": "drafted text"}, **HX)
    assert accepted.status_code == 204 and RegisteredModel.objects.get(pk=iris.pk).description == "drafted text"


def test_generate_keeps_what_the_user_had_typed_for_back_to_my_text(client_for, owner, iris):
    client = client_for(owner)
    draft = client.post(f"/models/{MODEL}/description/", {"op": "generate", "description": "my own words"},
                        **HX).content.decode()
    assert "Back to my text" in draft and "my own words</textarea>" in draft  # carried, hidden, with the draft
    back = client.post(f"/models/{MODEL}/description/", {"op": "write", "description": "my own words",
                                                          "draft": "generated"}, **HX).content.decode()
    assert 'id="id_description"' in back and "my own words</textarea>" in back
    assert RegisteredModel.objects.get(pk=iris.pk).description.startswith("# Iris")


def test_version_generate_uses_the_signature_but_not_the_tags(client_for, owner, iris):
    draft = client_for(owner).post(f"/models/{MODEL}/versions/1/description/", {"op": "generate"}).content.decode()
    # Tags change on their own and are shown beside the description: a saved draft must not repeat them.
    assert "sepal_length" in draft and "validation_status" not in draft and "Version 1 of" not in draft


def test_generator_is_pluggable_and_its_failure_is_shown(client_for, owner, iris, settings):
    settings.DESCRIPTION_GENERATOR = "tests.explorer.test_dialogs.broken_generator"
    html = client_for(owner).post(f"/models/{MODEL}/description/", {"op": "generate"}).content.decode()
    assert "generator failed" in html
    settings.DESCRIPTION_GENERATOR = "tests.explorer.test_dialogs.fixed_generator"
    assert "Fixed draft for" in client_for(owner).post(f"/models/{MODEL}/description/", {"op": "generate"}).content.decode()


def broken_generator(obj, *, actor):
    raise RuntimeError("endpoint down")


def fixed_generator(obj, *, actor):
    return f"Fixed draft for {obj}"


def test_description_too_long_is_a_form_error(client_for, owner, iris, settings):
    settings.REGISTRY_MAX_DESCRIPTION_LENGTH = 10
    html = client_for(owner).post(f"/models/{MODEL}/description/", {"op": "save", "description": "x" * 11}).content.decode()
    assert "at most 10 characters" in html


def test_rename_keeps_schema(client_for, owner, iris):
    response = client_for(owner).post(f"/models/{MODEL}/rename/", {"new_name": "iris2"})
    assert response.status_code == 302 and response["Location"] == "/models/prod.ml_team.iris2/"
    assert RegisteredModel.objects.get(pk=iris.pk).name == "iris2"


def test_rename_to_existing_or_invalid_is_a_form_error(client_for, owner, iris):
    make_model(owner, "prod.ml_team.taken")
    for new_name in ("taken", "a.b", "bad/name", ""):
        response = client_for(owner).post(f"/models/{MODEL}/rename/", {"new_name": new_name})
        assert response.status_code == 200, new_name
    assert RegisteredModel.objects.get(pk=iris.pk).name == "iris"


def test_delete_version_requires_typing_its_name(client_for, owner, iris):
    client = client_for(owner)
    page = client.get(f"/models/{MODEL}/versions/1/delete/").content.decode()
    assert "cannot be undone" in page and "@Champion" in page and f"{MODEL}/1" in page
    wrong = client.post(f"/models/{MODEL}/versions/1/delete/", {"confirm": "1"})
    assert wrong.status_code == 200 and ModelVersion.objects.filter(model=iris, version=1).exists()
    done = client.post(f"/models/{MODEL}/versions/1/delete/", {"confirm": f"{MODEL}/1"})
    assert done.status_code == 302 and not ModelVersion.objects.filter(model=iris, version=1).exists()


def test_delete_model_says_what_is_lost_and_requires_the_name(client_for, owner, iris):
    client = client_for(owner)
    page = client.get(f"/models/{MODEL}/delete/").content.decode()
    assert "2 versions" in page and "1 alias" in page
    assert client.post(f"/models/{MODEL}/delete/", {"confirm": "iris"}).status_code == 200
    done = client.post(f"/models/{MODEL}/delete/", {"confirm": MODEL}, **HX)
    assert done.status_code == 204 and done["HX-Redirect"] == "/schemas/prod.ml_team/"
    assert not RegisteredModel.objects.filter(pk=iris.pk).exists()


def test_stage_transition_on_workspace_versions(client_for, owner, reader):
    make_model(owner, "Legacy")
    mv = make_version(owner, "Legacy")
    client = client_for(owner)
    assert client.get(f"/models/Legacy/versions/{mv.version}/").content.decode().count("/stage/") == 2
    response = client.post(f"/models/Legacy/versions/{mv.version}/stage/", {"stage": "Production"})
    assert response.status_code == 302
    mv.refresh_from_db()
    assert mv.current_stage == "Production"
    assert client_for(reader).get(f"/models/Legacy/versions/{mv.version}/stage/").status_code == 404


def test_stage_on_unity_catalog_version_explains_aliases(client_for, owner, iris):
    html = client_for(owner).post(f"/models/{MODEL}/versions/1/stage/", {"stage": "Production"}).content.decode()
    assert "use aliases instead" in html


def test_grant_and_revoke_through_dialogs(client_for, owner, member, team, iris):
    client = client_for(owner)
    assert client_for(member).get(f"/models/{MODEL}/").status_code == 404
    from registry.services.grants import grant_add

    response = client.post(f"/grants/model/{MODEL}/grant/", {"principal": "ml_team", "privileges": ["EXECUTE"]})
    assert response.status_code == 302
    assert Grant.objects.filter(model=iris, group=team, privilege="EXECUTE").exists()
    revoke = client.get(f"/grants/model/{MODEL}/revoke/", {"principal": "group:ml_team", "privilege": "EXECUTE"})
    assert "Revoke <code>EXECUTE</code>" in revoke.content.decode()
    client.post(f"/grants/model/{MODEL}/revoke/", {"principal": "group:ml_team", "privilege": "EXECUTE"})
    assert not Grant.objects.filter(model=iris, group=team).exists()


def test_grant_to_unknown_principal_is_a_form_error(client_for, owner, iris):
    html = client_for(owner).post(f"/grants/model/{MODEL}/grant/", {"principal": "nobody", "privileges": ["EXECUTE"]}).content.decode()
    assert "Unknown principal" in html


@pytest.mark.parametrize("persona,status", [("admin", 200), ("owner", 200), ("reader", 403), ("outsider", 404)])
def test_grant_dialog_permission_matrix(request, client_for, iris, persona, status):
    client = client_for(request.getfixturevalue(persona))
    assert client.get(f"/grants/model/{MODEL}/grant/").status_code == status
    assert client.get(f"/grants/model/{MODEL}/owner/").status_code == status


def test_schema_grants_need_schema_management(client_for, admin, owner, governed):
    assert client_for(owner).get("/grants/schema/prod.ml_team/grant/").status_code == 403
    assert client_for(admin).get("/grants/schema/prod.ml_team/grant/").status_code == 200
    assert client_for(admin).get("/grants/bogus/x/grant/").status_code == 404


def test_transfer_ownership_to_a_group(client_for, owner, team, iris):
    response = client_for(owner).post(f"/grants/model/{MODEL}/owner/", {"principal": "ml_team"})
    assert response.status_code == 302
    iris.refresh_from_db()
    assert iris.owner_group == team and iris.owner_user is None
    assert AuditEvent.objects.filter(action="owner.set", outcome="success", via="ui").exists()


def test_version_tag_dialog_prefills_only_from_its_own_tags(client_for, owner, iris):
    html = unescape(client_for(owner).get(f"/models/{MODEL}/versions/1/tags/").content.decode())
    assert """data-own-tags='{"validation_status": "approved"}'""" in html
    assert "data-suggestions='{}'" in html  # version 2 has no tags to offer as examples
