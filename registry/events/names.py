"""Event names, "entity.action": MLflow's registry events (what its client can subscribe to) and ours, which a
governed catalog adds. MLflow's client can only spell its own, so ours travel in `explorer_events`."""
from __future__ import annotations

from registry.errors import InvalidParameter

# MLflow 3.17.2's valid (entity, action) pairs (mlflow.entities.webhook.VALID_ENTITY_ACTIONS). Prompts send the
# prompt events (registry.events.registry_events); the budget event is accepted, as MLflow's server accepts it, but
# this registry has no budgets.
MLFLOW_EVENTS = (
    "registered_model.created",
    "model_version.created",
    "model_version_tag.set",
    "model_version_tag.deleted",
    "model_version_alias.created",
    "model_version_alias.deleted",
    "prompt.created",
    "prompt_version.created",
    "prompt_tag.set",
    "prompt_tag.deleted",
    "prompt_version_tag.set",
    "prompt_version_tag.deleted",
    "prompt_alias.created",
    "prompt_alias.deleted",
    "budget_policy.exceeded",
)
REGISTERED_MODEL_CREATED = "registered_model.created"
MODEL_VERSION_CREATED = "model_version.created"
VERSION_TAG_SET = "model_version_tag.set"
VERSION_TAG_DELETED = "model_version_tag.deleted"
ALIAS_CREATED = "model_version_alias.created"
ALIAS_DELETED = "model_version_alias.deleted"

# Ours.
VERSION_READY = "model_version.ready"
VERSION_FAILED = "model_version.failed_registration"
VERSION_COPIED = "model_version.copied"
STAGE_TRANSITIONED = "model_version.stage_transitioned"
EXPLORER_EVENTS = (VERSION_READY, VERSION_FAILED, VERSION_COPIED, STAGE_TRANSITIONED)

# Comments (registry/services/comments.py): a webhook hears them among its explorer_events, a follower by email.
COMMENT_CREATED = "comment.created"
EXPLORER_EVENTS += (COMMENT_CREATED,)

# Approvals (registry/services/approvals.py): requests to move or delete a protected alias, and the workspace
# registry's stage transition requests (Databricks' TRANSITION_REQUEST_CREATED ... as entity.action).
ALIAS_REQUEST_CREATED = "alias_change_request.created"
ALIAS_REQUEST_APPROVED = "alias_change_request.approved"
ALIAS_REQUEST_REJECTED = "alias_change_request.rejected"
ALIAS_REQUEST_CANCELLED = "alias_change_request.cancelled"
TRANSITION_REQUEST_CREATED = "transition_request.created"
TRANSITION_REQUEST_APPROVED = "transition_request.approved"
TRANSITION_REQUEST_REJECTED = "transition_request.rejected"
TRANSITION_REQUEST_CANCELLED = "transition_request.cancelled"
APPROVAL_EVENTS = (ALIAS_REQUEST_CREATED, ALIAS_REQUEST_APPROVED, ALIAS_REQUEST_REJECTED, ALIAS_REQUEST_CANCELLED,
                   TRANSITION_REQUEST_CREATED, TRANSITION_REQUEST_APPROVED, TRANSITION_REQUEST_REJECTED,
                   TRANSITION_REQUEST_CANCELLED)
EXPLORER_EVENTS += APPROVAL_EVENTS

# Events about no model yet: only a registry-wide webhook can hear them.
REGISTRY_WIDE_ONLY = (REGISTERED_MODEL_CREATED,)


def mlflow_event(value) -> str:
    """One event of MLflow's request shape {"entity": "MODEL_VERSION", "action": "CREATED"} as "entity.action"."""
    if not isinstance(value, dict) or not isinstance(value.get("entity"), str) or not isinstance(value.get("action"), str):
        raise InvalidParameter(f"Webhook events must be a non-empty list of WebhookEvent objects: {value!r}.")
    name = f"{value['entity'].lower()}.{value['action'].lower()}"
    if name not in MLFLOW_EVENTS:
        raise InvalidParameter(f"Invalid action '{value['action'].lower()}' for entity '{value['entity'].lower()}'. "
                               f"Valid events are: {', '.join(MLFLOW_EVENTS)}.")
    return name


def explorer_event(value) -> str:
    if not isinstance(value, str) or value.lower() not in EXPLORER_EVENTS:
        raise InvalidParameter(f"Invalid explorer event {value!r}. Valid events are: {', '.join(EXPLORER_EVENTS)}.")
    return value.lower()


def mlflow_json(name: str) -> dict:
    entity, action = name.split(".")
    return {"entity": entity.upper(), "action": action.upper()}


# What a follower may choose to be emailed about (registry/services/follows.py): the registry's own events, not
# MLflow's prompt and budget events, which this registry never fires.
def followable() -> tuple[str, ...]:
    return tuple(e for e in (*MLFLOW_EVENTS, *EXPLORER_EVENTS) if not e.startswith(("prompt", "budget")))
