"""Dialogs that do not fight you (issue 16 §3): the tags and aliases dialogs stay open with the list as saved,
and the copy dialog says live what the copy would do, from the copy service's own checks."""
from __future__ import annotations

from html import unescape

from registry.models import ModelAlias
from tests.explorer.conftest import MODEL
from tests.registry.factories import make_model

HX = {"HTTP_HX_REQUEST": "true"}
TAGS = f"/models/{MODEL}/tags/"
ALIASES = f"/models/{MODEL}/aliases/"
COPY = f"/models/{MODEL}/versions/1/copy/"


def _html(response) -> str:
    return unescape(response.content.decode())


# Tags and aliases ----------------------------------------------------------------------------------------

def test_adding_tags_keeps_the_dialog_open_with_the_list_updated(client_for, owner, iris):
    client = client_for(owner)
    for key in ("team", "stray", "owner_team"):
        response = client.post(TAGS, {"key": key, "value": "ml"}, **HX)
        # The dialog again (not a redirect), saying what was saved, listing the new tag, with an empty form.
        assert response.status_code == 200 and "HX-Redirect" not in response
        html = _html(response)
        assert f"Saved the tag '{key}'." in html and "data-dialog-changed" in html
        assert f'aria-label="Remove tag {key}"' in html and 'name="key" value=""' not in html
        assert 'id="id_key"' in html and f'id="id_key" value="{key}"' not in html
    html = _html(client.post(TAGS, {"op": "delete", "key": "stray"}, **HX))
    assert "Removed the tag 'stray'." in html and 'aria-label="Remove tag stray"' not in html
    assert 'aria-label="Remove tag team"' in html and 'aria-label="Remove tag owner_team"' in html
    assert sorted(iris.tags.values_list("key", flat=True)) == ["owner_team", "task", "team"]
    # The pre-fill data follows the saved tags, so a key chosen next shows its value as stored now.
    assert '"team": "ml"' in html and '"stray"' not in html


def test_a_refused_tag_is_a_form_error_and_not_a_saved_notice(client_for, owner, iris, settings):
    settings.REGISTRY_MAX_TAGS_PER_OBJECT = 1
    html = _html(client_for(owner).post(TAGS, {"key": "more", "value": "x"}, **HX))
    assert "at most 1 tags" in html and "data-dialog-changed" not in html


def test_a_plain_tag_post_comes_back_to_the_dialog_page(client_for, owner, iris):
    client = client_for(owner)
    response = client.post(f"/models/{MODEL}/versions/2/tags/", {"key": "k", "value": "v", "back": "model"})
    assert response.status_code == 302 and response["Location"] == f"/models/{MODEL}/versions/2/tags/?back=model"
    page = client.get(response["Location"]).content.decode()
    assert 'aria-label="Remove tag k"' in page and f'href="/models/{MODEL}/" data-close-modal' in page


def test_aliases_dialog_stays_open_after_setting_and_removing(client_for, owner, iris):
    client = client_for(owner)
    html = _html(client.post(ALIASES, {"alias": "Challenger", "version": 2}, **HX))
    assert "'Challenger' is now on version 2." in html and "data-dialog-changed" in html
    assert 'aria-label="Remove alias Challenger"' in html and 'aria-label="Remove alias Champion"' in html
    assert ">Close</a>" in html  # nothing left to cancel
    html = _html(client.post(ALIASES, {"op": "delete", "alias": "Champion"}, **HX))
    assert "Removed the alias 'Champion'." in html and 'aria-label="Remove alias Champion"' not in html
    assert list(ModelAlias.objects.filter(model=iris).values_list("alias", flat=True)) == ["Challenger"]
    plain = client.post(ALIASES, {"alias": "Third", "version": 1})
    assert plain.status_code == 302 and plain["Location"] == ALIASES


# Copy: the destination picker and its live hint ----------------------------------------------------------

def _hint(client, destination: str, create: bool = True) -> str:
    params = {"hint": "1", "destination": destination, **({"create_destination": "on"} if create else {})}
    response = client.get(COPY, params, **HX)
    assert response.status_code == 200
    return _html(response)


def test_copy_hint_for_a_model_you_may_write_to_names_the_next_version(client_for, owner, iris):
    html = _hint(client_for(owner), MODEL)
    assert "Becomes version 3 of prod.ml_team.iris." in html and 'id="copy-hint"' in html
    assert 'data-level=""' in html


def test_copy_hint_for_a_new_model_says_it_needs_create_model(client_for, owner, reader, iris):
    assert ("Creates prod.ml_team.iris_prod: needs CREATE MODEL on prod.ml_team, which you do not have."
            in _hint(client_for(reader), "prod.ml_team.iris_prod"))
    assert ("Creates prod.ml_team.iris_prod (you may create models in prod.ml_team); the copy becomes its "
            "version 1." in _hint(client_for(owner), "prod.ml_team.iris_prod"))
    assert ("prod.ml_team.iris_prod does not exist; tick “Create the model if it does not exist” to create it."
            in _hint(client_for(owner), "prod.ml_team.iris_prod", create=False))
    assert "Schema 'prod.nowhere' does not exist." in _hint(client_for(owner), "prod.nowhere.x")


def test_copy_hint_agrees_with_the_copy_it_describes(client_for, reader, iris):
    # The reader may read version 1 but not create models: the copy is refused for the reason the hint gave.
    response = client_for(reader).post(COPY, {"destination": "prod.ml_team.iris_prod", "create_destination": "on"})
    assert response.status_code == 400 and "CREATE MODEL" in _html(response)


def test_copy_hint_for_a_model_you_may_not_write_to_says_why(client_for, reader, iris):
    html = _hint(client_for(reader), MODEL)
    assert "You may not add versions to prod.ml_team.iris: " in html and 'data-level="error"' in html


def test_copy_hint_for_a_model_you_cannot_see_reads_as_a_missing_one(client_for, owner, reader, iris):
    make_model(owner, "prod.ml_team.hidden")  # the reader has no privilege on it
    client = client_for(reader)
    for create in (True, False):
        hidden = _hint(client, "prod.ml_team.hidden", create).replace("hidden", "NAME")
        missing = _hint(client, "prod.ml_team.absent", create).replace("absent", "NAME")
        assert hidden == missing


def test_copy_picker_suggests_only_models_you_may_write_to(client_for, owner, reader, iris):
    make_model(owner, "prod.ml_team.mine")
    owner_html = client_for(owner).get(COPY, **HX).content.decode()
    assert '<datalist id="copy-destinations">' in owner_html
    assert '<option value="prod.ml_team.mine">' in owner_html and f'<option value="{MODEL}">' in owner_html
    assert 'list="copy-destinations"' in owner_html and 'hx-get="' + COPY + '?hint=1"' in owner_html
    reader_html = client_for(reader).get(COPY, **HX).content.decode()
    assert f'<option value="{MODEL}">' not in reader_html and "prod.ml_team.mine" not in reader_html
