"""Reads of serving endpoints in the Databricks API's shapes (ServingEndpointDetailed for GET, ServingEndpoint for
list, ServingEndpointPermissions), with two extensions: `entity_alias` on a served entity set by alias, and
`served_entity_metrics` (count and latency over the last hour per served entity) on GET."""
from __future__ import annotations

from registry.models import ModelVersion, ServingDeployment, ServingEndpoint, ServingState
from registry.serving import endpoint_metrics
from registry.serving.endpoint_access import Level, endpoint_for, visible_endpoints
from registry.serving.endpoints_source import deployment_key, entities

State = ServingDeployment.State
_DEPLOYMENT_STATE = {State.READY: "DEPLOYMENT_READY", State.FAILED: "DEPLOYMENT_FAILED",
                     State.PENDING: "DEPLOYMENT_CREATING"}


def _millis(moment) -> int:
    return int(moment.timestamp() * 1000)


def _deployments(endpoint: ServingEndpoint) -> dict[tuple, ServingDeployment]:
    current = ServingDeployment.objects.filter(endpoint=endpoint, state__in=list(_DEPLOYMENT_STATE))
    return {(d.entity_name, d.generation): d for d in current.order_by("id")}


def _entity_state(entity: dict, deployments: dict) -> dict:
    deployment = deployments.get(deployment_key(entity))
    if deployment is None:
        return {"deployment": "DEPLOYMENT_CREATING", "deployment_state_message": "Waiting to be deployed."}
    return {"deployment": _DEPLOYMENT_STATE[deployment.state],
            "deployment_state_message": deployment.message or ("Ready." if deployment.state == State.READY else "")}


_PUBLIC = ("name", "entity_name", "entity_version", "entity_alias", "workload_size", "scale_to_zero_enabled",
           "creator", "creation_timestamp")


def _current_model_names(config: dict) -> dict[int, str]:
    """version id -> its model's name now (a model renamed since the config was set shows its new name)."""
    versions = ModelVersion.objects.filter(pk__in=[e["version_id"] for e in entities(config)])
    return {v.pk: v.model.full_name for v in versions.select_related("model__schema__catalog")}


def _config_out(config: dict, deployments: dict, *, pending: bool) -> dict:
    served_entities, served_models = [], []
    names = _current_model_names(config)
    for entity in entities(config):
        public = {key: entity[key] for key in _PUBLIC if key in entity}
        public["entity_name"] = names.get(entity["version_id"], entity["entity_name"])
        public["state"] = _entity_state(entity, deployments)
        served_entities.append(public)
        served_models.append({**{k: v for k, v in public.items() if k not in ("entity_name", "entity_version")},
                              "model_name": public["entity_name"], "model_version": entity["entity_version"]})
    out = {"config_version": config["config_version"], "served_entities": served_entities,
           "served_models": served_models, "traffic_config": config["traffic_config"]}
    if pending:
        out["start_time"] = config.get("start_time")
    return out


def endpoint_state(endpoint: ServingEndpoint, deployments: dict) -> dict:
    serving = entities(endpoint.config)
    ready = bool(serving) and all(
        (d := deployments.get(deployment_key(e))) is not None and d.state == State.READY for e in serving)
    if endpoint.pending_config:
        update = "IN_PROGRESS"
    elif endpoint.state == ServingState.FAILED:
        update = "UPDATE_FAILED"
    else:
        update = "NOT_UPDATING"
    return {"ready": "READY" if ready else "NOT_READY", "config_update": update}


def _summary(endpoint: ServingEndpoint, deployments: dict) -> dict:
    shown = endpoint.config or endpoint.pending_config or {}
    out = {"name": endpoint.name, "id": str(endpoint.pk),
           "creator": endpoint.creator.get_username() if endpoint.creator else None,
           "creation_timestamp": _millis(endpoint.created_at),
           "last_updated_timestamp": _millis(endpoint.updated_at),
           "state": endpoint_state(endpoint, deployments), "tags": endpoint.tags or [],
           "config": {"served_entities": [{k: e[k] for k in ("name", "entity_name", "entity_version")}
                                          for e in entities(shown)]}}
    return out


def endpoint_detail(*, actor, name: str) -> dict:
    endpoint = endpoint_for(actor, name, Level.CAN_VIEW)
    deployments = _deployments(endpoint)
    out = _summary(endpoint, deployments)
    out["permission_level"] = endpoint.permission_level
    out["state_message"] = endpoint.message  # extension: what the rollout is doing or why it failed
    if endpoint.config:
        out["config"] = _config_out(endpoint.config, deployments, pending=False)
    else:
        del out["config"]
    if endpoint.pending_config:
        out["pending_config"] = _config_out(endpoint.pending_config, deployments, pending=True)
    out["served_entity_metrics"] = endpoint_metrics.last_hour(endpoint.pk)
    return out


def endpoint_list(*, actor) -> list[dict]:
    endpoints = visible_endpoints(actor).select_related("creator").order_by("name")
    deployments: dict[int, dict] = {}
    for d in ServingDeployment.objects.filter(endpoint__in=endpoints, state__in=list(_DEPLOYMENT_STATE)):
        deployments.setdefault(d.endpoint_id, {})[(d.entity_name, d.generation)] = d
    return [_summary(endpoint, deployments.get(endpoint.pk, {})) for endpoint in endpoints]


def endpoint_permissions(endpoint: ServingEndpoint) -> dict:
    acl = []
    if endpoint.creator:
        acl.append({"user_name": endpoint.creator.get_username(), "display_name": endpoint.creator.get_username(),
                    "all_permissions": [{"permission_level": Level.CAN_MANAGE.value, "inherited": False}]})
    for grant in endpoint.grants.select_related("user", "group").order_by("id"):
        principal = ({"user_name": grant.user.get_username(), "display_name": grant.user.get_username()}
                     if grant.user_id else {"group_name": grant.group.name, "display_name": grant.group.name})
        acl.append({**principal, "all_permissions": [{"permission_level": grant.level, "inherited": False}]})
    return {"object_id": f"/serving-endpoints/{endpoint.pk}", "object_type": "serving-endpoint",
            "access_control_list": acl}
