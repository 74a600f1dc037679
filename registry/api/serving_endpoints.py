"""Serving endpoints over REST, in the Databricks API's shapes (the `databricks-sdk` is the judge):
`/api/2.0/serving-endpoints[/<name>[/config]]`, `/api/2.0/permissions/serving-endpoints/<id>` and
`POST /serving-endpoints/<name>/invocations` (tokens only), whose answer names the served entity that answered
in the `served-model-name` header, as Databricks does."""
from __future__ import annotations

from rest_framework.response import Response
from rest_framework.views import APIView

from registry.api.errors import error_body
from registry.api.serving import InvocationBaseView
from registry.errors import InvalidParameter
from registry.serving import endpoint_metrics
from registry.serving.endpoint_access import Level, endpoint_by_id
from registry.serving.endpoint_routing import route
from registry.serving.endpoint_selectors import endpoint_detail, endpoint_list, endpoint_permissions
from registry.serving.endpoint_services import (
    UpdateInProgress,
    endpoint_config_update,
    endpoint_create,
    endpoint_delete,
    endpoint_permissions_update,
)

SERVED_ENTITY_HEADER = "served-model-name"  # what Databricks sends and the SDK's query() reads


def _body(request) -> dict:
    data = request.data
    if data in (None, ""):
        return {}
    if not isinstance(data, dict):
        raise InvalidParameter("Request body must be a JSON object.")
    return data


def _conflict(exc: UpdateInProgress) -> Response:
    return Response(error_body(exc.error_code, exc.message), status=409)


class ServingEndpointsView(APIView):
    def get(self, request):
        return Response({"endpoints": endpoint_list(actor=request.user)})

    def post(self, request):
        body = _body(request)
        name = body.get("name")
        endpoint_create(actor=request.user, name=name, config=body.get("config"), tags=body.get("tags"))
        return Response(endpoint_detail(actor=request.user, name=name))


class ServingEndpointView(APIView):
    def get(self, request, name: str):
        return Response(endpoint_detail(actor=request.user, name=name))

    def delete(self, request, name: str):
        endpoint_delete(actor=request.user, name=name)
        return Response({})


class ServingEndpointConfigView(APIView):
    def put(self, request, name: str):
        try:
            endpoint_config_update(actor=request.user, name=name, config=_body(request))
        except UpdateInProgress as exc:
            return _conflict(exc)
        return Response(endpoint_detail(actor=request.user, name=name))


class ServingEndpointPermissionsView(APIView):
    def get(self, request, endpoint_id: str):
        return Response(endpoint_permissions(endpoint_by_id(request.user, endpoint_id, Level.CAN_VIEW)))

    def _update(self, request, endpoint_id: str, *, replace: bool):
        endpoint = endpoint_permissions_update(actor=request.user, endpoint_id=endpoint_id, replace=replace,
                                               access_control_list=_body(request).get("access_control_list"))
        return Response(endpoint_permissions(endpoint))

    def put(self, request, endpoint_id: str):
        return self._update(request, endpoint_id, replace=True)

    def patch(self, request, endpoint_id: str):
        return self._update(request, endpoint_id, replace=False)


class ServingEndpointPermissionLevelsView(APIView):
    def get(self, request, endpoint_id: str):
        endpoint_by_id(request.user, endpoint_id, Level.CAN_VIEW)
        return Response({"permission_levels": [
            {"permission_level": Level.CAN_VIEW.value, "description": "Can view the endpoint"},
            {"permission_level": Level.CAN_QUERY.value, "description": "Can view and query the endpoint"},
            {"permission_level": Level.CAN_MANAGE.value, "description": "Can manage the endpoint"}]})


class EndpointInvocationView(InvocationBaseView):
    def resolve(self, request, name: str):
        target = route(actor=request.user, name=name)
        self.target = target
        return target.deployment, target.deployment.version, {SERVED_ENTITY_HEADER: target.entity["name"]}

    def answered(self, scored) -> None:
        try:
            endpoint_metrics.record(self.target.endpoint.pk, self.target.entity["name"], scored.elapsed_ms)
        except Exception:  # noqa: BLE001 - counting must never turn an answer into an error
            pass
