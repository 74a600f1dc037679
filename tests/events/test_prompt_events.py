"""A prompt's changes are MLflow's prompt events (prompt.created, prompt_version.created, prompt_tag.*,
prompt_version_tag.*, prompt_alias.*) with MLflow's payloads, never the model events; a model's stay model events."""
from __future__ import annotations

import json

import pytest

from registry.models import WebhookDelivery
from registry.services.aliases import alias_delete, alias_set
from registry.services.tags import model_tag_delete, model_tag_set, version_tag_delete, version_tag_set
from registry.services.webhooks import webhook_create
from tests.explorer.test_prompt_pages import make_prompt
from tests.registry.factories import make_model

EVENTS = [{"entity": e, "action": a} for e, a in (
    ("REGISTERED_MODEL", "CREATED"), ("MODEL_VERSION", "CREATED"), ("MODEL_VERSION_ALIAS", "CREATED"),
    ("PROMPT", "CREATED"), ("PROMPT_VERSION", "CREATED"), ("PROMPT_TAG", "SET"), ("PROMPT_TAG", "DELETED"),
    ("PROMPT_VERSION_TAG", "SET"), ("PROMPT_VERSION_TAG", "DELETED"), ("PROMPT_ALIAS", "CREATED"),
    ("PROMPT_ALIAS", "DELETED"))]


def bodies():
    return [json.loads(d.body) for d in WebhookDelivery.objects.order_by("pk")]


@pytest.mark.django_db
def test_prompt_changes_are_prompt_events_with_mlflows_payloads(admin, owner, governed, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example.com"]  # never resolved: nothing is delivered here
    webhook_create(actor=admin, name="all", url="https://hooks.example.com/in", events=EVENTS)
    name = "prod.ml_team.summarize"
    make_prompt(owner, name, "Summarize: {{text}}", tags={"team": "nlp"})
    model_tag_set(actor=owner, name=name, key="language", value="en")
    model_tag_delete(actor=owner, name=name, key="language")
    version_tag_set(actor=owner, name=name, version=1, key="reviewed", value="yes")
    version_tag_delete(actor=owner, name=name, version=1, key="reviewed")
    alias_set(actor=owner, name=name, alias="production", version=1)
    alias_delete(actor=owner, name=name, alias="production")
    got = [(b["entity"], b["action"], b["data"]) for b in bodies()]
    assert got == [
        ("prompt", "created", {"name": name, "tags": {"team": "nlp"}, "description": "Summaries"}),
        ("prompt_version", "created", {"name": name, "version": "1", "template": "Summarize: {{text}}",
                                       "tags": {}, "description": "commit 1"}),
        ("prompt_tag", "set", {"name": name, "key": "language", "value": "en"}),
        ("prompt_tag", "deleted", {"name": name, "key": "language"}),
        ("prompt_version_tag", "set", {"name": name, "version": "1", "key": "reviewed", "value": "yes"}),
        ("prompt_version_tag", "deleted", {"name": name, "version": "1", "key": "reviewed"}),
        ("prompt_alias", "created", {"name": name, "alias": "production", "version": "1"}),
        ("prompt_alias", "deleted", {"name": name, "alias": "production"}),
    ]

    WebhookDelivery.objects.all().delete()
    make_model(owner, "prod.ml_team.iris")
    model_tag_set(actor=owner, name="prod.ml_team.iris", key="task", value="cls")  # no event for a model's tag
    assert [(b["entity"], b["action"]) for b in bodies()] == [("registered_model", "created")]
