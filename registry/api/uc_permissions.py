"""Grants over the Unity Catalog API: `GET/PATCH /permissions/{securable_type}/{full_name}`,
`GET /effective-permissions/{securable_type}/{full_name}`, their paged forms `GET /privilege-assignments/…` and
`GET /effective-privilege-assignments/…` (the Databricks SDK's `grants.list` and `grants.list_effective`), and
`POST /statements` (GRANT, REVOKE, SHOW GRANTS, ALTER … OWNER TO). Models are FUNCTION securables in Unity
Catalog: `function` and `registered_model` both work.

Privileges are answered as the Databricks API spells them (`USE_CATALOG`), except to the open-source Unity Catalog
client, whose generated models accept only the spelling of its spec (`USE CATALOG`) and refuse a whole response
otherwise; requests may use either spelling."""
from __future__ import annotations

from rest_framework.response import Response
from rest_framework.views import APIView

from registry.api.base import param
from registry.api.uc_catalogs import body_of
from registry.api.uc_serializers import listing, request_text
from registry.errors import InvalidParameter
from registry.models import Privilege
from registry.search.pages import list_page
from registry.services.grants import principal_resolve
from registry.statements.changes import permissions_update
from registry.statements.executor import statement_execute
from registry.statements.securables import effective_assignments, privilege_assignments, securable_from_path

# Databricks pages grants by principal and refuses pages too small to hold one principal's privileges.
MIN_PAGE, MAX_PAGE = 150, 1000
# The user agent the open-source client's generator (OpenAPI Generator) gives every client it generates.
_OSS_CLIENT_AGENT = "OpenAPI-Generator/"
_SPEC_SPELLING = {p.value: p.label for p in Privilege}


def _principal_filter(request):
    name = request.query_params.get("principal")
    return principal_resolve(name) if name else None


def _spelled(request, assignments: list[dict]) -> list[dict]:
    """`assignments` with privileges in the spelling the caller's client parses."""
    if not request.headers.get("User-Agent", "").startswith(_OSS_CLIENT_AGENT):
        return assignments
    spell = _SPEC_SPELLING.get
    for entry in assignments:
        entry["privileges"] = [spell(p, p) if isinstance(p, str) else {**p, "privilege": spell(p["privilege"],
                                                                                                 p["privilege"])}
                               for p in entry["privileges"]]
    return assignments


def _page(request, assignments: list[dict], size_field: str) -> tuple[list[dict], str | None]:
    """One page of per-principal assignments by `max_results` (the unpaged paths: absent means all of them) or
    `page_size` (the paged ones: absent means the server's page). 0 is the server's page; 1-149 is refused as
    Databricks refuses it."""
    params = {k: request.query_params.get(k) for k in (size_field, "page_token")}
    size = param(params, size_field, int, default=None)
    if size is not None and (size < 0 or 0 < size < MIN_PAGE):
        raise InvalidParameter(f"Invalid value {size} for parameter '{size_field}': it must be 0 or at least "
                               f"{MIN_PAGE}.")
    if size is not None:
        size = min(size or MAX_PAGE, MAX_PAGE)
    elif params["page_token"] or size_field == "page_size":
        size = MAX_PAGE
    return list_page(_spelled(request, assignments), key=lambda entry: entry["principal"], size=size,
                     token=params["page_token"])


def _securable(request, securable_type: str, full_name: str):
    return securable_from_path(actor=request.user, securable_type=securable_type, full_name=full_name)


class PermissionsView(APIView):
    def get(self, request, securable_type: str, full_name: str):
        securable = _securable(request, securable_type, full_name)
        rows, token = _page(request, privilege_assignments(securable, _principal_filter(request)), "max_results")
        return Response(listing("privilege_assignments", rows, token))

    def patch(self, request, securable_type: str, full_name: str):
        body = body_of(request)
        securable = _securable(request, securable_type, full_name)
        if "changes" not in body:
            raise InvalidParameter("Missing value for required parameter 'changes'.")
        permissions_update(actor=request.user, securable=securable, changes=body["changes"],
                           statement=request_text(request))
        return Response({"privilege_assignments": _spelled(request, privilege_assignments(securable))})


class EffectivePermissionsView(APIView):
    def get(self, request, securable_type: str, full_name: str):
        securable = _securable(request, securable_type, full_name)
        rows, token = _page(request, effective_assignments(securable, _principal_filter(request)), "max_results")
        return Response(listing("privilege_assignments", rows, token))


class PrivilegeAssignmentsView(APIView):
    """`grants.list`: the direct grants, paged by `page_size`."""

    def get(self, request, securable_type: str, full_name: str):
        securable = _securable(request, securable_type, full_name)
        rows, token = _page(request, privilege_assignments(securable, _principal_filter(request)), "page_size")
        return Response(listing("privilege_assignments", rows, token))


class EffectivePrivilegeAssignmentsView(APIView):
    """`grants.list_effective`: what each principal holds, inherited included, paged by `page_size`."""

    def get(self, request, securable_type: str, full_name: str):
        securable = _securable(request, securable_type, full_name)
        rows, token = _page(request, effective_assignments(securable, _principal_filter(request)), "page_size")
        return Response(listing("effective_privilege_assignments", rows, token))


class StatementView(APIView):
    """Not an official Unity Catalog path: runs one grant statement, `{"statement": "GRANT …"}`."""

    def post(self, request):
        body = body_of(request)
        text = body.get("statement")
        if not isinstance(text, str):
            raise InvalidParameter("Missing value for required parameter 'statement' (a string).")
        return Response(statement_execute(actor=request.user, text=text))
