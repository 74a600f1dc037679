"""Every tab of every object page, declared in one place: label, URL name and the action needed to see it.
Object templates render whatever list their view hands them; a tab is its own view at its own URL."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from django.urls import reverse

from registry import permissions
from registry.permissions import Action


@dataclass(frozen=True)
class Tab:
    label: str
    url_name: str
    action: Action = Action.READ


CATALOG_TABS = (
    Tab("Overview", "explorer:catalog"),
    Tab("Permissions", "explorer:catalog_permissions"),
)
SCHEMA_TABS = (
    Tab("Overview", "explorer:schema"),
    Tab("Prompts", "explorer:schema_prompts"),
    Tab("Permissions", "explorer:schema_permissions"),
)
MODEL_TABS = (
    Tab("Overview", "explorer:model"),
    Tab("Details", "explorer:model_details"),
    Tab("Permissions", "explorer:model_permissions"),
    Tab("Lineage", "explorer:model_lineage"),
    Tab("Serving", "explorer:model_serving"),
    Tab("Webhooks", "explorer:model_webhooks", Action.MANAGE_GRANTS),
    Tab("Approvals", "explorer:model_approvals"),
    Tab("History", "explorer:model_history"),
)
PROMPT_TABS = (
    Tab("Versions", "explorer:prompt"),
    Tab("Compare", "explorer:prompt_diff"),
    Tab("Permissions", "explorer:prompt_permissions"),
    Tab("History", "explorer:prompt_history"),
)
VERSION_TABS = (
    Tab("Overview", "explorer:version"),
    Tab("Artifacts", "explorer:version_artifacts"),
    Tab("Lineage", "explorer:version_lineage"),
    Tab("History", "explorer:version_history"),
)


@dataclass(frozen=True)
class RenderedTab:
    label: str
    url: str
    active: bool


def tab_actions(tabs) -> list[Action]:
    """The actions `tabs` need beyond READ (which the page itself has already required)."""
    return list(dict.fromkeys(tab.action for tab in tabs if tab.action != Action.READ))


def render_tabs(tabs, *, actor, obj, kwargs: dict, active: str,
                allowed: Mapping[Action, bool] | None = None) -> list[RenderedTab]:
    """The tabs `actor` may see on `obj`, with URLs; `active` is the URL name of the current tab. `allowed` holds
    answers the page already has (`permissions.abilities`); the rest are asked in one query."""
    allowed = allowed or {}
    missing = [action for action in tab_actions(tabs) if action not in allowed]
    answers = {**allowed, **permissions.abilities(actor, obj, missing)}  # no query when nothing is missing
    return [RenderedTab(tab.label, reverse(tab.url_name, kwargs=kwargs), tab.url_name == active)
            for tab in tabs if tab.action == Action.READ or answers[tab.action]]


RUN_TABS = (
    Tab("Overview", "explorer:run"),
    Tab("Artifacts", "explorer:run_artifacts"),
    Tab("Lineage", "explorer:run_lineage"),
)
