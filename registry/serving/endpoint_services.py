"""Serving endpoints, the desired state: create, change the config, change the permissions, delete. Each call is
one audited transaction (registry.services.core.service); a new config is written as the endpoint's
`pending_config` and rolled out by reconciliation (registry.serving.endpoints_source), which runs after the
commit so the deployments exist at once, before a supervisor picks them up."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.utils import timezone

from registry import audit
from registry.errors import AlreadyExists, InvalidParameter, InvalidState
from registry.models import ServingEndpoint, ServingEndpointGrant, ServingEvent, ServingState
from registry.serving.endpoint_access import Level, endpoint_by_id, endpoint_for
from registry.serving.endpoint_config import model_names, parse_config, validate_endpoint_name
from registry.serving.reconcile import reconcile_all
from registry.services.core import require_authenticated, service


class UpdateInProgress(InvalidState):
    error_code = "RESOURCE_CONFLICT"


def _reconcile_after_commit() -> None:
    # robust: the change is committed either way; supervisors reconcile on their own tick too.
    transaction.on_commit(reconcile_all, robust=True)


def _tags(tags) -> list[dict]:
    if tags is None:
        return []
    if not isinstance(tags, list) or not all(isinstance(t, dict) and isinstance(t.get("key"), str) for t in tags):
        raise InvalidParameter("tags must be a list of {key, value} objects.")
    return [{"key": t["key"][:255], **({"value": str(t["value"])[:255]} if t.get("value") is not None else {})}
            for t in tags[:20]]


def _pending(config: dict, config_version: int, current: dict | None = None) -> dict:
    """The config to roll out as `config_version`. A served entity the current config already serves unchanged
    (same name, version and size) keeps its deployment's generation: its pool goes on serving, not redeployed."""
    running = {_same(e): e["generation"] for e in (current or {}).get("served_entities", [])}
    for entity in config["served_entities"]:
        entity["generation"] = running.get(_same(entity), config_version)
    return {**config, "config_version": config_version, "start_time": int(timezone.now().timestamp() * 1000)}


def _same(entity: dict) -> tuple:
    return (entity["name"], entity["version_id"], entity["workers"])


@service("serving_endpoint.create")
def endpoint_create(*, actor, name: str, config, tags=None) -> ServingEndpoint:
    require_authenticated(actor)
    validate_endpoint_name(name)
    parsed = parse_config(actor, config)
    if ServingEndpoint.objects.filter(name=name).exists():
        raise AlreadyExists(f"Serving endpoint '{name}' already exists.")
    try:
        with transaction.atomic():
            endpoint = ServingEndpoint.objects.create(
                name=name, creator=actor, config={}, pending_config=_pending(parsed, 1), config_version=1,
                state=ServingState.PENDING, message="Deploying the served entities.", tags=_tags(tags))
    except IntegrityError:  # created by someone else since the check
        raise AlreadyExists(f"Serving endpoint '{name}' already exists.") from None
    ServingEvent.objects.create(endpoint=endpoint, kind=ServingEvent.Kind.CONFIG_UPDATED,
                                message=f"Endpoint created by {actor.get_username()} (config version 1).")
    audit.record(actor=actor, action="serving_endpoint.create", obj=endpoint, object_name=name,
                 params={"served_models": model_names(parsed), "routes": _route_summary(parsed)})
    _reconcile_after_commit()
    return endpoint


def _route_summary(config: dict) -> dict:
    return {r["served_entity_name"]: r["traffic_percentage"] for r in config["traffic_config"]["routes"]}


@service("serving_endpoint.update_config")
def endpoint_config_update(*, actor, name: str, config) -> ServingEndpoint:
    """A new config for the endpoint: rolled out beside the current one, which keeps answering until every new
    served entity is READY. One update at a time: another while one rolls out is refused."""
    endpoint = endpoint_for(actor, name, Level.CAN_MANAGE, lock=True)
    if endpoint.pending_config:
        raise UpdateInProgress(f"Serving endpoint '{name}' has a config update in progress; wait until it "
                               "finishes or fails before updating again.")
    parsed = parse_config(actor, config)
    version = endpoint.config_version + 1
    endpoint.pending_config = _pending(parsed, version, endpoint.config)
    endpoint.config_version = version
    endpoint.state, endpoint.message = ServingState.PENDING, "Deploying the new config."
    endpoint.save(update_fields=["pending_config", "config_version", "state", "message", "updated_at"])
    ServingEvent.objects.create(endpoint=endpoint, kind=ServingEvent.Kind.CONFIG_UPDATED,
                                message=f"Config version {version} set by {actor.get_username()}.")
    audit.record(actor=actor, action="serving_endpoint.update_config", obj=endpoint, object_name=name,
                 params={"config_version": version, "served_models": model_names(parsed),
                         "routes": _route_summary(parsed)})
    _reconcile_after_commit()
    return endpoint


@service("serving_endpoint.delete")
def endpoint_delete(*, actor, name: str) -> None:
    """Delete the endpoint and its deployments (supervisors stop the pools whose rows are gone)."""
    endpoint = endpoint_for(actor, name, Level.CAN_MANAGE, lock=True)
    audit.record(actor=actor, action="serving_endpoint.delete", obj=endpoint, object_name=name,
                 params={"served_models": model_names(endpoint.config or endpoint.pending_config)})
    endpoint.delete()


def _principal(entry: dict):
    user_name, group_name = entry.get("user_name"), entry.get("group_name")
    if entry.get("service_principal_name"):
        raise InvalidParameter("Service principals are not supported: grant to a user_name or group_name.")
    if bool(user_name) == bool(group_name):
        raise InvalidParameter("Each access control entry names exactly one user_name or group_name.")
    if user_name:
        user = get_user_model().objects.filter(username=str(user_name)).first()
        if user is None:
            raise InvalidParameter(f"User '{str(user_name)[:100]}' does not exist.")
        return {"user": user}
    group = Group.objects.filter(name=str(group_name)).first()
    if group is None:
        raise InvalidParameter(f"Group '{str(group_name)[:100]}' does not exist.")
    return {"group": group}


def _entries(access_control_list) -> list[tuple[dict, str]]:
    if access_control_list is None:
        return []
    if not isinstance(access_control_list, list) or not all(isinstance(e, dict) for e in access_control_list):
        raise InvalidParameter("access_control_list must be a list of access control entries.")
    entries = []
    for entry in access_control_list:
        level = entry.get("permission_level")
        if level not in Level.values:
            raise InvalidParameter(f"permission_level must be one of {', '.join(Level.values)}, got "
                                   f"{str(level)[:40]!r}.")
        entries.append((_principal(entry), level))
    return entries


@service("serving_endpoint.update_permissions")
def endpoint_permissions_update(*, actor, endpoint_id: str, access_control_list, replace: bool) -> ServingEndpoint:
    """PUT (replace=True: the list becomes the endpoint's grants) or PATCH (the listed principals get the listed
    level, others keep theirs). CAN_MANAGE needed; the creator's own management is not a grant and stays."""
    endpoint = endpoint_by_id(actor, endpoint_id, Level.CAN_MANAGE, lock=True)
    entries = _entries(access_control_list)
    if replace:
        endpoint.grants.all().delete()
    for principal, level in entries:
        ServingEndpointGrant.objects.update_or_create(endpoint=endpoint, **principal,
                                                      defaults={"level": level, "granted_by": actor})
    audit.record(actor=actor, action="serving_endpoint.update_permissions", obj=endpoint, object_name=endpoint.name,
                 params={"replace": replace, "access_control_list": [
                     f"{(p.get('user') or p.get('group'))}:{level}" for p, level in entries]})
    return endpoint
