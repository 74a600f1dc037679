"""Who may do what with a serving endpoint: its creator and admins manage it; others hold the level granted to
them or to one of their groups (CAN_VIEW < CAN_QUERY < CAN_MANAGE). Someone with no level does not see it: the
endpoint answers as one that does not exist."""
from __future__ import annotations

from django.contrib.auth.models import Group
from django.db.models import Q

from registry.errors import NotFound, PermissionDenied
from registry.models import EndpointPermissionLevel, ServingEndpoint, ServingEndpointGrant
from registry.permissions import is_admin

Level = EndpointPermissionLevel
_ORDER = [Level.CAN_VIEW, Level.CAN_QUERY, Level.CAN_MANAGE]


def _group_ids(actor):
    return Group.user_set.through.objects.filter(user_id=actor.pk).values("group_id")


def _grants_of(actor):
    return ServingEndpointGrant.objects.filter(Q(user_id=actor.pk) | Q(group_id__in=_group_ids(actor)))


def level_of(actor, endpoint: ServingEndpoint) -> str | None:
    if not (actor and actor.is_authenticated and actor.is_active):
        return None
    if is_admin(actor) or endpoint.creator_id == actor.pk:
        return Level.CAN_MANAGE.value
    levels = set(_grants_of(actor).filter(endpoint=endpoint).values_list("level", flat=True))
    return next((level.value for level in reversed(_ORDER) if level in levels), None)


def includes(level: str | None, needed: str) -> bool:
    return level is not None and _ORDER.index(Level(level)) >= _ORDER.index(Level(needed))


def visible_endpoints(actor):
    endpoints = ServingEndpoint.objects.all()
    if is_admin(actor):
        return endpoints
    granted = _grants_of(actor).values("endpoint_id")
    return endpoints.filter(Q(creator_id=actor.pk) | Q(pk__in=granted))


def not_found(name: str) -> NotFound:
    return NotFound(f"Serving endpoint '{str(name)[:100]}' does not exist.")


def endpoint_for(actor, name: str, needed: str = Level.CAN_VIEW, *, lock: bool = False) -> ServingEndpoint:
    """The endpoint `name` if `actor` holds `needed` on it; NotFound if the actor cannot even view it (as for one
    that does not exist), PermissionDenied if it can view but not more."""
    endpoints = ServingEndpoint.objects.select_for_update() if lock else ServingEndpoint.objects
    endpoint = endpoints.filter(name=name).first()
    level = level_of(actor, endpoint) if endpoint is not None else None
    if level is None:
        raise not_found(name)
    if not includes(level, needed):
        raise PermissionDenied(f"Permission denied: {needed} on serving endpoint '{endpoint.name}' is required.")
    endpoint.permission_level = level
    return endpoint


def endpoint_by_id(actor, endpoint_id: str, needed: str = Level.CAN_VIEW, *, lock: bool = False) -> ServingEndpoint:
    """As endpoint_for, by the id the permissions API uses (ours is the row's number as a string; a name is
    accepted as well, for callers that pass one)."""
    digits = str(endpoint_id).isascii() and str(endpoint_id).isdigit() and len(str(endpoint_id)) <= 18
    row = ServingEndpoint.objects.filter(pk=int(endpoint_id)).first() if digits else None
    return endpoint_for(actor, row.name if row else str(endpoint_id), needed, lock=lock)
