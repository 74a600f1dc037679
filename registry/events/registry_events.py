"""The registry's events, one function per event, called by the service where the change happens (inside its
transaction). Payloads are MLflow's (mlflow.webhooks.types) where MLflow has the event; whatever a version names
beyond its own model (a copy's source, the run) is shown only to webhook owners who may read it."""
from __future__ import annotations

from registry.events import names
from registry.events.outbox import emit
from registry.models import ModelVersion, RegisteredModel
from registry.prompts import IS_PROMPT_TAG, TEXT_TAG, TYPE_TAG
from registry.source_visibility import version_provenance

# A prompt's events are MLflow's prompt events (mlflow.server.handlers sends them for prompts instead of the
# model ones), with MLflow's payloads: the registry's own prompt tags left out, the template by itself.
PROMPT_CREATED = "prompt.created"
PROMPT_VERSION_CREATED = "prompt_version.created"
PROMPT_TAG_SET = "prompt_tag.set"
PROMPT_TAG_DELETED = "prompt_tag.deleted"
PROMPT_VERSION_TAG_SET = "prompt_version_tag.set"
PROMPT_VERSION_TAG_DELETED = "prompt_version_tag.deleted"
PROMPT_ALIAS_CREATED = "prompt_alias.created"
PROMPT_ALIAS_DELETED = "prompt_alias.deleted"


def _user_tags(rows) -> dict[str, str]:
    return {k: v for k, v in rows if k not in (IS_PROMPT_TAG, TYPE_TAG, TEXT_TAG)}


def registered_model_created(model: RegisteredModel) -> None:
    if model.is_prompt:
        emit(PROMPT_CREATED, model=model, data={
            "name": model.full_name, "tags": _user_tags(model.tags.values_list("key", "value")),
            "description": model.description or None})
        return
    emit(names.REGISTERED_MODEL_CREATED, model=model, data={
        "name": model.full_name, "tags": dict(model.tags.values_list("key", "value")),
        "description": model.description or None,
    })


def model_version_created(mv: ModelVersion) -> None:
    if mv.model.is_prompt:
        tags = dict(mv.tags.values_list("key", "value"))
        emit(PROMPT_VERSION_CREATED, model=mv.model, data={
            "name": mv.model.full_name, "version": str(mv.version), "template": tags.get(TEXT_TAG),
            "tags": _user_tags(tags.items()), "description": mv.description or None})
        return
    tags: dict[str, str] | None = None

    def data(owner):  # called only for a listener: with nobody listening the tags are never read
        nonlocal tags
        if tags is None:
            tags = dict(mv.tags.values_list("key", "value"))
        seen = version_provenance(actor=owner, versions=[mv])[mv.pk]
        return {"name": mv.model.full_name, "version": str(mv.version), "source": seen.source,
                "run_id": seen.run_id or None, "tags": tags, "description": mv.description or None}

    emit(names.MODEL_VERSION_CREATED, model=mv.model, data=data)


def model_version_tag_set(mv: ModelVersion, key: str, value: str) -> None:
    emit(PROMPT_VERSION_TAG_SET if mv.model.is_prompt else names.VERSION_TAG_SET, model=mv.model,
         data={"name": mv.model.full_name, "version": str(mv.version), "key": key, "value": value})


def model_version_tag_deleted(mv: ModelVersion, key: str) -> None:
    emit(PROMPT_VERSION_TAG_DELETED if mv.model.is_prompt else names.VERSION_TAG_DELETED, model=mv.model,
         data={"name": mv.model.full_name, "version": str(mv.version), "key": key})


def model_version_alias_created(model: RegisteredModel, alias: str, version: int) -> None:
    emit(PROMPT_ALIAS_CREATED if model.is_prompt else names.ALIAS_CREATED, model=model, data={"name": model.full_name, "alias": alias, "version": str(version)})


def model_version_alias_deleted(model: RegisteredModel, alias: str) -> None:
    emit(PROMPT_ALIAS_DELETED if model.is_prompt else names.ALIAS_DELETED, model=model, data={"name": model.full_name, "alias": alias})


def prompt_tag_set(model: RegisteredModel, key: str, value: str) -> None:
    """A tag on a prompt (MLflow has no event for a registered model's tag, only for a prompt's)."""
    if model.is_prompt and key not in (IS_PROMPT_TAG, TYPE_TAG):
        emit(PROMPT_TAG_SET, model=model, data={"name": model.full_name, "key": key, "value": value})


def prompt_tag_deleted(model: RegisteredModel, key: str) -> None:
    if model.is_prompt and key not in (IS_PROMPT_TAG, TYPE_TAG):
        emit(PROMPT_TAG_DELETED, model=model, data={"name": model.full_name, "key": key})


def model_version_ready(mv: ModelVersion) -> None:
    """READY, and for a copy also "copy finished" (naming the source only to who may read it)."""
    emit(names.VERSION_READY, model=mv.model,
         data={"name": mv.model.full_name, "version": str(mv.version), "status": mv.status})
    if mv.copied_from_id:
        def data(owner):
            seen = version_provenance(actor=owner, versions=[mv])[mv.pk]
            return {"name": mv.model.full_name, "version": str(mv.version), "source": seen.source}

        emit(names.VERSION_COPIED, model=mv.model, data=data)


def model_version_failed(mv: ModelVersion) -> None:
    emit(names.VERSION_FAILED, model=mv.model, data={
        "name": mv.model.full_name, "version": str(mv.version), "status": mv.status,
        "status_message": mv.status_message,
    })


def stage_transitioned(mv: ModelVersion, *, from_stage: str, archived: list[int]) -> None:
    emit(names.STAGE_TRANSITIONED, model=mv.model, data={
        "name": mv.model.full_name, "version": str(mv.version), "from_stage": from_stage,
        "to_stage": mv.current_stage, "archived_versions": [str(v) for v in archived],
    })
