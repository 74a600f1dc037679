"""The model process's HTTP application: MLflow's scoring protocol (`mlflow.pyfunc.scoring_server.invocations`: its
input parsing, schema enforcement, predictions and error answers) behind a bare ASGI app instead of MLflow's FastAPI
app, and concurrent requests scored together.

Like `model_process.py`, this file imports nothing of the registry: it runs beside a model's code.

Why not `scoring_server.init(model)` as it is: its FastAPI app wraps each request in a Starlette `BaseHTTPMiddleware`
(the timeout) and FastAPI's routing, which together cost more CPU than scoring a small request does. The routes and
answers are MLflow's: `/ping` and `/health` (200, "\\n"), `/version`, `POST /invocations`, a 504 "Request processing
time exceeded limit" past `MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT`, an MlflowException as its JSON with its status,
FastAPI's `{"detail": ...}` for an unknown path or method.

Micro-batching, for models whose predictions are row by row (the flavors in ROW_WISE_FLAVORS): requests that arrive
while a prediction runs wait for it and are then scored in one `predict` call over their rows together. The batch
is formed only of JSON requests that parse, without params, to data frames of the same columns and dtypes; their
predictions are split back by row counts. Whatever does not fit — another content type, params, a parse error, a
batch whose prediction fails or returns something other than one prediction per row — is scored on its own
through `invocations`, so every answer, error or not, is the one MLflow gives for that request alone. No request
waits for a batch to fill: a batch is what queued during the previous prediction, so an idle model answers at once."""
from __future__ import annotations

import asyncio
import inspect
import os
from io import StringIO

# Flavors whose pyfunc predicts each row independently of the others in the same call.
ROW_WISE_FLAVORS = frozenset({"sklearn", "xgboost", "lightgbm", "catboost"})
MAX_BATCH_ROWS = 2048
JSON_TYPE = "application/json"
TIMEOUT_MESSAGE = b"Request processing time exceeded limit"


def _headers(content_type: str) -> list[tuple[bytes, bytes]]:
    return [(b"content-type", content_type.encode("latin-1"))]


async def _respond(send, status: int, body: bytes, content_type: str = JSON_TYPE) -> None:
    await send({"type": "http.response.start", "status": status, "headers": _headers(content_type)})
    await send({"type": "http.response.body", "body": body})


async def _read_body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionResetError("client went away")
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _header(scope, name: bytes) -> str:
    for key, value in scope.get("headers", ()):
        if key == name:
            return value.decode("latin-1")
    return ""


def row_wise(model) -> bool:
    flavors = set(getattr(model.metadata, "flavors", {}) or {})
    return bool(flavors & ROW_WISE_FLAVORS)


class ScoringApp:
    def __init__(self, model, *, timeout: float, batching: bool | None = None):
        from mlflow.version import VERSION

        self.model = model
        self.input_schema = model.metadata.get_input_schema()
        self.timeout = timeout
        self.version = VERSION.encode()
        self.batching = row_wise(model) if batching is None else batching
        self._queue: list[tuple[bytes, str, asyncio.Future]] = []
        self._draining = False
        os.environ["_MLFLOW_IS_IN_SERVING_ENVIRONMENT"] = "true"  # as scoring_server.init sets it

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        if path in ("/ping", "/health", "/version"):
            if method not in ("GET", "HEAD"):
                return await _respond(send, 405, b'{"detail":"Method Not Allowed"}')
            return await _respond(send, 200, self.version if path == "/version" else b"\n")
        if path != "/invocations":
            return await _respond(send, 404, b'{"detail":"Not Found"}')
        if method != "POST":
            return await _respond(send, 405, b'{"detail":"Method Not Allowed"}')
        try:
            body = await _read_body(receive)
        except ConnectionResetError:
            return
        content_type = _header(scope, b"content-type")
        try:
            status, answer, answer_type = await asyncio.wait_for(self.score(body, content_type), self.timeout)
        except (asyncio.TimeoutError, TimeoutError):
            status, answer, answer_type = 504, TIMEOUT_MESSAGE, JSON_TYPE
        await _respond(send, status, answer, answer_type)

    async def score(self, body: bytes, content_type: str) -> tuple[int, bytes, str]:
        if not self.batching:
            return await asyncio.to_thread(score_one, self.model, self.input_schema, body, content_type)
        future = asyncio.get_running_loop().create_future()
        self._queue.append((body, content_type, future))
        if not self._draining:
            self._draining = True
            asyncio.get_running_loop().create_task(self._drain())
        return await asyncio.shield(future)  # a timed-out caller leaves the batch to finish for the others

    async def _drain(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue, []
                items = [(body, content_type) for body, content_type, _ in batch]
                try:
                    answers = await asyncio.to_thread(score_many, self.model, self.input_schema, items)
                except BaseException as exc:  # noqa: BLE001 - each waiting request must get an answer
                    for _, _, future in batch:
                        if not future.done():
                            future.set_exception(exc)
                    continue
                for (_, _, future), answer in zip(batch, answers):
                    if not future.done():
                        future.set_result(answer)
        finally:
            self._draining = False


def score_one(model, input_schema, body: bytes, content_type: str) -> tuple[int, bytes, str]:
    """One request through MLflow's own `invocations`, answered as MLflow's app answers it."""
    from mlflow.exceptions import MlflowException
    from mlflow.pyfunc import scoring_server

    try:
        result = scoring_server.invocations(body, content_type or None, model, input_schema)
    except MlflowException as exc:
        return exc.get_http_status_code(), exc.serialize_as_json().encode(), JSON_TYPE
    response = result.response
    return result.status, response.encode() if isinstance(response, str) else response, result.mimetype


def _batchable(model, input_schema, body: bytes, content_type: str):
    """The request's data frame when it may join a batch, else None."""
    import pandas as pd
    from mlflow.pyfunc import scoring_server

    parts = [part.strip() for part in (content_type or "").split(";")]
    if parts[0] != JSON_TYPE or any(part and part.lower() != "charset=utf-8" for part in parts[1:]):
        return None
    try:
        parsed = scoring_server._parse_json_data(body, model.metadata, input_schema)
    except Exception:  # noqa: BLE001 - scored alone, `invocations` gives the answer
        return None
    if parsed.params or parsed.is_unified_llm_input or not isinstance(parsed.data, pd.DataFrame):
        return None
    if not 0 < len(parsed.data) <= MAX_BATCH_ROWS:
        return None
    return parsed.data


def _split(predictions, counts: list[int]):
    """`predictions` cut into one part per request, or None when it is not one prediction per row."""
    import numpy as np
    import pandas as pd

    total = sum(counts)
    if isinstance(predictions, (pd.DataFrame, pd.Series)):
        if len(predictions) != total:
            return None
        take = lambda a, b: predictions.iloc[a:b]  # noqa: E731
    elif isinstance(predictions, (np.ndarray, list)):
        if (isinstance(predictions, np.ndarray) and predictions.ndim == 0) or len(predictions) != total:
            return None
        take = lambda a, b: predictions[a:b]  # noqa: E731
    else:
        return None
    parts, start = [], 0
    for count in counts:
        parts.append(take(start, start + count))
        start += count
    return parts


def score_many(model, input_schema, items: list[tuple[bytes, str]]) -> list[tuple[int, bytes, str]]:
    """Answers for `items`, in order: the batchable ones predicted together (by columns and dtypes), the others and
    any batch that does not predict cleanly scored one by one."""
    if len(items) == 1:
        return [score_one(model, input_schema, *items[0])]
    import pandas as pd
    from mlflow.pyfunc import scoring_server

    answers: list = [None] * len(items)
    groups: dict[tuple, list[tuple[int, pd.DataFrame]]] = {}
    for index, (body, content_type) in enumerate(items):
        frame = _batchable(model, input_schema, body, content_type)
        if frame is None:
            continue
        key = (tuple(frame.columns), tuple(str(dtype) for dtype in frame.dtypes))
        groups.setdefault(key, []).append((index, frame))
    takes_params = "params" in inspect.signature(model.predict).parameters
    for members in groups.values():
        if len(members) < 2:
            continue
        frames = [frame for _, frame in members]
        try:
            combined = pd.concat(frames, ignore_index=True)
            predictions = model.predict(combined, params=None) if takes_params else model.predict(combined)
            parts = _split(predictions, [len(frame) for frame in frames])
        except Exception:  # noqa: BLE001 - one bad request must not fail the others: they are scored alone
            parts = None
        if parts is None:
            continue
        for (index, _), part in zip(members, parts):
            out = StringIO()
            scoring_server.predictions_to_json(part, out)
            answers[index] = (200, out.getvalue().encode(), JSON_TYPE)
    return [answer if answer is not None else score_one(model, input_schema, *items[index])
            for index, answer in enumerate(answers)]

