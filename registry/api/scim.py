"""Identities over Databricks' REST shapes, for `databricks-sdk` (`WorkspaceClient.service_principals`,
`.groups`, `.token_management`): SCIM 2.0 service principals and groups (`/api/2.0/preview/scim/v2/...`) and
tokens created on behalf of a service principal (`/api/2.0/token-management/...`). Metastore admins only, as in
Databricks; everything goes through registry.services.principals and .groups."""
from __future__ import annotations

import re

from django.contrib.auth.models import Group
from rest_framework.response import Response
from rest_framework.views import APIView

from registry.api.uc_catalogs import body_of
from registry.errors import InvalidParameter, NotFound
from registry.models import PersonalAccessToken, ServicePrincipal
from registry.principal_selectors import group_members
from registry.services.groups import (
    _require_admin,
    group_create,
    group_delete,
    group_get,
    group_member_add,
    group_member_remove,
    group_rename,
)
from registry.services.principals import (
    service_principal_create,
    service_principal_delete,
    service_principal_get,
    service_principal_list,
    service_principal_token_create,
    service_principal_update,
)
from registry.services.tokens import token_revoke

SP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:ServicePrincipal"
GROUP_SCHEMA = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST_SCHEMA = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
MAX_COUNT = 10_000
# SCIM filters as Databricks supports them: one `attribute op "value"` (eq, ne, co, sw).
_FILTER = re.compile(r'^\s*(\w+)\s+(eq|ne|co|sw)\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)


def sp_resource(sp: ServicePrincipal) -> dict:
    return {
        "schemas": [SP_SCHEMA],
        "id": str(sp.user_id),
        "applicationId": str(sp.application_id),
        "displayName": sp.display_name,
        "active": sp.user.is_active,
        "groups": [{"value": str(g.pk), "display": g.name, "$ref": f"Groups/{g.pk}"} for g in sp.user.groups.all()],
        "entitlements": [],
    }


def group_resource(group: Group) -> dict:
    members = []
    for user in group_members(group):
        sp = getattr(user, "service_principal", None)
        kind = "ServicePrincipals" if sp is not None else "Users"
        members.append({"value": str(user.pk), "display": sp.display_name if sp else user.get_username(),
                        "$ref": f"{kind}/{user.pk}"})
    return {"schemas": [GROUP_SCHEMA], "id": str(group.pk), "displayName": group.name, "members": members}


def _window(request) -> tuple[int, int]:
    def number(name: str, default: int) -> int:
        raw = request.query_params.get(name)
        if raw in (None, ""):
            return default
        if not raw.isdigit() or len(raw) > 9:
            raise InvalidParameter(f"{name} must be a non-negative integer.")
        return int(raw)
    return max(1, number("startIndex", 1)), min(number("count", 100), MAX_COUNT)


def _filtered(rows: list, request, attributes: dict) -> list:
    text = request.query_params.get("filter")
    if not text:
        return rows
    match = _FILTER.match(text[:1000])
    if not match or match.group(1) not in attributes:
        raise InvalidParameter(f"Unsupported filter: use one `attribute op \"value\"` with op eq, ne, co or sw, "
                               f"attribute one of {', '.join(attributes)}.")
    attribute, op, value = match.group(1), match.group(2).lower(), match.group(3).replace('\\"', '"')
    get = attributes[attribute]
    test = {"eq": lambda v: v == value, "ne": lambda v: v != value, "co": lambda v: value.lower() in v.lower(),
            "sw": lambda v: v.lower().startswith(value.lower())}[op]
    return [row for row in rows if test(get(row))]


def _listing(resources: list, start: int, count: int) -> dict:
    window = resources[start - 1:start - 1 + count]
    return {"schemas": [LIST_SCHEMA], "totalResults": len(resources), "startIndex": start,
            "itemsPerPage": len(window), "Resources": window}


def _active_from_patch(body: dict) -> dict:
    """{"active": bool, "display_name": str} from SCIM PatchOp operations (`replace` of active or displayName)."""
    operations = body.get("Operations")
    if not isinstance(operations, list) or not operations:
        raise InvalidParameter("Operations must be a non-empty list.")
    changes: dict = {}
    for op in operations:
        if not isinstance(op, dict) or str(op.get("op", "")).lower() not in ("replace", "add"):
            raise InvalidParameter("Only 'replace' operations are supported on a service principal.")
        path, value = op.get("path"), op.get("value")
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], dict) and "value" in value[0]:
            value = value[0]["value"]  # [{"value": false}], as the Databricks docs spell it
        if path is None and isinstance(value, dict):
            items = value.items()
        else:
            items = [(path, value)]
        for key, item in items:
            if key == "active":
                if isinstance(item, str) and item.lower() in ("true", "false"):
                    item = item.lower() == "true"
                if not isinstance(item, bool):
                    raise InvalidParameter("active must be true or false.")
                changes["active"] = item
            elif key == "displayName":
                changes["display_name"] = item
            else:
                raise InvalidParameter(f"Unsupported path {str(key)[:100]!r}: active and displayName can be changed.")
    return changes


class ServicePrincipalListView(APIView):
    def get(self, request):
        start, count = _window(request)
        rows = list(service_principal_list(actor=request.user).prefetch_related("user__groups"))
        rows = _filtered(rows, request, {"displayName": lambda sp: sp.display_name,
                                         "applicationId": lambda sp: str(sp.application_id),
                                         "id": lambda sp: str(sp.user_id)})
        return Response(_listing([sp_resource(sp) for sp in rows], start, count))

    def post(self, request):
        body = body_of(request)
        active = body.get("active", True)
        sp = service_principal_create(actor=request.user, display_name=body.get("displayName"),
                                      active=True if active is None else active,
                                      application_id=body.get("applicationId"))
        return Response(sp_resource(sp), status=201)


class ServicePrincipalDetailView(APIView):
    def get(self, request, id: str):
        return Response(sp_resource(service_principal_get(actor=request.user, key=id)))

    def patch(self, request, id: str):
        changes = _active_from_patch(body_of(request))
        sp = service_principal_update(actor=request.user, key=id, **changes)
        return Response(sp_resource(sp))

    def put(self, request, id: str):
        body = body_of(request)
        sp = service_principal_update(actor=request.user, key=id, display_name=body.get("displayName"),
                                      active=body.get("active"))
        return Response(sp_resource(sp))

    def delete(self, request, id: str):
        service_principal_delete(actor=request.user, key=id)
        return Response(status=204)


# Groups (SCIM) ------------------------------------------------------------------------------------------------

def _group_by_id(actor, id: str) -> Group:
    _require_admin(actor, "manage groups")
    group = Group.objects.filter(pk=int(id)).first() if id.isdigit() and len(id) < 19 else None
    if group is None:
        raise NotFound(f"Group {id[:100]} does not exist.")
    return group


def _member_names(values) -> list[str]:
    """User names of SCIM member references ([{"value": "<user id>"}])."""
    from django.contrib.auth import get_user_model

    User = get_user_model()
    if not isinstance(values, list):
        raise InvalidParameter("members must be a list of {\"value\": id}.")
    names = []
    for item in values:
        ident = str(item.get("value", "")) if isinstance(item, dict) else ""
        user = User.objects.filter(pk=int(ident)).first() if ident.isdigit() and len(ident) < 19 else None
        if user is None:
            raise NotFound(f"Member {ident[:100]} does not exist.")
        names.append(user.get_username())
    return names


class ScimGroupListView(APIView):
    def get(self, request):
        _require_admin(request.user, "list groups with their members")
        start, count = _window(request)
        rows = _filtered(list(Group.objects.order_by("name")), request,
                         {"displayName": lambda g: g.name, "id": lambda g: str(g.pk)})
        return Response(_listing([group_resource(g) for g in rows], start, count))

    def post(self, request):
        body = body_of(request)
        group = group_create(actor=request.user, name=body.get("displayName"))
        for name in _member_names(body.get("members") or []):
            group_member_add(actor=request.user, name=group.name, user=name)
        return Response(group_resource(group), status=201)


class ScimGroupDetailView(APIView):
    def get(self, request, id: str):
        return Response(group_resource(_group_by_id(request.user, id)))

    def delete(self, request, id: str):
        group_delete(actor=request.user, name=_group_by_id(request.user, id).name)
        return Response(status=204)

    def patch(self, request, id: str):
        group = _group_by_id(request.user, id)
        operations = body_of(request).get("Operations")
        if not isinstance(operations, list) or not operations:
            raise InvalidParameter("Operations must be a non-empty list.")
        for op in operations:
            kind = str(op.get("op", "")).lower() if isinstance(op, dict) else ""
            path = op.get("path") if isinstance(op, dict) else None
            value = op.get("value") if isinstance(op, dict) else None
            if kind == "add" and path in (None, "members"):
                members = value.get("members") if path is None and isinstance(value, dict) else value
                for name in _member_names(members):
                    group_member_add(actor=request.user, name=group.name, user=name)
            elif kind == "remove" and isinstance(path, str) and path.startswith("members"):
                match = re.fullmatch(r'members\[value eq "?(\d+)"?\]', path)
                targets = [{"value": match.group(1)}] if match else (value or [])
                for name in _member_names(targets):
                    group_member_remove(actor=request.user, name=group.name, user=name)
            elif kind == "replace" and path == "displayName" and isinstance(value, str):
                group = group_rename(actor=request.user, name=group.name, new_name=value)
            else:
                raise InvalidParameter("Supported operations: add members, remove members[value eq \"id\"], "
                                       "replace displayName.")
        return Response(group_resource(group_get(actor=request.user, name=group.name)))


# Token management ----------------------------------------------------------------------------------------------

def _ms(value) -> int:
    return int(value.timestamp() * 1000) if value else -1


def token_info(token: PersonalAccessToken) -> dict:
    return {
        "token_id": str(token.pk),
        "comment": token.name,
        "creation_time": _ms(token.created_at),
        "expiry_time": _ms(token.expires_at),
        "owner_id": token.user_id,
        "created_by_id": token.user_id,
        "created_by_username": token.user.get_username(),
        **({"last_used_day": _ms(token.last_used_at)} if token.last_used_at else {}),
    }


class OnBehalfOfTokenView(APIView):
    def post(self, request):
        body = body_of(request)
        application_id = body.get("application_id")
        if not isinstance(application_id, str) or not application_id:
            raise InvalidParameter("application_id is required: the service principal's applicationId.")
        lifetime = body.get("lifetime_seconds")
        if isinstance(lifetime, str) and lifetime.isdigit():
            lifetime = int(lifetime)
        if lifetime is not None and (isinstance(lifetime, bool) or not isinstance(lifetime, int)):
            raise InvalidParameter("lifetime_seconds must be an integer.")
        comment = body.get("comment") or "token"
        token, secret = service_principal_token_create(actor=request.user, key=application_id, name=comment,
                                                       days=0, lifetime_seconds=lifetime or None)  # none: never expires
        return Response({"token_info": token_info(token), "token_value": secret})


class TokenListView(APIView):
    def get(self, request):
        _require_admin(request.user, "list every user's tokens")
        rows = PersonalAccessToken.objects.select_related("user").filter(revoked_at__isnull=True).order_by("-created_at")
        by_id = request.query_params.get("created_by_id")
        if by_id:
            if not by_id.isdigit() or len(by_id) > 18:
                raise InvalidParameter("created_by_id must be a user id.")
            rows = rows.filter(user_id=int(by_id))
        by_name = request.query_params.get("created_by_username")
        if by_name:
            rows = rows.filter(user__username=by_name[:150])
        return Response({"token_infos": [token_info(t) for t in rows[:MAX_COUNT]]})


class TokenDetailView(APIView):
    def _token(self, request, token_id: str) -> PersonalAccessToken:
        _require_admin(request.user, "manage every user's tokens")
        token = (PersonalAccessToken.objects.select_related("user").filter(pk=int(token_id), revoked_at__isnull=True)
                 .first() if token_id.isdigit() and len(token_id) < 19 else None)
        if token is None:
            raise NotFound(f"Token {token_id[:100]} does not exist.")
        return token

    def get(self, request, token_id: str):
        return Response({"token_info": token_info(self._token(request, token_id))})

    def delete(self, request, token_id: str):
        token_revoke(actor=request.user, token_id=self._token(request, token_id).pk)
        return Response({})
