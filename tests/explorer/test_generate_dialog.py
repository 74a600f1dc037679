"""The Generate dialog: the offline draft beside the chat endpoint's (or a note saying how to configure one), the
facts both were built from, Accept/Edit of the one picked; and drafts that degrade to what is known."""
from __future__ import annotations

import pickle

import pytest

from explorer.description_facts import facts_for, pickled_class_of
from explorer.generators import offline_description
from registry.models import ModelVersion, RegisteredModel
from tests.explorer.conftest import MODEL
from tests.explorer.test_llm_generator import chat_server, chat_settings  # noqa: F401  (the fixtures)
from tests.registry.factories import make_model, make_version

pytestmark = pytest.mark.django_db

URL = f"/models/{MODEL}/description/"


def test_without_a_chat_endpoint_the_dialog_says_how_to_configure_one(client_for, owner, iris, monkeypatch):
    monkeypatch.delenv("DESCRIPTION_LLM_URL", raising=False)
    html = client_for(owner).post(URL, {"op": "generate"}).content.decode()
    assert html.count("data-draft-source=") == 1 and 'data-draft-source="offline"' in html
    assert "Not configured" in html and "DESCRIPTION_LLM_URL" in html
    assert "<summary>Built from</summary>" in html and "sepal_length (double)" in html
    assert 'value="accept:0"' in html and 'value="edit:0"' in html


def test_with_a_chat_endpoint_both_drafts_are_shown_and_either_can_be_picked(client_for, owner, iris, settings,
                                                                             monkeypatch, chat_server):
    monkeypatch.setenv("DESCRIPTION_LLM_URL", f"http://127.0.0.1:{chat_server.server_port}/v1")
    monkeypatch.setenv("DESCRIPTION_LLM_MODEL", "test-model")
    client = client_for(owner)
    before = RegisteredModel.objects.get(pk=iris.pk).description
    html = client.post(URL, {"op": "generate"}).content.decode()
    assert 'data-draft-source="offline"' in html and 'data-draft-source="chat"' in html
    assert "<strong>drafted</strong>" in html and "predicts <code>species</code>" in html  # rendered
    assert "Not configured" not in html and 'value="accept:1"' in html
    assert RegisteredModel.objects.get(pk=iris.pk).description == before
    edit = client.post(URL, {"op": "edit:1", "draft": ["first", "second"]}).content.decode()
    assert "second</textarea>" in edit
    client.post(URL, {"op": "accept:1", "draft": ["first", "second"]})
    assert RegisteredModel.objects.get(pk=iris.pk).description == "second"


def test_a_failing_chat_endpoint_leaves_the_offline_draft_usable(client_for, owner, iris, chat_settings):
    chat_settings.fail = True
    html = client_for(owner).post(URL, {"op": "generate"}).content.decode()
    assert "generator failed" in html and 'value="accept:0"' in html and 'value="accept:1"' not in html
    assert "A classifier: predicts `species` (a class label)" in html


def test_bad_picks_never_fail(client_for, owner, iris):
    client = client_for(owner)
    for op in ("accept:99", "edit:x", "accept:-1", "edit:" + "9" * 40):
        assert client.post(URL, {"op": op}).status_code == 200
    assert RegisteredModel.objects.get(pk=iris.pk).description.startswith("# Iris")


def test_a_draft_says_what_it_knows_and_nothing_more(client_for, owner, governed):
    make_model(owner, "prod.ml_team.bare")
    mv = make_version(owner, "prod.ml_team.bare")
    ModelVersion.objects.filter(pk=mv.pk).update(signature=None, run_id="")
    mv.refresh_from_db()
    assert offline_description(mv, actor=owner) == "A registered model version."
    assert offline_description(mv.model, actor=owner) == "A Unity Catalog model."
    ModelVersion.objects.filter(pk=mv.pk).update(signature={"inputs": [{"name": "x", "type": "double"}],
                                                            "outputs": [{"type": "double"}]})
    mv.refresh_from_db()
    facts = facts_for(mv, actor=owner)
    assert (facts.task, facts.task_from) == ("regression", "the output type")
    assert offline_description(mv, actor=owner) == "A regression model: predicts a number from one numeric input: `x`."


def test_classes_are_named_the_way_a_person_would():
    from explorer.generators import _classes_phrase

    assert _classes_phrase(["0", "1", "2"], "") == "a class label (0–2)"
    assert _classes_phrase(["0", "1", "2"], "species") == "`species` (a class label, 0–2)"
    assert _classes_phrase(["setosa", "versicolor", "virginica"], "species") == \
        "`species` (one of three classes: `setosa`, `versicolor` and `virginica`)"
    assert _classes_phrase([str(n) for n in range(0, 20, 2)], "") == (
        "one of ten classes (`0`, `2`, `4`, `6`, `8`, `10` and 4 more)")
    assert _classes_phrase([], "") == "a class label"


class Estimator:
    pass


def test_the_estimator_class_is_read_from_a_pickle_without_loading_it():
    assert pickled_class_of(pickle.dumps(Estimator(), protocol=4)) == "Estimator"
    assert pickled_class_of(pickle.dumps(Estimator(), protocol=2)) == "Estimator"
    assert pickled_class_of(b"not a pickle") == ""
