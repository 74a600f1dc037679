"""Serving endpoints as a source of wanted deployments for registry.serving.reconcile: one deployment per served
entity of the endpoint's current config, and of its pending config while an update rolls out. The current one
keeps answering until every entity of the pending one is READY; then the pending config becomes current (its
old deployments drain and stop) — or, if one of them fails, the update fails and the current config stays."""
from __future__ import annotations

from django.db import transaction

from registry.models import ModelVersion, ServingDeployment, ServingEndpoint, ServingEvent, ServingState
# The module, not its names: reconcile imports this module at its end to register the source (either may load first).
from registry.serving import reconcile

# An endpoint's pools have no memory setting of their own in the Databricks API: the legacy default applies.
ENTITY_MEMORY_LIMIT_MB = 2048


def entities(config: dict | None) -> list[dict]:
    return (config or {}).get("served_entities", [])


def deployment_key(entity: dict) -> tuple:
    return (entity["name"], entity["generation"])


class EndpointServing:
    owner_model = ServingEndpoint
    owner_field = "endpoint"

    def owner_ids(self):
        return ServingEndpoint.objects.values_list("pk", flat=True)

    def wanted(self, owner: ServingEndpoint) -> list[Wanted]:
        wanted = {}
        servable = set(ModelVersion.objects.filter(pk__in=[e["version_id"] for e in self._all(owner)])
                       .values_list("pk", flat=True))
        for entity in self._all(owner):
            if entity["version_id"] in servable:  # a deleted version cannot be deployed (publish says so)
                want = reconcile.Wanted(entity["version_id"], entity["generation"], entity["workers"], ENTITY_MEMORY_LIMIT_MB,
                              entity_name=entity["name"])
                wanted[want.key] = want
        return list(wanted.values())

    @staticmethod
    def _all(owner: ServingEndpoint) -> list[dict]:
        return entities(owner.config) + entities(owner.pending_config)

    def removal_reason(self, owner: ServingEndpoint, deployment: ServingDeployment) -> str:
        return (f"Served entity {deployment.entity_name} (version {deployment.version.version}) removed: the "
                f"endpoint's config no longer serves it.")

    def publish(self, owner: ServingEndpoint, deployments: list[ServingDeployment]) -> None:
        pending = owner.pending_config
        if not pending:
            return
        by_key = {(d.entity_name, d.generation): d for d in deployments if d.state in reconcile.ACTIVE}
        failures, waiting = [], []
        for entity in entities(pending):
            deployment = by_key.get(deployment_key(entity))
            label = f"Served entity {entity['name']} ({entity['entity_name']} version {entity['entity_version']})"
            if deployment is None:
                if not ModelVersion.objects.filter(pk=entity["version_id"]).exists():
                    failures.append(f"{label}: the version no longer exists.")
                else:
                    waiting.append(entity["name"])
            elif deployment.state == ServingDeployment.State.FAILED:
                failures.append(f"{label} failed: {deployment.message or 'no reason recorded'}")
            elif deployment.state != ServingDeployment.State.READY:
                waiting.append(entity["name"])
        version = pending["config_version"]
        if failures:
            message = f"Config version {version} failed; the previous config keeps serving. " + " ".join(failures)
            self._finish(owner, config=owner.config, state=ServingState.FAILED, message=message)
        elif not waiting:
            self._finish(owner, config=pending, state=ServingState.READY,
                         message=f"Config version {version} is serving.")
        elif owner.message != (message := "Deploying " + ", ".join(waiting) + "."):
            ServingEndpoint.objects.filter(pk=owner.pk).update(message=message)

    def _finish(self, owner: ServingEndpoint, *, config: dict, state: str, message: str) -> None:
        ServingEndpoint.objects.filter(pk=owner.pk).update(config=config, pending_config=None, state=state,
                                                          message=message)
        ServingEvent.objects.create(endpoint=owner, kind=ServingEvent.Kind.CONFIG_UPDATED, message=message)
        # The deployments of the config that lost retire now rather than on the next supervisor tick.
        transaction.on_commit(lambda: reconcile.reconcile_owner(self, owner.pk), robust=True)


reconcile.SOURCES.append(EndpointServing())
