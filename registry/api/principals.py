"""A principal's groups, direct grants and reach over REST (`GET /api/2.0/explorer/principals/<kind>/<name>`,
kind user, service_principal or group): what the admin's principal page shows, from the same selectors.
Unity Catalog has no such call (its effective-permissions API answers per securable, not per principal)."""
from __future__ import annotations

from rest_framework.response import Response
from rest_framework.views import APIView

from registry.errors import NotFound
from registry.principal_selectors import direct_grants, principal_get, principal_groups, reach


def _securable(grant) -> tuple[str, str]:
    if grant.catalog_id:
        return "CATALOG", grant.catalog.name
    if grant.schema_id:
        return "SCHEMA", grant.schema.full_name
    if grant.model_id:
        return "REGISTERED_MODEL" if grant.model.schema_id else "WORKSPACE_MODEL", grant.model.full_name
    return "EXPERIMENT", grant.experiment.name


class PrincipalView(APIView):
    def get(self, request, kind: str, name: str):
        if kind not in ("user", "service_principal", "group"):
            raise NotFound("kind must be user, service_principal or group.")
        principal = principal_get(actor=request.user, kind=kind, name=name)
        body = {"kind": principal.kind, "name": principal.name, "display_name": principal.label}
        if principal.user is not None:
            body.update(active=principal.user.is_active, metastore_admin=principal.is_admin,
                        groups=[g.name for g in principal_groups(principal)])
        if principal.service_principal is not None:
            body["application_id"] = str(principal.service_principal.application_id)
        body["privilege_assignments"] = []
        for grant in direct_grants(principal):
            securable_type, full_name = _securable(grant)
            body["privilege_assignments"].append({"securable_type": securable_type, "full_name": full_name,
                                                  "privilege": grant.privilege})
        body["reach"] = {kind_: [{"full_name": r.obj.full_name, "privileges": [p.replace(" ", "_") for p in r.privileges],
                                  "sources": r.sources} for r in rows]
                         for kind_, rows in reach(principal).items()}
        return Response(body)
