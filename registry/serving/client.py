"""What the web tier uses to reach a deployment's model processes: forward one scoring request, read the recent
output of the pool. The request goes to the pool's one address (a listening socket every process of the pool
accepts on), over pooled keep-alive connections; a connection refused or dropped before an answer is retried,
which lands on another live process. The caller's deadline bounds the whole exchange."""
from __future__ import annotations

import json
import time
from dataclasses import dataclass

import urllib3
from urllib3.exceptions import HTTPError, NewConnectionError, ProtocolError, TimeoutError as Urllib3Timeout

from registry.models import ServingDeployment
from registry.serving import model_files

# Thread-safe; gunicorn's threads share it. Connections are kept per pool address.
_http = urllib3.PoolManager(num_pools=64, maxsize=16, block=False, retries=False)
JSON = "application/json"


@dataclass(frozen=True)
class InvocationResult:
    status: int
    body: bytes
    content_type: str
    elapsed_ms: float


def _error(status: int, error_code: str, message: str, started: float) -> InvocationResult:
    body = json.dumps({"error_code": error_code, "message": message}).encode()
    return InvocationResult(status, body, JSON, (time.monotonic() - started) * 1000)


def invoke(deployment: ServingDeployment, body: bytes, content_type: str, *, timeout: float) -> InvocationResult:
    """Score `body` with one live process of the deployment's pool. 503 TEMPORARILY_UNAVAILABLE when the pool does
    not run or no process takes the connection, 504 DEADLINE_EXCEEDED when no answer came within `timeout`
    seconds; otherwise MLflow's own answer (predictions, or its 4xx explaining the input)."""
    started = time.monotonic()
    deadline = started + timeout
    if deployment.state != ServingDeployment.State.READY or not deployment.address:
        return _error(503, "TEMPORARILY_UNAVAILABLE", "This model version is not being served right now.", started)
    url = deployment.address + "/invocations"
    for _attempt in range(max(2, deployment.workers + 1)):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        try:
            response = _http.request("POST", url, body=body, headers={"Content-Type": content_type},
                                     timeout=urllib3.Timeout(connect=min(remaining, 5.0), read=remaining),
                                     retries=False, redirect=False)
        except NewConnectionError:  # before TimeoutError: urllib3 derives it from ConnectTimeoutError
            continue  # refused: the pool is stopping or restarting; another attempt may find a process
        except Urllib3Timeout:
            break
        except (ProtocolError, HTTPError, OSError):
            continue  # dropped before an answer (a process died, a kept-alive connection was closed)
        elapsed = (time.monotonic() - started) * 1000
        answer_type = response.headers.get("Content-Type", JSON)
        if response.status == 504 and not _is_json(response.data):
            # MLflow's own per-request limit answers plain text under a JSON content type.
            break
        return InvocationResult(response.status, response.data, answer_type, elapsed)
    else:
        return _error(503, "TEMPORARILY_UNAVAILABLE", "No model process is available to answer; try again.",
                      started)
    return _error(504, "DEADLINE_EXCEEDED", f"The model did not answer within {timeout:g} s.", started)


def _is_json(data: bytes) -> bool:
    try:
        json.loads(data)
    except ValueError:
        return False
    return True


def recent_logs(deployment: ServingDeployment, lines: int = 200) -> str:
    """The last `lines` lines the deployment's model processes wrote (and the supervisor's notes about them): from
    the log file where this process runs beside the supervisor, else from the copy the supervisor keeps on the
    deployment's row (at most a few seconds old)."""
    path = model_files.log_path(deployment.pk)
    if path.exists():
        return model_files.tail(path, lines)
    copied = ServingDeployment.objects.filter(pk=deployment.pk).values_list("log_tail", flat=True).first() or ""
    return "\n".join(copied.splitlines()[-lines:]) if lines > 0 else ""
