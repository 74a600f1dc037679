"""Reads about upgrades of workspace-registry models to Unity Catalog (the MIGRATE jobs of
registry/services/migration.py), with visibility applied: who may start one, where a model was upgraded to, and
where an upgraded model came from. The job rows are the record: they are never pruned, and they keep the source's
id and both names as they were when the upgrade started."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from registry import permissions
from registry.job_selectors import job_list_visible
from registry.models import Job, RegisteredModel, Schema
from registry.permissions import Action
from registry.source_visibility import RESTRICTED

MIGRATE_ACTION = "registered_model.migrate"


def upgrade_possible(*, actor, model: RegisteredModel) -> bool:
    """Whether `actor` could upgrade `model` (already visible to it) somewhere: it is a workspace model and the
    actor may create a model in some schema or add versions to some three-level model, which is what
    `model_migrate` asks of the destination."""
    if model.is_unity_catalog or actor is None or not actor.is_authenticated or not actor.is_active:
        return False
    if permissions.is_admin(actor):
        return True
    return (permissions.restrict(actor, Schema.objects.all(), Action.CREATE_MODEL).exists()
            or permissions.restrict(actor, RegisteredModel.objects.filter(schema__isnull=False), Action.MODIFY).exists())


def upgrade_destinations(*, actor, limit: int = 50) -> list[str]:
    """Names to suggest as an upgrade's destination: three-level models the actor may add versions to."""
    rows = permissions.restrict(actor, RegisteredModel.objects.filter(schema__isnull=False)
                                .select_related("schema__catalog"), Action.MODIFY).order_by("-updated_at", "pk")
    return [m.full_name for m in rows[:limit]]


def creatable_schemas(*, actor, limit: int = 50) -> list[str]:
    rows = permissions.restrict(actor, Schema.objects.select_related("catalog"), Action.CREATE_MODEL)
    return [s.full_name for s in rows.order_by("catalog__name", "name")[:limit]]


@dataclass(frozen=True)
class Upgrade:
    """The latest upgrade of a workspace model, as one viewer may see it."""
    state: str  # a Job.State
    finished_at: datetime | None
    destination: RegisteredModel | None  # None when the viewer may not read it, or it was deleted
    destination_deleted: bool
    job: Job | None  # the job itself, when the viewer may see it (to follow it, or read why it failed)


def model_upgrade(*, actor, model: RegisteredModel) -> tuple[Upgrade | None, Upgrade | None]:
    """(the latest finished-successfully upgrade of `model`, a later unfinished or failed one the viewer may see).
    Either may be None. Nothing for a three-level model (no query)."""
    if model.is_unity_catalog:
        return None, None
    ours = Job.objects.filter(kind=Job.Kind.MIGRATE, params__source_model_id=model.pk)
    done = ours.filter(state=Job.State.SUCCEEDED).select_related("model__schema__catalog").order_by("-finished_at", "-pk").first()
    later = job_list_visible(actor=actor).filter(kind=Job.Kind.MIGRATE, params__source_model_id=model.pk).exclude(
        state__in=(Job.State.SUCCEEDED, Job.State.CANCELLED))
    if done is not None:
        later = later.filter(created_at__gt=done.created_at)
    pending = later.order_by("-created_at", "-pk").first()
    return _as_seen(actor, done), _as_seen(actor, pending)


def _as_seen(actor, job: Job | None) -> Upgrade | None:
    if job is None:
        return None
    destination = job.model
    readable = destination is not None and permissions.allows(actor, Action.READ, destination)
    visible_job = job_list_visible(actor=actor).filter(pk=job.pk).exists()
    return Upgrade(state=job.state, finished_at=job.finished_at, destination=destination if readable else None,
                   destination_deleted=destination is None, job=job if visible_job else None)


def describe_upgrade_events(*, actor, events: list) -> list:
    """Set `upgraded_from` on each upgrade event of `events` (the destination's History): the workspace model's
    current name for a viewer who may read it, else "" with its recorded name masked in the event's parameters
    (as the jobs API masks `params.source_name`)."""
    upgrades = [e for e in events if e.action == MIGRATE_ACTION and isinstance(e.parameters, dict)]
    if not upgrades:
        return events
    job_ids = [e.parameters.get("job_id") for e in upgrades if isinstance(e.parameters.get("job_id"), int)]
    source_ids = dict(Job.objects.filter(pk__in=job_ids).values_list("pk", "params__source_model_id"))
    sources = {m.pk: m for m in permissions.restrict(
        actor, RegisteredModel.objects.filter(pk__in=[s for s in source_ids.values() if isinstance(s, int)]))}
    for event in upgrades:
        source = sources.get(source_ids.get(event.parameters.get("job_id")))
        event.upgraded_from = source.full_name if source is not None else ""
        if source is None:
            event.parameters = {**event.parameters, "source": RESTRICTED}
    return events
