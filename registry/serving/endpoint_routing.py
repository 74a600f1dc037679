"""Which served entity answers one query of an endpoint: a weighted random choice by the routes'
traffic_percentage among the current config's entities whose deployment is READY (an entity that is not READY
gets none of the traffic; the others share it in their proportions)."""
from __future__ import annotations

import random
from dataclasses import dataclass

from registry import permissions
from registry.change_counter import CountedCache
from registry.errors import PermissionDenied
from registry.models import ModelVersion, RegisteredModel, ServingDeployment, ServingEndpoint
from registry.serving.endpoint_access import Level, endpoint_for
from registry.serving.endpoints_source import deployment_key, entities
from registry.serving.selectors import NotReady

_random = random.SystemRandom()


@dataclass(frozen=True)
class Route:
    endpoint: ServingEndpoint
    entity: dict
    deployment: ServingDeployment


def _check_models(actor, endpoint: ServingEndpoint) -> None:
    """EXECUTE on the model of every served version, found by the version (a renamed model stays the same)."""
    model_of = dict(ModelVersion.objects.filter(pk__in=[e["version_id"] for e in entities(endpoint.config)])
                    .values_list("pk", "model_id"))
    allowed = set(permissions.restrict(actor, RegisteredModel.objects.filter(pk__in=set(model_of.values())))
                  .values_list("pk", flat=True))
    for entity in entities(endpoint.config):
        model_id = model_of.get(entity["version_id"])  # None: the version is gone (and its entity not served)
        if model_id is not None and model_id not in allowed:
            raise PermissionDenied(f"Permission denied: querying serving endpoint '{endpoint.name}' requires "
                                   f"EXECUTE on model {entity['entity_name']}.")


@dataclass(frozen=True)
class _Routes:
    """What `actor` may query at one endpoint now: the READY entities with traffic, and their weights."""

    endpoint: ServingEndpoint
    candidates: list[tuple[dict, ServingDeployment]]
    weights: list[int]


# (actor, endpoint name) -> its routes, while nothing they were decided from has changed (the change counter covers
# endpoints, their grants, deployments, versions, models, grants, users and groups). Refusals are not cached.
_routes: CountedCache[_Routes] = CountedCache()


def _routes_for(actor, name: str) -> _Routes:
    endpoint = endpoint_for(actor, name, Level.CAN_QUERY)
    _check_models(actor, endpoint)
    serving = entities(endpoint.config)
    ready = {(d.entity_name, d.generation): d for d in ServingDeployment.objects.filter(
        endpoint=endpoint, state=ServingDeployment.State.READY).exclude(address="")}
    weights = {r["served_entity_name"]: r["traffic_percentage"] for r in endpoint.config.get(
        "traffic_config", {}).get("routes", [])}
    candidates = [(e, ready[deployment_key(e)]) for e in serving
                  if weights.get(e["name"], 0) > 0 and deployment_key(e) in ready]
    if not candidates:
        if not serving:
            raise NotReady(f"Serving endpoint '{endpoint.name}' is being created and does not answer yet.")
        raise NotReady(f"No served entity of endpoint '{endpoint.name}' is ready to answer; retry in a few seconds.")
    return _Routes(endpoint=endpoint, candidates=candidates, weights=[weights[e["name"]] for e, _ in candidates])


def route(*, actor, name: str, choose=_random.choices) -> Route:
    """The entity and deployment to forward `actor`'s query of endpoint `name` to. NotFound / PermissionDenied as
    the endpoint's permissions and the served models' EXECUTE answer; NotReady when no routed entity is READY. The
    choice is made anew for every query; what it chooses from is cached while the registry stands still."""
    routes = _routes.get_or_compute((actor.pk, name), lambda: _routes_for(actor, name))
    entity, deployment = choose(routes.candidates, weights=routes.weights)[0]
    return Route(endpoint=routes.endpoint, entity=entity, deployment=deployment)
