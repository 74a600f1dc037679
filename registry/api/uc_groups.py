"""Groups over REST (`/api/2.1/unity-catalog/groups…`, not an official Unity Catalog path: UC delegates
identities to SCIM). Listing is open to signed-in users (group names are what grants go to); changes are for
metastore admins."""
from __future__ import annotations

from django.contrib.auth.models import Group
from rest_framework.response import Response
from rest_framework.views import APIView

from registry import permissions
from registry.api.uc_catalogs import body_of
from registry.services.groups import (
    group_create,
    group_delete,
    group_get,
    group_list,
    group_member_add,
    group_member_remove,
)


def group_info(group: Group, *, with_members: bool) -> dict:
    body = {"name": group.name, "id": str(group.pk)}
    if with_members:
        body["members"] = sorted(u.get_username() for u in group.user_set.all())
    return body


def _sees_members(request) -> bool:
    return permissions.is_admin(request.user)


class GroupListView(APIView):
    def get(self, request):
        members = _sees_members(request)
        return Response({"groups": [group_info(g, with_members=members) for g in group_list(actor=request.user)]})

    def post(self, request):
        group = group_create(actor=request.user, name=body_of(request).get("name"))
        return Response(group_info(group, with_members=True))


class GroupDetailView(APIView):
    def get(self, request, name: str):
        return Response(group_info(group_get(actor=request.user, name=name), with_members=_sees_members(request)))

    def delete(self, request, name: str):
        group_delete(actor=request.user, name=name)
        return Response({})


class GroupMembersView(APIView):
    def post(self, request, name: str):
        group = group_member_add(actor=request.user, name=name, user=body_of(request).get("user"))
        return Response(group_info(group, with_members=True))


class GroupMemberView(APIView):
    def delete(self, request, name: str, user: str):
        group = group_member_remove(actor=request.user, name=name, user=user)
        return Response(group_info(group, with_members=True))
