"""A serving endpoint's config as the Databricks API takes it (`served_entities`, or the older `served_models`, and
`traffic_config.routes`), checked and turned into the stored shape: each served entity names one registered model
the actor may EXECUTE and one of its versions, pinned by number when the config is set (an alias, an extension
of ours, is resolved then and kept as `entity_alias`)."""
from __future__ import annotations

import re

from django.utils import timezone

from registry.errors import InvalidParameter
from registry.models.models import VersionStatus
from registry.selectors import model_get
from registry.serving.selectors import version_for_reference

# Databricks' CPU sizes, mapped to the model processes of the entity's pool (concurrency 4/16/64 there).
WORKLOAD_WORKERS = {"Small": 1, "Medium": 2, "Large": 4}
ENDPOINT_NAME = re.compile(r"^[A-Za-z0-9_-]{1,63}$")
ENTITY_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,255}$")
MAX_SERVED_ENTITIES = 15  # Databricks' limit per endpoint


def validate_endpoint_name(name) -> str:
    if not isinstance(name, str) or not ENDPOINT_NAME.match(name):
        raise InvalidParameter("Endpoint name must be 1 to 63 characters: letters, digits, dashes and underscores, "
                               f"got {str(name)[:80]!r}.")
    return name


def _text(entity: dict, key: str, *, required: bool = True) -> str | None:
    value = entity.get(key)
    if value is None or value == "":
        if required:
            raise InvalidParameter(f"served_entities[].{key} is required.")
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise InvalidParameter(f"served_entities[].{key} must be a string.")
    return str(value)


def _entities_input(config: dict) -> list[dict]:
    entities = config.get("served_entities")
    legacy = config.get("served_models")
    if entities is not None and legacy is not None:
        raise InvalidParameter("Give served_entities or served_models, not both.")
    if legacy is not None:  # the deprecated spelling: model_name / model_version
        if not isinstance(legacy, list) or not all(isinstance(m, dict) for m in legacy):
            raise InvalidParameter("served_models must be a list of objects.")
        entities = [{**m, "entity_name": m.get("model_name"), "entity_version": m.get("model_version")}
                    for m in legacy]
    if not isinstance(entities, list) or not entities or not all(isinstance(e, dict) for e in entities):
        raise InvalidParameter("config.served_entities must be a non-empty list of served entities.")
    if len(entities) > MAX_SERVED_ENTITIES:
        raise InvalidParameter(f"An endpoint serves at most {MAX_SERVED_ENTITIES} entities.")
    return entities


def _served_entity(actor, entity: dict) -> dict:
    model_name = _text(entity, "entity_name")
    reference = _text(entity, "entity_version")
    model = model_get(actor=actor, name=model_name)  # EXECUTE, else NotFound as the registry answers
    version = version_for_reference(model=model, reference=reference)
    if version.status != VersionStatus.READY:
        raise InvalidParameter(f"Version {version.version} of model {model.full_name} cannot be served: its status "
                               f"is {version.status}, not READY.")
    size = entity.get("workload_size", "Small")
    if size not in WORKLOAD_WORKERS:
        raise InvalidParameter(f"workload_size must be one of {', '.join(WORKLOAD_WORKERS)}, got {str(size)[:40]!r}.")
    scale_to_zero = entity.get("scale_to_zero_enabled", False)
    if not isinstance(scale_to_zero, bool):
        raise InvalidParameter("scale_to_zero_enabled must be true or false.")
    # Databricks' default name is <model>-<version>; a three-level name's dots become underscores there too.
    name = _text(entity, "name", required=False) or f"{model.full_name.replace('.', '_')}-{version.version}"
    if not ENTITY_NAME.match(name):
        raise InvalidParameter(f"Served entity name {name[:80]!r} may hold letters, digits, '.', '-' and '_' only.")
    stored = {"name": name, "entity_name": model.full_name, "entity_version": str(version.version),
              "workload_size": size, "scale_to_zero_enabled": scale_to_zero, "version_id": version.pk,
              "workers": WORKLOAD_WORKERS[size], "creator": actor.get_username(),
              "creation_timestamp": int(timezone.now().timestamp() * 1000)}
    if str(version.version) != reference:
        stored["entity_alias"] = reference
    return stored


def _routes(traffic: object, names: list[str]) -> list[dict]:
    if traffic is None:
        if len(names) == 1:
            return [{"served_model_name": names[0], "served_entity_name": names[0], "traffic_percentage": 100}]
        raise InvalidParameter("config.traffic_config.routes is required when an endpoint serves several entities.")
    routes = traffic.get("routes") if isinstance(traffic, dict) else None
    if not isinstance(routes, list) or not routes or not all(isinstance(r, dict) for r in routes):
        raise InvalidParameter("config.traffic_config.routes must be a non-empty list of routes.")
    result, seen = [], set()
    for route in routes:
        target = route.get("served_entity_name") or route.get("served_model_name")
        if target not in names:
            raise InvalidParameter(f"Route names served entity {str(target)[:80]!r}, which is not in "
                                   f"served_entities ({', '.join(names)}).")
        if target in seen:
            raise InvalidParameter(f"Served entity {target!r} has more than one route.")
        seen.add(target)
        percentage = route.get("traffic_percentage")
        if isinstance(percentage, bool) or not isinstance(percentage, int) or not 0 <= percentage <= 100:
            raise InvalidParameter(f"traffic_percentage of {target!r} must be an integer from 0 to 100.")
        result.append({"served_model_name": target, "served_entity_name": target, "traffic_percentage": percentage})
    total = sum(r["traffic_percentage"] for r in result)
    if total != 100:
        raise InvalidParameter(f"The traffic_percentage of the routes must sum to 100, got {total}.")
    return result


def parse_config(actor, config) -> dict:
    """The stored config for `config` as sent (without its config_version), or InvalidParameter / NotFound /
    PermissionDenied naming what is wrong."""
    if not isinstance(config, dict):
        raise InvalidParameter("config must be an object with served_entities and traffic_config.")
    entities = [_served_entity(actor, entity) for entity in _entities_input(config)]
    names = [entity["name"] for entity in entities]
    duplicate = next((n for n in names if names.count(n) > 1), None)
    if duplicate:
        raise InvalidParameter(f"Served entity name {duplicate!r} is used twice; give each a distinct name.")
    return {"served_entities": entities, "traffic_config": {"routes": _routes(config.get("traffic_config"), names)}}


def model_names(config: dict | None) -> list[str]:
    return [entity["entity_name"] for entity in (config or {}).get("served_entities", [])]
