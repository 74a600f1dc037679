"""One scoring request, from whichever door it came in: `POST /model/<name>/<ref>/invocations`,
`POST /serving-endpoints/<name>/invocations` and the Serving tab's request box all resolve their target first
(registry.serving.selectors / endpoint_routing), then call `score`: the protocol's checks
(registry.serving.protocol), one process of the deployment's pool (registry.serving.client), and the model's
refusals as `{error_code, message}`. Refusals made before the model is reached raise ProtocolError / NotReady;
`refusal` turns those into the same envelope."""
from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass

from django.conf import settings

from registry.errors import NotFound, RegistryError
from registry.models import ModelVersion, ServingDeployment
from registry.serving import client, protocol
from registry.serving.selectors import NotReady, signature_columns

NOT_READY_RETRY_AFTER_SECONDS = 5
JSON = protocol.CONTENT_TYPE_JSON

# Codes for the model process's own answers that carry none (MLflow answers some in plain text).
_STATUS_CODES = {400: "BAD_REQUEST", 404: "RESOURCE_DOES_NOT_EXIST", 413: "PAYLOAD_TOO_LARGE",
                 415: "UNSUPPORTED_MEDIA_TYPE", 429: "REQUEST_LIMIT_EXCEEDED", 503: "TEMPORARILY_UNAVAILABLE",
                 504: "DEADLINE_EXCEEDED"}


@dataclass(frozen=True)
class Scored:
    status: int
    body: bytes  # the model's answer (predictions), or an `{error_code, message}` envelope when status >= 400
    content_type: str
    elapsed_ms: float | None

    @property
    def ok(self) -> bool:
        return self.status < 400


# The web tier waits this much longer than the model process's own limit, so that limit answers first.
TIMEOUT_GRACE_SECONDS = 2.0


def timeout_seconds() -> float:
    return float(settings.SERVING_REQUEST_TIMEOUT_SECONDS) + TIMEOUT_GRACE_SECONDS


def score(deployment: ServingDeployment, version: ModelVersion, *, content_type: str, read_body: Callable[[], bytes],
          content_encoding: str = "", timeout: float | None = None) -> Scored:
    """Check and forward one payload to `deployment` (a READY deployment of `version`). The media type is checked
    before the body is read (`read_body`, bounded), JSON bodies before they are forwarded."""
    columns = signature_columns(version)
    media_type = protocol.check_content_type(content_type, columns)
    body = protocol.decode_content(read_body(), content_encoding)
    if media_type == JSON:
        protocol.check_json_payload(body, columns)
    result = client.invoke(deployment, body, media_type, timeout=timeout or timeout_seconds())
    if result.status >= 400:
        envelope = error_envelope(result.status, result.body)
        return Scored(result.status, json.dumps(envelope).encode(), JSON, result.elapsed_ms)
    return Scored(result.status, result.body, result.content_type or JSON, result.elapsed_ms)


REFUSALS = (protocol.ProtocolError, NotReady, NotFound)


def refusal(exc: RegistryError) -> tuple[int, dict, dict]:
    """(status, envelope, extra headers) for one of REFUSALS, raised before the model answered."""
    headers = {}
    if isinstance(exc, protocol.ProtocolError):
        status = exc.status
    elif isinstance(exc, NotReady):
        status, headers = 503, {"Retry-After": str(NOT_READY_RETRY_AFTER_SECONDS)}
    else:
        status = 404
    return status, _envelope(exc.error_code, exc.message), headers


def error_envelope(status: int, body: bytes) -> dict:
    """A model process's error answer as `{error_code, message}`: MLflow's own JSON errors keep their code and
    message (not their stack trace: the caller is a consumer of the model, not its author); its plain-text ones
    (415, a timeout) are wrapped."""
    text = body.decode("utf-8", errors="replace")
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and isinstance(parsed.get("message"), str):
        return _envelope(str(parsed.get("error_code") or _STATUS_CODES.get(status, "BAD_REQUEST")), parsed["message"])
    default = "INTERNAL_ERROR" if status >= 500 and status not in _STATUS_CODES else _STATUS_CODES.get(status, "BAD_REQUEST")
    return _envelope(default, text.strip() or f"The model answered HTTP {status}.")


def _envelope(error_code: str, message: str) -> dict:
    return {"error_code": error_code, "message": message}
