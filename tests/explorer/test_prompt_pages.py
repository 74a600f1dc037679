"""The Prompts list, the per-schema Prompts tab and a prompt's pages (versions, diff, permissions, history):
what each persona sees, prompts never among models, hidden prompts not found, junk parameters never a 500."""
from __future__ import annotations

import pytest

from registry.prompts import IS_PROMPT_TAG, TEXT_TAG, TYPE_TAG
from registry.services.aliases import alias_set
from registry.services.grants import grant_add
from registry.services.models import registered_model_create
from registry.services.versions import model_version_create
from tests.registry.factories import make_model

NAME = "prod.ml_team.summarize"


def make_prompt(actor, name: str, *templates: str, tags: dict | None = None):
    prompt = registered_model_create(actor=actor, name=name, description="Summaries",
                                     tags={IS_PROMPT_TAG: "true", **(tags or {})})
    for number, template in enumerate(templates, start=1):
        model_version_create(actor=actor, name=name, source="dummy-source", description=f"commit {number}",
                             tags={IS_PROMPT_TAG: "true", TYPE_TAG: "text", TEXT_TAG: template})
    return prompt


@pytest.fixture
def prompts(owner, governed):
    make_prompt(owner, NAME, "Summarize: {{text}}\nBe brief.", "Summarize: {{text}}\nBe very brief.\nUse <b>bullets</b>.",
                tags={"team": "nlp"})
    alias_set(actor=owner, name=NAME, alias="production", version=1)
    make_prompt(owner, "greeting", "Hello {{name}}")
    make_model(owner, "prod.ml_team.iris")


def page(client, user, path: str, status: int = 200) -> str:
    client.force_login(user)
    response = client.get(path)
    assert response.status_code == status, (path, response.status_code)
    return response.content.decode()


def test_prompts_list_shows_prompts_and_no_models(client, owner, prompts):
    html = page(client, owner, "/prompts/")
    assert NAME in html and "greeting" in html and "iris" not in html
    assert "production: Version 1" in html and "team: nlp" in html
    assert IS_PROMPT_TAG not in html  # the client's bookkeeping tags are not shown as the prompt's tags
    assert 'href="/prompts/"' in page(client, owner, "/models/")  # reachable from the navigation
    filtered = page(client, owner, "/prompts/?q=greet")
    assert "greeting" in filtered and NAME not in filtered


def test_schema_prompts_tab(client, owner, prompts):
    html = page(client, owner, "/schemas/prod.ml_team/prompts/")
    assert "summarize" in html and "greeting" not in html and "iris" not in html
    assert 'href="/schemas/prod.ml_team/prompts/"' in page(client, owner, "/schemas/prod.ml_team/")


def test_prompt_page_shows_templates_commit_messages_aliases_and_tags(client, owner, prompts):
    html = page(client, owner, f"/prompts/{NAME}/")
    assert "Version 2" in html and "Version 1" in html
    assert "Summarize: {{text}}\nBe brief." in html and "commit 1" in html
    assert "Use &lt;b&gt;bullets&lt;/b&gt;." in html  # escaped, never markup
    assert "@production" in html and "team: nlp" in html
    assert f'prompts:/{NAME}/2' in html
    # The model page of a prompt is the prompt page.
    client.force_login(owner)
    assert client.get(f"/models/{NAME}/")["Location"] == f"/prompts/{NAME}/"


def test_diff_between_two_versions(client, owner, prompts):
    html = page(client, owner, f"/prompts/{NAME}/compare/?from=1&to=2")
    assert "2 lines added, 1 line removed." in html
    assert "<del>Be brief.</del>" in html and "<ins>Be very brief.</ins>" in html
    assert "<ins>Use &lt;b&gt;bullets&lt;/b&gt;.</ins>" in html
    assert 'class="visually-hidden">removed' in html
    default = page(client, owner, f"/prompts/{NAME}/compare/")  # the two newest
    assert "Version 1 → version 2" in default


@pytest.mark.parametrize("query", ["?from=1&to=99", "?from=x&to=y", "?from=-1&to=2", "?from=99999999999999&to=1"])
def test_diff_with_bad_versions_is_a_message_not_an_error(client, owner, prompts, query):
    html = page(client, owner, f"/prompts/{NAME}/compare/{query}")
    assert "diff-insert" not in html or "Version 1 → version 2" in html


def test_diff_of_a_single_version_prompt(client, owner, prompts):
    assert "A diff needs two versions" in page(client, owner, "/prompts/greeting/compare/")


def test_permissions_and_history_tabs(client, owner, admin, prompts):
    html = page(client, owner, f"/prompts/{NAME}/permissions/")
    assert "Grants" in html and "/grants/model/prod.ml_team.summarize/grant/" in html
    history = page(client, owner, f"/prompts/{NAME}/history/")
    assert "model_version.create" in history and "registered_model.set_alias" in history


def test_reader_and_outsider(client, owner, reader, outsider, prompts):
    assert NAME not in page(client, reader, "/prompts/")
    page(client, reader, f"/prompts/{NAME}/", status=404)
    page(client, outsider, "/prompts/greeting/compare/", status=404)
    from registry.models import RegisteredModel

    grant_add(actor=owner, securable=RegisteredModel.objects.get(name="summarize"), principal=reader,
              privilege="EXECUTE")
    html = page(client, reader, f"/prompts/{NAME}/")
    assert "Summarize" in html
    assert "/grants/model/prod.ml_team.summarize/grant/" not in page(client, reader, f"/prompts/{NAME}/permissions/")


def test_a_model_is_no_prompt(client, owner, prompts):
    page(client, owner, "/prompts/prod.ml_team.iris/", status=404)
    page(client, owner, "/prompts/a.b/", status=404)
