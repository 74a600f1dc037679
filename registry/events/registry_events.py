"""The registry's events, one function per event, called by the service where the change happens (inside its
transaction). Payloads are MLflow's (mlflow.webhooks.types) where MLflow has the event; whatever a version names
beyond its own model (a copy's source, the run) is shown only to webhook owners who may read it."""
from __future__ import annotations

from registry.events import names
from registry.events.outbox import emit
from registry.models import ModelVersion, RegisteredModel
from registry.source_visibility import version_provenance


def registered_model_created(model: RegisteredModel) -> None:
    emit(names.REGISTERED_MODEL_CREATED, model=model, data={
        "name": model.full_name, "tags": dict(model.tags.values_list("key", "value")),
        "description": model.description or None,
    })


def model_version_created(mv: ModelVersion) -> None:
    tags = dict(mv.tags.values_list("key", "value"))

    def data(owner):
        seen = version_provenance(actor=owner, versions=[mv])[mv.pk]
        return {"name": mv.model.full_name, "version": str(mv.version), "source": seen.source,
                "run_id": seen.run_id or None, "tags": tags, "description": mv.description or None}

    emit(names.MODEL_VERSION_CREATED, model=mv.model, data=data)


def model_version_tag_set(mv: ModelVersion, key: str, value: str) -> None:
    emit(names.VERSION_TAG_SET, model=mv.model,
         data={"name": mv.model.full_name, "version": str(mv.version), "key": key, "value": value})


def model_version_tag_deleted(mv: ModelVersion, key: str) -> None:
    emit(names.VERSION_TAG_DELETED, model=mv.model,
         data={"name": mv.model.full_name, "version": str(mv.version), "key": key})


def model_version_alias_created(model: RegisteredModel, alias: str, version: int) -> None:
    emit(names.ALIAS_CREATED, model=model, data={"name": model.full_name, "alias": alias, "version": str(version)})


def model_version_alias_deleted(model: RegisteredModel, alias: str) -> None:
    emit(names.ALIAS_DELETED, model=model, data={"name": model.full_name, "alias": alias})


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
