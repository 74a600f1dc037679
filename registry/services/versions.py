"""Model versions: create (numbered safely under concurrency), describe, stage, delete, and the status
protocol PENDING_REGISTRATION -> READY | FAILED_REGISTRATION driven by the registration job."""
from __future__ import annotations

from django.conf import settings
from django.db import connection
from django.db.models import F
from django.utils import timezone

from registry import audit, upload_area
from registry.approval_selectors import TRANSITION_REQUEST_ROUTE, transitions_need_approval
from registry.events import registry_events
from registry.errors import InvalidParameter, NotFound, PermissionDenied
from registry.generated_descriptions import copied_description
from registry.models import ModelVersion, ModelVersionTag, RegisteredModel
from registry.models.models import Stage, VersionStatus
from registry.permissions import Action
from registry.prompts import SOURCE_PLACEHOLDERS, TEMPLATE_MAX_LENGTH, TEXT_TAG
from registry.selectors import model_get, model_not_found_message, version_get
from registry.services.aliases import refuse_if_version_holds_protected
from registry.services.core import authorize, require_text, service
from registry.services.models import schedule_artifact_cleanup, touch_model, version_lock
from registry.services.tracking_logged_models import logged_model_record_version
from registry.services.upload_area import upload_area_release
from registry.sources import ResolvedSource, resolve_source
from registry.tracking_selectors import logged_model_list_visible

STAGE_NAMES = {s.value.lower(): s.value for s in Stage}


def _allocate_version_number(model: RegisteredModel, name: str) -> int:
    """The next number of `model`, never used before. One UPDATE moves the counter in the database (not from a
    value read earlier) and holds the model's row lock until commit, so concurrent creations get consecutive
    numbers, and a rolled-back creation gives its number back."""
    now = timezone.now()
    if connection.vendor in ("postgresql", "sqlite"):  # both have UPDATE ... RETURNING: one statement, not two
        table = RegisteredModel._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE {table} SET last_version_number = last_version_number + 1, updated_at = %s "
                           "WHERE id = %s RETURNING last_version_number",
                           [connection.ops.adapt_datetimefield_value(now), model.pk])
            row = cursor.fetchone()
        if row is None:
            raise NotFound(model_not_found_message(name))  # deleted since it was looked up
        return row[0]
    rows = RegisteredModel.objects.filter(pk=model.pk)
    if not rows.update(last_version_number=F("last_version_number") + 1, updated_at=now):
        raise NotFound(model_not_found_message(name))
    return rows.values_list("last_version_number", flat=True).get()


@service("model_version.create")
def model_version_create(*, actor, name: str, source: str, run_id: str = "", description: str = "",
                         tags: dict[str, str] | None = None, run_link: str = "", model_id: str = "") -> ModelVersion:
    model = model_get(actor=actor, name=name)
    authorize(actor, Action.MODIFY, model, not_found_message=model_not_found_message(name))
    description = require_text(description, "description", max_length=settings.REGISTRY_MAX_DESCRIPTION_LENGTH)
    run_link = require_text(run_link, "run_link", max_length=2000)
    run_id = require_text(run_id, "run_id", max_length=64)
    model_id = require_text(model_id, "model_id", max_length=64)
    if model.is_prompt:
        return _prompt_version_create(actor=actor, model=model, name=name, source=source, run_id=run_id,
                                      model_id=model_id, description=description, tags=tags)
    resolved = resolve_source(actor, source)
    if resolved.source_version is not None:
        # A copy (ours, or MlflowClient.copy_model_version's): a generated description is the source's.
        description = copied_description(description, "version")
    if run_id and resolved.run_id and run_id != resolved.run_id:
        raise InvalidParameter(f"run_id {run_id!r} does not match the run of source {source!r}.")
    tag_values = {}
    if tags:
        from registry.services.tags import validated_tags

        tag_values = validated_tags(tags, existing=0)
    number = _allocate_version_number(model, name)
    unity = model.is_unity_catalog
    copied = unity or resolved.uploaded  # into the version's own storage location, by the registration job
    mv = ModelVersion.objects.create(
        model=model,
        version=number,
        source=source,
        run_id=run_id or resolved.run_id,
        run_link=run_link,
        logged_model_id=model_id or resolved.logged_model_id,
        description=description,
        copied_from=resolved.source_version,
        status=VersionStatus.PENDING_REGISTRATION if copied else VersionStatus.READY,
        storage_location="" if copied else f"mlflow-artifacts:/{resolved.location}",
        created_by=actor,
        updated_by=actor,
    )
    if copied:
        mv.storage_location = mv.managed_location
        mv.save(update_fields=["storage_location"])
    if tag_values:
        ModelVersionTag.objects.bulk_create(ModelVersionTag(version=mv, key=k, value=v) for k, v in tag_values.items())
    if model_id:
        _record_on_logged_model(actor, model_id, resolved, name=model.full_name, version=mv.version)
    audit.record(actor=actor, action="model_version.create", obj=mv,
                 params={"name": model.full_name, "version": mv.version, "source": source, "run_id": mv.run_id})
    registry_events.model_version_created(mv)
    if copied:
        from registry.jobs import start_registration
        from registry.registration import copy_now

        job = start_registration(actor=actor, version=mv, source_location=resolved.location)
        if copy_now(job):  # a same-store copy of a version: READY now, no bytes moved (the job ends SUCCEEDED)
            mv.refresh_from_db()
    return mv


def _prompt_version_create(*, actor, model: RegisteredModel, name: str, source, run_id: str, model_id: str,
                           description: str, tags: dict[str, str] | None) -> ModelVersion:
    """A version of a prompt: its template is the tag mlflow.prompt.text, it owns no artifacts (nothing to copy,
    no registration job) and is READY at once."""
    if source not in SOURCE_PLACEHOLDERS:
        raise InvalidParameter(
            f"{model.full_name} is a prompt: its versions hold a template (the tag {TEXT_TAG}), not artifacts, so "
            f"their source must be one of {', '.join(sorted(SOURCE_PLACEHOLDERS))}, not {str(source)[:200]!r}.")
    if run_id or model_id:
        raise InvalidParameter(f"{model.full_name} is a prompt: its versions are not registered from a run or a "
                               "logged model.")
    if not isinstance(tags, dict) or not isinstance(tags.get(TEXT_TAG), str) or not tags[TEXT_TAG]:
        raise InvalidParameter(f"A version of the prompt {model.full_name} needs its template in the tag {TEXT_TAG}.")
    template = require_text(tags[TEXT_TAG], "Prompt template", max_length=TEMPLATE_MAX_LENGTH)
    if "\x00" in template:
        raise InvalidParameter("Prompt template must not contain NUL characters.")
    from registry.services.tags import validated_tags

    others = validated_tags({k: v for k, v in tags.items() if k != TEXT_TAG}, existing=1)
    number = _allocate_version_number(model, name)
    mv = ModelVersion.objects.create(model=model, version=number, source=source, description=description,
                                     status=VersionStatus.READY, created_by=actor, updated_by=actor)
    ModelVersionTag.objects.bulk_create(ModelVersionTag(version=mv, key=k, value=v)
                                        for k, v in {**others, TEXT_TAG: template}.items())
    audit.record(actor=actor, action="model_version.create", obj=mv,
                 params={"name": model.full_name, "version": mv.version, "source": source, "kind": "prompt"})
    registry_events.model_version_created(mv)
    return mv


def _record_on_logged_model(actor, model_id: str, resolved: ResolvedSource, *, name: str, version: int) -> None:
    """A version registered with a `model_id` is listed on that logged model (when the actor may read it: the
    tag of a model it cannot see is not its to change). The client's usual call names the same logged model as
    its source, which `resolve_source` has already loaded and found readable."""
    if resolved.logged_model is not None and resolved.logged_model.model_id == model_id:
        logged = resolved.logged_model
    else:
        logged = logged_model_list_visible(actor=actor).filter(model_id=model_id).first()
    if logged is not None:
        logged_model_record_version(logged, name=name, version=version)


@service("model_version.update")
def model_version_update(*, actor, name: str, version, description: str) -> ModelVersion:
    mv = version_get(actor=actor, name=name, version=version)
    authorize(actor, Action.MODIFY, mv.model, not_found_message=model_not_found_message(name))
    mv.description = require_text(description, "description", max_length=settings.REGISTRY_MAX_DESCRIPTION_LENGTH)
    mv.updated_by = actor
    mv.save(update_fields=["description", "updated_by", "updated_at"])
    audit.record(actor=actor, action="model_version.update", obj=mv, params={"description": mv.description})
    return mv


@service("model_version.transition_stage")
def model_version_transition_stage(*, actor, name: str, version, stage: str,
                                   archive_existing_versions: bool = False) -> ModelVersion:
    mv = version_get(actor=actor, name=name, version=version)
    authorize(actor, Action.MODIFY, mv.model, not_found_message=model_not_found_message(name))
    if mv.model.is_unity_catalog:
        raise InvalidParameter(
            f"Model stages are not supported for Unity Catalog models such as {mv.model.full_name}: "
            "use aliases instead (for example set the alias 'Champion' on this version)."
        )
    canonical = stage_canonical(stage)
    if transitions_need_approval(mv.model):
        raise PermissionDenied(
            f"Stage transitions of model {mv.model.full_name} need an approved transition request. Open one with "
            f"{TRANSITION_REQUEST_ROUTE} (name, version, stage, comment) or on the model's Approvals tab."
        )
    return model_version_apply_stage(actor=actor, mv=mv, stage=canonical,
                                     archive_existing_versions=archive_existing_versions)


def stage_canonical(stage) -> str:
    """The stage's own spelling ('production' -> 'Production'), or INVALID_PARAMETER_VALUE."""
    canonical = STAGE_NAMES.get(str(stage).lower()) if isinstance(stage, str) else None
    if canonical is None:
        raise InvalidParameter(f"Invalid Model Version stage: {str(stage)[:50]}. "
                               f"Value must be one of {', '.join(s.value for s in Stage)}.")
    return canonical


def model_version_apply_stage(*, actor, mv: ModelVersion, stage: str, archive_existing_versions: bool) -> ModelVersion:
    """Move `mv` (of a workspace model) to `stage` (canonical), audited, with its event. The caller has authorized
    it: model_version_transition_stage, or the approval of a transition request (registry.services.approvals)."""
    canonical = stage
    # The model's row lock first: transitions of one model queue up, so two versions moved to Production at
    # once with archive_existing_versions do not both stay there.
    touch_model(mv.model)
    archived = []
    if archive_existing_versions and canonical in (Stage.STAGING, Stage.PRODUCTION):
        others = ModelVersion.objects.filter(model=mv.model, current_stage=canonical).exclude(pk=mv.pk)
        archived = list(others.values_list("version", flat=True))
        others.update(current_stage=Stage.ARCHIVED, updated_at=timezone.now(), updated_by=actor)
    previous = mv.current_stage
    mv.current_stage = canonical
    mv.updated_by = actor
    mv.save(update_fields=["current_stage", "updated_by", "updated_at"])
    audit.record(actor=actor, action="model_version.transition_stage", obj=mv,
                 params={"stage": canonical, "previous_stage": previous, "archive_existing_versions": archive_existing_versions})
    registry_events.stage_transitioned(mv, from_stage=previous, archived=archived)
    return mv


@service("model_version.delete")
def model_version_delete(*, actor, name: str, version) -> None:
    mv = version_get(actor=actor, name=name, version=version)
    authorize(actor, Action.DELETE, mv.model, not_found_message=model_not_found_message(name))
    refuse_if_version_holds_protected(mv)
    audit.record(actor=actor, action="model_version.delete", obj=mv, params={"name": mv.model.full_name, "version": mv.version})
    if mv.storage_location == mv.managed_location:  # its own copy (three-level, or uploaded from elsewhere)
        schedule_artifact_cleanup(actor=actor, versions=[mv.managed_location.split(":/", 1)[1]],
                                  target={"name": mv.model.full_name, "version": mv.version})
    # The model's row lock, then the version's (the order alias and tag changes take them in, so none deadlock),
    # both before the version's tags and aliases are collected for deletion: a tag set meanwhile either committed
    # first (and is deleted with it) or waits and then finds no version.
    touch_model(mv.model)
    version_lock(mv)
    mv.delete()


def model_version_mark_ready(*, version_id: int, signature: dict | None, message: str = "") -> ModelVersion:
    """Called by the registration job once the copy is verified (a system action, no actor to authorize)."""
    mv = ModelVersion.objects.select_related("model").get(pk=version_id)
    mv.status = VersionStatus.READY
    mv.status_message = message
    mv.signature = signature
    mv.save(update_fields=["status", "status_message", "signature", "updated_at"])
    touch_model(mv.model)
    audit.record(actor=None, action="model_version.registration_ready", obj=mv, params={"version": mv.version})
    registry_events.model_version_ready(mv)
    if upload_area.is_area_source(mv.source) and mv.created_by_id:
        upload_area_release(owner_id=mv.created_by_id, source=mv.source)
    return mv


def model_version_mark_failed(*, version_id: int, message: str) -> ModelVersion:
    mv = ModelVersion.objects.select_related("model").get(pk=version_id)
    mv.status = VersionStatus.FAILED_REGISTRATION
    mv.status_message = message
    mv.save(update_fields=["status", "status_message", "updated_at"])
    audit.record(actor=None, action="model_version.registration_failed", obj=mv,
                 params={"version": mv.version}, outcome="failed", message=message)
    registry_events.model_version_failed(mv)
    return mv
