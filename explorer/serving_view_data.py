"""What the model page's Serving tab reads beyond the serving status: the references a request may be sent to,
a version's logged input example, its deployment's logs and events, and a scoring request sent on behalf of the
signed-in user through the same resolution and checks as `POST /model/<name>/<ref>/invocations`."""
from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import unquote

from registry import storage
from registry.errors import InvalidParameter, NotFound, RegistryError
from registry.models import ModelVersion, RegisteredModel, ServedModel, ServingDeployment, ServingEvent
from registry.serving import client, invocation, protocol
from registry.serving.selectors import invocation_target, version_for_reference
from registry.sources import artifact_path_of

# MLflow writes the example beside MLmodel; the serving one is already a scoring request (`dataframe_split`, ...).
SERVING_EXAMPLE_FILE = "serving_input_example.json"
INPUT_EXAMPLE_FILE = "input_example.json"
EXAMPLE_READ_LIMIT = 1024 * 1024  # a textarea is no place for more
# The UI waits less than an API caller would: a person is watching the page.
UI_INVOCATION_TIMEOUT_SECONDS = 30.0
EVENTS_SHOWN = 50
LOG_LINES = 200


@dataclass(frozen=True)
class Choice:
    reference: str  # what the URI names: a version number, a stage or an alias
    label: str
    uri: str


def pretty_json(value, level: int = 0) -> str:
    """JSON indented by structure, with a list of plain values on one line: a row of a dataframe, a tensor's last
    dimension or a list of predictions reads as one line rather than one number a line."""
    pad, end = "  " * (level + 1), "  " * level
    if isinstance(value, dict) and value:
        items = [f"{pad}{json.dumps(key)}: {pretty_json(item, level + 1)}" for key, item in value.items()]
        return "{\n" + ",\n".join(items) + "\n" + end + "}"
    if isinstance(value, list) and any(isinstance(item, (dict, list)) for item in value):
        return "[\n" + ",\n".join(pad + pretty_json(item, level + 1) for item in value) + "\n" + end + "]"
    return json.dumps(value)


def reference_of(uri: str) -> str:
    """The `<version|stage|alias>` segment of `/model/<name>/<reference>/invocations` (quoted with safe='')."""
    return unquote(uri.rstrip("/").split("/")[-2])


def request_choices(status: dict) -> list[Choice]:
    """Every invocation URI of every served version, as choices for the request box (a version first, then the
    stages and aliases that reach it)."""
    choices = []
    for entry in status.get("versions", []):
        for uri in entry["uris"]:
            reference = reference_of(uri)
            if reference == entry["version"]:
                label = f"Version {reference}"
            else:
                label = f"{reference} (version {entry['version']} now)"
            choices.append(Choice(reference, label, uri))
    return choices


def _wrap_plain_example(example) -> dict:
    """An older `input_example.json` (no serving example beside it) in MLflow 2's scoring format."""
    if isinstance(example, dict) and {"columns", "data"} <= example.keys():
        return {"dataframe_split": example}
    if isinstance(example, list) and example and all(isinstance(row, dict) for row in example):
        return {"dataframe_records": example}
    if isinstance(example, dict) and any(key in example for key in protocol.MLFLOW2_KEYS):
        return example
    return {"inputs": example}


def _read_json(path: str):
    with storage.open_read(path) as stream:
        data = stream.read(EXAMPLE_READ_LIMIT + 1)
    if len(data) > EXAMPLE_READ_LIMIT:
        raise InvalidParameter(f"The logged input example is larger than {EXAMPLE_READ_LIMIT // 1024} KB; "
                               "it is too large to load here.")
    try:
        return json.loads(data)
    except ValueError:
        raise InvalidParameter("The logged input example is not valid JSON.") from None


def input_example(version: ModelVersion) -> str:
    """The version's logged input example as a scoring request (pretty JSON). The caller has already loaded the
    version through a visibility-aware selector: its files are readable by whoever may see it.
    InvalidParameter says why there is none."""
    try:
        root = artifact_path_of(version.storage_location or "")
    except InvalidParameter:
        raise InvalidParameter(f"Version {version.version} has no files in the registry's storage.") from None
    serving_path, plain_path = f"{root}/{SERVING_EXAMPLE_FILE}", f"{root}/{INPUT_EXAMPLE_FILE}"
    if storage.is_file(serving_path):
        example = _read_json(serving_path)
    elif storage.is_file(plain_path):
        example = _wrap_plain_example(_read_json(plain_path))
    else:
        raise InvalidParameter(f"Version {version.version} was logged without an input example "
                               "(log the model with input_example=... to have one here).")
    return pretty_json(example)


def example_for_reference(*, model: RegisteredModel, reference: str) -> tuple[ModelVersion, str]:
    version = version_for_reference(model=model, reference=reference)
    return version, input_example(version)


@dataclass(frozen=True)
class Answer:
    status: int
    body: str  # pretty JSON when the answer is JSON
    elapsed_ms: float | None
    version: int | None  # the version that answered (a stage or alias may have moved)

    @property
    def ok(self) -> bool:
        return self.status < 400


def _pretty(body: bytes) -> str:
    text = body.decode("utf-8", errors="replace")
    try:
        return pretty_json(json.loads(text))
    except ValueError:
        return text


def _error_answer(exc: RegistryError) -> Answer:
    status, envelope, _headers = invocation.refusal(exc)
    return Answer(status, pretty_json(envelope), None, None)


def send_request(*, actor, name: str, reference: str, payload: str) -> Answer:
    """Score `payload` (JSON text) with what `POST /model/<name>/<reference>/invocations` reaches for `actor`:
    the reference resolved now, EXECUTE required (NotFound otherwise), then registry.serving.invocation, as the
    REST endpoint does. Refusals are answers too: the page shows them as the API would."""
    target = invocation_target(actor=actor, name=name, reference=reference)  # NotFound / NotReady raise
    body = payload.encode("utf-8")
    if len(body) > protocol.MAX_PAYLOAD_BYTES:
        raise protocol.PayloadTooLarge("The payload is larger than the limit of "
                                       f"{protocol.MAX_PAYLOAD_BYTES // (1024 * 1024)} MB.")
    scored = invocation.score(target.deployment, target.version, content_type=protocol.CONTENT_TYPE_JSON,
                              read_body=lambda: body, timeout=UI_INVOCATION_TIMEOUT_SECONDS)
    text = _pretty(scored.body) or f"The model answered HTTP {scored.status}."
    return Answer(scored.status, text, scored.elapsed_ms, target.version.version)


def send_request_answer(*, actor, name: str, reference: str, payload: str) -> Answer:
    """`send_request`, with every refusal (unknown reference, not served, not ready, bad payload) as an answer in
    the API's shape. The view has loaded the model for `actor` first, so a model it may not see is already a 404
    page and a NotFound here is about the reference."""
    try:
        return send_request(actor=actor, name=name, reference=reference, payload=payload)
    except invocation.REFUSALS as exc:
        return _error_answer(exc)


# Deployments, logs and events ----------------------------------------------------------------------------------

def latest_deployment(served: ServedModel | None, number: int) -> ServingDeployment | None:
    """The newest deployment of version `number` of the served model (whatever its state)."""
    if served is None:
        return None
    return (ServingDeployment.objects.filter(served_model=served, version__version=number)
            .order_by("-generation", "-id").first())


def model_events(served: ServedModel | None, limit: int = EVENTS_SHOWN) -> list[ServingEvent]:
    if served is None:
        return []
    return list(ServingEvent.objects.filter(served_model=served).order_by("-created_at", "-id")[:limit])


def version_events(served: ServedModel | None, number: int, limit: int = EVENTS_SHOWN) -> list[ServingEvent]:
    if served is None:
        return []
    return list(ServingEvent.objects.filter(served_model=served, version_number=number)
                .order_by("-created_at", "-id")[:limit])


def version_logs(deployment: ServingDeployment | None, lines: int = LOG_LINES) -> str:
    """The pool's recent output; empty when it never ran (or ran on another machine's supervisor)."""
    if deployment is None:
        return ""
    try:
        return client.recent_logs(deployment, lines=lines)
    except (OSError, NotFound):
        return ""
