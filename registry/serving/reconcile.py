"""Desired state -> deployments. `reconcile_all()` derives, for every *source* of wanted deployments, which pools
must run, creates the missing deployments (PENDING: a supervisor claims them), retires the ones no longer wanted
(DRAINING when a supervisor runs them, else STOPPED at once), and publishes each owner's status.

It is idempotent and safe to run from several processes at once (web requests after a commit, every supervisor
each tick): each owner is reconciled in its own short transaction under a lock on the owner's row.

Sources: legacy model serving (`LegacyServing`). Other kinds of served things (serving endpoints) add a source to
`SOURCES`: an object that lists its owners, says what each one wants and publishes its status."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Iterable, Protocol

from django.db import DatabaseError, connection, models, transaction
from django.db.models import F, Q
from django.utils import timezone

from registry.models import ModelVersion, ServedModel, ServingDeployment, ServingEvent, ServingState
from registry.models.models import Stage, VersionStatus

log = logging.getLogger(__name__)

Deployment = ServingDeployment
ACTIVE = (Deployment.State.PENDING, Deployment.State.READY, Deployment.State.FAILED)  # wanted, not retired


@dataclass(frozen=True)
class Wanted:
    """One pool that must run: which version, for which served entity, with which pool settings."""

    version_id: int
    generation: int
    workers: int
    memory_limit_mb: int
    entity_name: str = ""

    @property
    def key(self) -> tuple:
        return (self.version_id, self.entity_name, self.generation)


def deployment_key(deployment: ServingDeployment) -> tuple:
    return (deployment.version_id, deployment.entity_name, deployment.generation)


class Source(Protocol):
    owner_model: type[models.Model]
    owner_field: str  # the ServingDeployment foreign key to the owner

    def owner_ids(self) -> Iterable[int]: ...

    def wanted(self, owner) -> list[Wanted]: ...

    def removal_reason(self, owner, deployment: ServingDeployment) -> str: ...

    def publish(self, owner, deployments: list[ServingDeployment]) -> None: ...


class LegacyServing:
    """Legacy model serving: while a ServedModel is enabled, every READY version not in stage Archived is served
    with the model's current generation, workers and memory limit."""

    owner_model = ServedModel
    owner_field = "served_model"

    def owner_ids(self) -> Iterable[int]:
        unsettled = Q(enabled=True) | ~Q(state=ServingState.DISABLED) | Q(
            deployments__state__in=[*ACTIVE, Deployment.State.DRAINING])
        return ServedModel.objects.filter(unsettled).values_list("pk", flat=True).distinct()

    def _servable(self, owner: ServedModel):
        return ModelVersion.objects.filter(model_id=owner.model_id, status=VersionStatus.READY).exclude(
            current_stage=Stage.ARCHIVED)

    def wanted(self, owner: ServedModel) -> list[Wanted]:
        if not owner.enabled:
            return []
        return [Wanted(version_id, owner.generation, owner.workers, owner.memory_limit_mb)
                for version_id in self._servable(owner).values_list("pk", flat=True)]

    def removal_reason(self, owner: ServedModel, deployment: ServingDeployment) -> str:
        version = deployment.version
        if not owner.enabled:
            return f"Version {version.version} removed: serving was stopped."
        if deployment.generation != owner.generation:
            return f"Version {version.version} replaced: the serving settings changed."
        if version.current_stage == Stage.ARCHIVED:
            return f"Version {version.version} removed: it was archived."
        return f"Version {version.version} removed: it is no longer READY."

    def publish(self, owner: ServedModel, deployments: list[ServingDeployment]) -> None:
        if not owner.enabled:
            state, message = ServingState.DISABLED, ""
        else:
            current = sorted((d for d in deployments if d.state in ACTIVE and d.generation == owner.generation),
                             key=lambda d: d.version.version)
            failed = [d for d in current if d.state == Deployment.State.FAILED]
            pending = [d for d in current if d.state == Deployment.State.PENDING]
            if failed:
                state = ServingState.FAILED
                message = " ".join(d.message or f"Version {d.version.version} failed." for d in failed)
            elif pending:
                state = ServingState.PENDING
                message = "Deploying version " + ", ".join(str(d.version.version) for d in pending) + "."
            elif current:
                state, message = ServingState.READY, ""
            else:
                state, message = ServingState.READY, "No READY version that is not archived to serve."
        if (owner.state, owner.message) != (state, message):
            ServedModel.objects.filter(pk=owner.pk).update(state=state, message=message)


SOURCES: list[Source] = [LegacyServing()]


def reconcile_all() -> None:
    """Bring every source's deployments in line with what it wants. Errors on one owner are logged and do not
    stop the others (the next run retries)."""
    for source in SOURCES:
        for owner_id in list(source.owner_ids()):
            try:
                reconcile_owner(source, owner_id)
            except DatabaseError:
                log.exception("reconciling %s %s failed; retried on the next run", source.owner_field, owner_id)


def reconcile_owner(source: Source, owner_id: int) -> None:
    with transaction.atomic():
        owner = _locked(source.owner_model, owner_id)
        if owner is None:
            return
        wanted = {w.key: w for w in source.wanted(owner)}
        deployments = list(Deployment.objects.filter(**{source.owner_field: owner}).exclude(
            state=Deployment.State.STOPPED).select_related("version"))
        now = timezone.now()
        present = set()
        # A pool replaced by new settings (a newer generation of the same version or entity) keeps answering until
        # its replacement is READY, so a settings change never leaves the version without a pool.
        ready_replacements = {(d.version_id, d.entity_name) for d in deployments
                              if d.state == Deployment.State.READY and deployment_key(d) in wanted}
        wanted_targets = {(w.version_id, w.entity_name) for w in wanted.values()}
        for deployment in deployments:
            key = deployment_key(deployment)
            target = (deployment.version_id, deployment.entity_name)
            if deployment.state == Deployment.State.DRAINING:
                if not _leased(deployment, now):  # its supervisor is gone: nothing runs it any more
                    _set(deployment, state=Deployment.State.STOPPED, address="", supervisor="", lease_expires_at=None)
            elif key in wanted and key not in present:
                present.add(key)
            elif (deployment.state == Deployment.State.READY and target in wanted_targets
                  and target not in ready_replacements and _leased(deployment, now)):
                continue  # superseded, but still the one that answers
            else:
                _retire(source, owner, deployment, now)
        for key, want in wanted.items():
            if key not in present:
                deployments.append(_create(source, owner, want))
        source.publish(owner, deployments)


def _locked(model: type[models.Model], pk: int):
    """The owner's row, locked for this transaction, so two reconcilers never both create a deployment. SQLite has
    no row locks: a no-op UPDATE takes its database write lock instead (and waits for the other writer)."""
    if connection.features.has_select_for_update:
        return model.objects.select_for_update().filter(pk=pk).first()
    key = model._meta.pk.attname
    if not model.objects.filter(pk=pk).update(**{key: F(key)}):
        return None
    return model.objects.filter(pk=pk).first()


def _leased(deployment: ServingDeployment, now) -> bool:
    return bool(deployment.supervisor) and deployment.lease_expires_at is not None and deployment.lease_expires_at > now


def _set(deployment: ServingDeployment, **fields) -> None:
    for name, value in fields.items():
        setattr(deployment, name, value)
    Deployment.objects.filter(pk=deployment.pk).update(**fields, updated_at=timezone.now())


def _retire(source: Source, owner, deployment: ServingDeployment, now) -> None:
    """Retire a deployment no longer wanted: a running pool drains (its supervisor finishes the requests in flight
    and stops it); one that runs nowhere stops at once."""
    reason = source.removal_reason(owner, deployment)
    running = deployment.state in (Deployment.State.READY, Deployment.State.PENDING) and _leased(deployment, now)
    if running:
        _set(deployment, state=Deployment.State.DRAINING, message=reason)
    else:
        _set(deployment, state=Deployment.State.STOPPED, message=reason, address="", supervisor="",
             lease_expires_at=None)
    record_event(deployment, ServingEvent.Kind.VERSION_REMOVED, reason)


def _create(source: Source, owner, want: Wanted) -> ServingDeployment:
    deployment = Deployment.objects.create(
        **{source.owner_field: owner}, version_id=want.version_id, entity_name=want.entity_name,
        generation=want.generation, workers=want.workers, memory_limit_mb=want.memory_limit_mb,
        state=Deployment.State.PENDING, message="Waiting for a serving supervisor.")
    return Deployment.objects.select_related("version").get(pk=deployment.pk)


def record_event(deployment: ServingDeployment, kind: str, message: str, *, version_number: int | None = None) -> None:
    """An event for the UI's lists, attached to the deployment and to whatever it serves."""
    if version_number is None:
        version_number = deployment.version.version
    ServingEvent.objects.create(served_model_id=deployment.served_model_id, endpoint_id=deployment.endpoint_id,
                                deployment=deployment, version_number=version_number, kind=kind, message=message)


import registry.serving.endpoints_source  # noqa: E402,F401 - serving endpoints register their Source in SOURCES
