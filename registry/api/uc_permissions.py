"""Grants over the Unity Catalog API: `GET/PATCH /permissions/{securable_type}/{full_name}`,
`GET /effective-permissions/{securable_type}/{full_name}` and `POST /statements` (GRANT, REVOKE, SHOW GRANTS,
ALTER … OWNER TO). Models are FUNCTION securables in Unity Catalog: `function` and `registered_model` both work."""
from __future__ import annotations

from rest_framework.response import Response
from rest_framework.views import APIView

from registry.api.uc_catalogs import body_of
from registry.api.uc_serializers import request_text
from registry.errors import InvalidParameter
from registry.services.grants import principal_resolve
from registry.statements.changes import permissions_update
from registry.statements.executor import statement_execute
from registry.statements.securables import effective_assignments, privilege_assignments, securable_from_path


def _principal_filter(request):
    name = request.query_params.get("principal")
    return principal_resolve(name) if name else None


class PermissionsView(APIView):
    def get(self, request, securable_type: str, full_name: str):
        securable = securable_from_path(actor=request.user, securable_type=securable_type, full_name=full_name)
        return Response({"privilege_assignments": privilege_assignments(securable, _principal_filter(request))})

    def patch(self, request, securable_type: str, full_name: str):
        body = body_of(request)
        securable = securable_from_path(actor=request.user, securable_type=securable_type, full_name=full_name)
        if "changes" not in body:
            raise InvalidParameter("Missing value for required parameter 'changes'.")
        permissions_update(actor=request.user, securable=securable, changes=body["changes"],
                           statement=request_text(request))
        return Response({"privilege_assignments": privilege_assignments(securable)})


class EffectivePermissionsView(APIView):
    def get(self, request, securable_type: str, full_name: str):
        securable = securable_from_path(actor=request.user, securable_type=securable_type, full_name=full_name)
        return Response({"privilege_assignments": effective_assignments(securable, _principal_filter(request))})


class StatementView(APIView):
    """Not an official Unity Catalog path: runs one grant statement, `{"statement": "GRANT …"}`."""

    def post(self, request):
        body = body_of(request)
        text = body.get("statement")
        if not isinstance(text, str):
            raise InvalidParameter("Missing value for required parameter 'statement' (a string).")
        return Response(statement_execute(actor=request.user, text=text))
