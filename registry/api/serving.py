"""Legacy model serving over REST.

Management (`/api/2.0/explorer/serving/models/...`): enable, disable, settings and status of one model's
serving, through registry.serving.services / selectors.

Invocations (`POST /model/<name>/<version|stage|alias>/invocations`): a personal access token (Bearer, or Basic
`token:<token>`), EXECUTE on the model (otherwise 404, as for a model that does not exist), the reference resolved
anew on every request, the protocol checks of registry.serving.protocol, then the payload is forwarded to one
process of the version's pool and its answer returned. Every refusal is JSON `{error_code, message}`."""
from __future__ import annotations

from django.http import HttpResponse, JsonResponse
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf_exceptions
from rest_framework.response import Response
from rest_framework.views import APIView

from registry.api.base import param
from registry.api.errors import error_body, exception_handler
from registry.authentication import TokenAuthentication
from registry.errors import InvalidParameter
from registry.models import ModelVersion, ServingDeployment
from registry.serving import invocation, protocol
from registry.serving.selectors import NotReady, invocation_target_now, serving_status
from registry.serving.services import serving_disable, serving_enable, serving_settings_update

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


@method_decorator(csrf_exempt, name="dispatch")  # token clients send no CSRF token; this view changes nothing
class InvocationBaseView(View):
    """What both invocation doors share: token authentication only, the body read here (bounded) and scored by
    registry.serving.invocation; a subclass resolves its target and names what answered.

    A plain Django view, not DRF's APIView: an invocation uses none of DRF's parsing, negotiation or rendering, and
    with the token and the target cached they were a noticeable part of what is left. Refusals go through the API's
    exception handler (registry.api.errors), so they are the same `{error_code, message}` answers as elsewhere."""

    http_method_names = ["post"]
    streams_request_body = True  # RequestGuardMiddleware leaves the (possibly chunked) body to this view
    authentication = TokenAuthentication()

    def resolve(self, request, **kwargs) -> tuple[ServingDeployment, ModelVersion, dict[str, str]]:
        """(deployment, version, headers naming what answers) for this request; NotFound / NotReady raise."""
        raise NotImplementedError

    def answered(self, scored: invocation.Scored) -> None:
        """Called after the model answered (endpoints count requests here)."""

    def http_method_not_allowed(self, request, *args, **kwargs):
        return _refused(drf_exceptions.MethodNotAllowed(request.method))

    def post(self, request, **kwargs):
        try:
            authenticated = self.authentication.authenticate(request)
            if authenticated is None:
                raise drf_exceptions.NotAuthenticated()
            request.user = authenticated[0]
            deployment, version, headers = self.resolve(request, **kwargs)
            scored = invocation.score(deployment, version, content_type=request.META.get("CONTENT_TYPE", ""),
                                      read_body=lambda: protocol.read_payload(request),
                                      content_encoding=request.META.get("HTTP_CONTENT_ENCODING", ""))
        except (protocol.ProtocolError, NotReady) as exc:
            status, envelope, headers = invocation.refusal(exc)
            response = JsonResponse(envelope, status=status)
        except Exception as exc:  # noqa: BLE001 - what the API's handler answers (401, 404, 429, ...) or re-raised
            return _refused(exc)
        else:
            response = HttpResponse(scored.body, status=scored.status, content_type=scored.content_type)
            self.answered(scored)
        for header, value in headers.items():
            response[header] = value
        return response


_PASSED_HEADERS = ("WWW-Authenticate", "Retry-After")


def _refused(exc: Exception) -> JsonResponse:
    """The API's answer to `exc` (registry.api.errors.exception_handler) as a plain JSON response; anything that
    handler does not answer is raised again (and becomes the JSON 500 of the error middleware)."""
    answer = exception_handler(exc, {})
    if answer is None:
        raise exc
    response = JsonResponse(answer.data, status=answer.status_code)
    for header in _PASSED_HEADERS:
        if answer.has_header(header):
            response[header] = answer[header]
    return response


class InvocationView(InvocationBaseView):
    def resolve(self, request, name: str, reference: str):
        target = invocation_target_now(actor=request.user, name=name, reference=reference)
        return target.deployment, target.version, {MODEL_VERSION_HEADER: str(target.version.version)}
