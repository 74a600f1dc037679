"""Legacy model serving over REST.

Management (`/api/2.0/explorer/serving/models/...`): enable, disable, settings and status of one model's
serving, through registry.serving.services / selectors.

Invocations (`POST /model/<name>/<version|stage|alias>/invocations`): a personal access token (Bearer, or Basic
`token:<token>`), EXECUTE on the model (otherwise 404, as for a model that does not exist), the reference resolved
anew on every request, the protocol checks of registry.serving.protocol, then the payload is forwarded to one
process of the version's pool and its answer returned. Every refusal is JSON `{error_code, message}`."""
from __future__ import annotations

import json

from django.http import HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from registry.api.base import param
from registry.api.errors import error_body
from registry.authentication import TokenAuthentication
from registry.errors import InvalidParameter
from registry.serving import client, protocol
from registry.serving.selectors import NotReady, invocation_target, serving_status, signature_columns
from registry.serving.services import serving_disable, serving_enable, serving_settings_update

# Seconds a model process may take to answer one request before the caller gets a 504.
INVOCATION_TIMEOUT_SECONDS = 60.0
NOT_READY_RETRY_AFTER_SECONDS = 5
MODEL_VERSION_HEADER = "X-Model-Version"  # which version answered (an alias or stage may have moved)


def _body(request) -> dict:
    data = request.data
    if not isinstance(data, dict):
        raise InvalidParameter("Request body must be a JSON object.")
    return data


def _model_name(params: dict) -> str:
    return param(params, "registered_model_name", required=True)


class ServingEnableView(APIView):
    def post(self, request):
        name = _model_name(_body(request))
        serving_enable(actor=request.user, name=name)
        return Response(serving_status(actor=request.user, name=name))


class ServingDisableView(APIView):
    def post(self, request):
        name = _model_name(_body(request))
        serving_disable(actor=request.user, name=name)
        return Response(serving_status(actor=request.user, name=name))


class ServingStatusView(APIView):
    def get(self, request):
        return Response(serving_status(actor=request.user, name=_model_name(request.query_params)))


class ServingSettingsView(APIView):
    def patch(self, request):
        body = _body(request)
        name = _model_name(body)
        served = serving_settings_update(actor=request.user, name=name, workers=body.get("workers"),
                                         memory_limit_mb=body.get("memory_limit_mb"), tags=body.get("tags"))
        return Response({"registered_model_name": served.model.full_name, "workers": served.workers,
                         "memory_limit_mb": served.memory_limit_mb, "tags": served.tags})


# Invocations --------------------------------------------------------------------------------------------------

@csrf_exempt  # token clients send no CSRF token; this view changes nothing
def unknown_model_path(request) -> JsonResponse:
    return JsonResponse(error_body("ENDPOINT_NOT_FOUND", "No such endpoint: invocations are POST "
                                   "/model/<name>/<version|stage|alias>/invocations."), status=404)


_STATUS_CODES = {400: "BAD_REQUEST", 404: "RESOURCE_DOES_NOT_EXIST", 413: "PAYLOAD_TOO_LARGE",
                 415: "UNSUPPORTED_MEDIA_TYPE", 429: "REQUEST_LIMIT_EXCEEDED", 503: "TEMPORARILY_UNAVAILABLE",
                 504: "DEADLINE_EXCEEDED"}


def _error_envelope(status: int, body: bytes) -> dict:
    """A model process's error answer as `{error_code, message}`: MLflow's own JSON errors keep their code and
    message (not their stack trace: the caller is a consumer of the model, not its author); its plain-text ones
    (415, a timeout) are wrapped."""
    text = body.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        return error_body(str(parsed.get("error_code") or _STATUS_CODES.get(status, "BAD_REQUEST")), parsed["message"])
    default = "INTERNAL_ERROR" if status >= 500 and status not in _STATUS_CODES else _STATUS_CODES.get(status, "BAD_REQUEST")
    return error_body(default, text.strip() or f"The model answered HTTP {status}.")


class InvocationView(APIView):
    authentication_classes = [TokenAuthentication]  # services call with tokens; no session, so no CSRF
    permission_classes = [IsAuthenticated]
    parser_classes: list = []  # the body is read here, bounded, never by a parser
    streams_request_body = True  # RequestGuardMiddleware leaves the (possibly chunked) body to this view

    def post(self, request, name: str, reference: str):
        try:
            return self._invoke(request, name, reference)
        except protocol.ProtocolError as exc:
            return JsonResponse(error_body(exc.error_code, exc.message), status=exc.status)
        except NotReady as exc:
            response = JsonResponse(error_body(exc.error_code, exc.message), status=503)
            response["Retry-After"] = str(NOT_READY_RETRY_AFTER_SECONDS)
            return response

    def _invoke(self, request, name: str, reference: str) -> HttpResponse:
        target = invocation_target(actor=request.user, name=name, reference=reference)
        raw = request._request
        columns = signature_columns(target.version)
        media_type = protocol.check_content_type(raw.META.get("CONTENT_TYPE", ""), columns)
        body = protocol.decode_content(protocol.read_payload(raw), raw.META.get("HTTP_CONTENT_ENCODING", ""))
        if media_type == protocol.CONTENT_TYPE_JSON:
            protocol.check_json_payload(body, columns)
        result = client.invoke(target.deployment, body, media_type, timeout=INVOCATION_TIMEOUT_SECONDS)
        if result.status >= 400:
            response = JsonResponse(_error_envelope(result.status, result.body), status=result.status)
        else:
            response = HttpResponse(result.body, status=result.status,
                                    content_type=result.content_type or protocol.CONTENT_TYPE_JSON)
        response[MODEL_VERSION_HEADER] = str(target.version.version)
        return response
