"""Migrate a workspace-registry model into a three-level model (the seeds' migration guide): every version is
copied in order into the destination and stages become aliases (Production -> Champion, Staging -> Challenger
by default). The original is left untouched. One MIGRATE job does the work; each version's bytes are moved by
its own COPY job, which the migration runs itself unless another worker already has it."""
from __future__ import annotations

import logging
import time

from django.db import transaction

from registry import audit
from registry.errors import InvalidParameter
from registry.generated_descriptions import copied_description
from registry.jobs import JobFailed, LeaseHeld, execute, hold, progress, retry_countdown, start_migration
from registry.models import Job, ModelVersion, RegisteredModel
from registry.models.models import VersionStatus
from registry.names import parse_model_name, validate_alias
from registry.permissions import Action
from registry.selectors import model_get, model_lookup, model_not_found_message
from registry.services.aliases import alias_set
from registry.services.core import authorize, require_authenticated, service
from registry.services.models import registered_model_create
from registry.services.versions import STAGE_NAMES, model_version_create

log = logging.getLogger(__name__)

DEFAULT_STAGE_ALIASES = {"Production": "Champion", "Staging": "Challenger"}


def _stage_alias_map(value) -> dict[str, str]:
    if value is None:
        return dict(DEFAULT_STAGE_ALIASES)
    if not isinstance(value, dict):
        raise InvalidParameter("stage_alias_map must map stage names to aliases, e.g. {\"Production\": \"Champion\"}.")
    result = {}
    for stage, alias in value.items():
        canonical = STAGE_NAMES.get(str(stage).lower())
        if canonical is None:
            raise InvalidParameter(f"Unknown stage {str(stage)[:50]!r} in stage_alias_map; "
                                   f"stages are {', '.join(STAGE_NAMES.values())}.")
        if alias in (None, ""):
            continue  # "no alias for this stage"
        result[canonical] = validate_alias(alias)
    return result


@service("registered_model.migrate")
def model_migrate(*, actor, source_name: str, destination_name: str, stage_alias_map: dict | None = None) -> Job:
    require_authenticated(actor)
    source = model_get(actor=actor, name=source_name)
    if source.is_unity_catalog:
        raise InvalidParameter(f"{source.full_name} is already a Unity Catalog model: only workspace-registry models "
                               "are migrated. Copy its versions to move them to another model.")
    if not parse_model_name(destination_name).is_unity_catalog:
        raise InvalidParameter("The migration destination must be a three-level name <catalog>.<schema>.<model>.")
    mapping = _stage_alias_map(stage_alias_map)
    if model_lookup(destination_name).exists():
        destination = model_get(actor=actor, name=destination_name)
        authorize(actor, Action.MODIFY, destination, not_found_message=model_not_found_message(destination_name))
    else:
        destination = registered_model_create(actor=actor, name=destination_name,
                                              description=copied_description(source.description, "model"),
                                              tags=dict(source.tags.values_list("key", "value")))
    job = start_migration(actor=actor, source=source, destination=destination, stage_alias_map=mapping)
    audit.record(actor=actor, action="registered_model.migrate", obj=destination,
                 params={"source": source.full_name, "destination": destination.full_name,
                         "stage_alias_map": mapping, "job_id": job.pk})
    return job


def migration_run(job: Job) -> None:
    """The MIGRATE job's work. Safe to run again after a crash: each step is recorded in job.params in the
    same transaction that makes it, so a retry skips the versions already created."""
    params = dict(job.params)
    actor = job.created_by
    if actor is None or not actor.is_active:
        raise JobFailed("The user who started this migration no longer exists or is inactive.")
    source = RegisteredModel.objects.filter(pk=params["source_model_id"]).first()
    if source is None:
        raise JobFailed(f"The source model {params.get('source_name')} was deleted during the migration.")
    destination = RegisteredModel.objects.select_related("schema__catalog").filter(pk=job.model_id).first()
    if destination is None:
        raise JobFailed(f"The destination model {params.get('destination_name')} was deleted during the migration.")
    stage_map = params.get("stage_alias_map") or {}
    versions = list(source.versions.order_by("version"))
    progress(job, files_total=len(versions), files_done=0,
             message=f"Migrating {len(versions)} versions of {source.full_name}")
    for index, src in enumerate(versions, start=1):
        copy = _destination_version(job, actor, src, destination, params)
        _await_copy(job, copy)
        alias = stage_map.get(src.current_stage)
        if alias:  # in version order, so the newest version in a stage ends up holding its alias
            alias_set(actor=actor, name=destination.full_name, alias=alias, version=copy.version)
        progress(job, files_done=index,
                 message=f"Version {src.version} copied as {destination.full_name} version {copy.version}")
    progress(job, message=f"Migrated {len(versions)} versions of {source.full_name} to {destination.full_name}")


def _destination_version(job: Job, actor, src: ModelVersion, destination: RegisteredModel, params: dict) -> ModelVersion:
    mapping = params.setdefault("versions", {})
    number = mapping.get(str(src.version))
    if number is not None:
        found = ModelVersion.objects.filter(model=destination, version=number).first()
        if found is None:
            raise JobFailed(f"Version {number} of {destination.full_name} was deleted during the migration.")
        return found
    with transaction.atomic():
        hold(job)
        # A copy made by an earlier migration of the same model counts too: running a migration again
        # does not duplicate versions.
        found = (ModelVersion.objects.filter(model=destination, copied_from=src)
                 .exclude(status=VersionStatus.FAILED_REGISTRATION).order_by("version").first())
        if found is None:
            found = model_version_create(
                actor=actor, name=destination.full_name, source=f"models:/{src.model.full_name}/{src.version}",
                run_id=src.run_id, description=src.description, run_link=src.run_link,
                tags=dict(src.tags.values_list("key", "value")),
            )
        mapping[str(src.version)] = found.version
        Job.objects.filter(pk=job.pk).update(params=params)
        job.params = params
    return found


def _await_copy(job: Job, version: ModelVersion) -> None:
    """Return once `version` is READY. Runs its copy job here (so one worker is enough) unless another
    worker holds it; then waits, renewing this job's lease."""
    while True:
        version.refresh_from_db(fields=["status", "status_message"])
        if version.status == VersionStatus.READY:
            return
        if version.status == VersionStatus.FAILED_REGISTRATION:
            raise JobFailed(f"Version {version.version} could not be copied: {version.status_message}")
        child = Job.objects.filter(model_version=version, kind__in=[Job.Kind.COPY, Job.Kind.REGISTER]).order_by("-pk").first()
        if child is None or child.is_finished:
            version.refresh_from_db(fields=["status", "status_message"])
            if version.status == VersionStatus.READY:
                return
            raise JobFailed(f"The copy of version {version.version} ended without making it READY"
                            + (f": {child.error}" if child and child.error else "."))
        try:
            execute(child.pk, task_id=f"migrate-{job.pk}", parent=job)
        except LeaseHeld as held:
            progress(job, message=f"Waiting for the copy of version {version.version}")
            time.sleep(min(2.0, max(0.2, held.seconds_left)))
        except Exception:  # that attempt crashed; its row counts it against the attempts cap
            log.warning("copy job %s failed inside migration %s", child.pk, job.pk, exc_info=True)
            progress(job, message=f"Retrying the copy of version {version.version}")
            time.sleep(retry_countdown(0))
