"""The model process's application (registry/serving/scoring_app.py), driven in-process over ASGI: MLflow's routes
and answers, and micro-batching that never changes an answer — every request of a batch gets byte for byte what
MLflow's `invocations` answers for it alone, whatever else shares the batch."""
from __future__ import annotations

import asyncio
import json

import mlflow
import numpy as np
import pytest

from registry.serving import scoring_app
from tests.serving.legacy_fixtures import save_iris
from tests.serving.runtime_fixtures import save_slow_model


@pytest.fixture(scope="module")
def iris(tmp_path_factory):
    path = tmp_path_factory.mktemp("iris") / "model"
    model, X = save_iris(path)
    return mlflow.pyfunc.load_model(str(path)), model, X


class CountingModel:
    """The loaded pyfunc model, counting its predict calls (the batch is what is measured, not replaced)."""

    def __init__(self, model):
        self._model, self.calls = model, 0
        self.metadata = model.metadata

    def predict(self, data, params=None):
        self.calls += 1
        return self._model.predict(data, params=params)


async def _call(app, method: str, path: str, body: bytes = b"", content_type: str = "application/json"):
    sent = []
    chunks = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive():
        return chunks.pop(0) if chunks else {"type": "http.disconnect"}

    async def send(message):
        sent.append(message)

    headers = [(b"content-type", content_type.encode())] if content_type else []
    await app({"type": "http", "method": method, "path": path, "headers": headers}, receive, send)
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], body, dict(start["headers"])[b"content-type"].decode()


def _requests(X) -> list[tuple[bytes, str]]:
    columns = list(X.columns)
    split = lambda rows: json.dumps({"dataframe_split": {"columns": columns, "data": X.iloc[rows].values.tolist()}})  # noqa: E731
    return [(body.encode() if isinstance(body, str) else body, content_type) for body, content_type in [
        (split([0, 1, 2]), "application/json"),
        (json.dumps({"dataframe_records": X.iloc[50:55].to_dict(orient="records")}), "application/json"),
        (split([100]), "application/json; charset=utf-8"),
        (json.dumps({"instances": X.iloc[10:12].to_dict(orient="records")}), "application/json"),
        (json.dumps({"inputs": X.iloc[20:23].to_dict(orient="list")}), "application/json"),
        ("{not json", "application/json"),
        (json.dumps({"dataframe_split": {"columns": ["nope"], "data": [[1.0]]}}), "application/json"),
        (json.dumps(X.iloc[:2].to_dict(orient="records")), "application/json"),  # MLflow 1 payload
        (split([3, 4]), "application/json; format=pandas-split"),
        (X.iloc[:2].to_csv(index=False), "text/csv"),
        (json.dumps({"dataframe_split": {"columns": columns, "data": [[1, 2, 3, 4]]}}), "application/json"),
        (split([149, 148, 147, 146]), "application/json"),
    ]]


def test_a_batch_answers_each_request_as_mlflow_answers_it_alone(iris):
    model, _, X = iris
    items = _requests(X)
    alone = [scoring_app.score_one(model, model.metadata.get_input_schema(), *item) for item in items]
    counting = CountingModel(model)
    together = scoring_app.score_many(counting, model.metadata.get_input_schema(), items)
    assert together == alone
    assert [status for status, _, _ in alone].count(200) >= 6 and any(status >= 400 for status, _, _ in alone)
    # One predict for the frames that batch together, one each for those scored alone.
    assert counting.calls < len([a for a in alone if a[0] == 200])


def test_predictions_of_a_batch_are_the_models_own(iris):
    model, sklearn_model, X = iris
    items = [(json.dumps({"dataframe_split": {"columns": list(X.columns), "data": X.iloc[i:i + 5].values.tolist()}})
              .encode(), "application/json") for i in range(0, 150, 5)]
    answers = scoring_app.score_many(model, model.metadata.get_input_schema(), items)
    predictions = [p for _, body, _ in answers for p in json.loads(body)["predictions"]]
    assert predictions == sklearn_model.predict(X).tolist()


def test_concurrent_requests_share_predictions_and_get_their_own_answers(iris):
    model, sklearn_model, X = iris
    counting = CountingModel(model)
    app = scoring_app.ScoringApp(counting, timeout=30)
    assert app.batching  # an sklearn model: row-wise

    async def main():
        bodies = [json.dumps({"dataframe_split": {"columns": list(X.columns), "data": X.iloc[[i]].values.tolist()}})
                  .encode() for i in range(0, 150, 3)]
        return await asyncio.gather(*(_call(app, "POST", "/invocations", body) for body in bodies))

    answers = asyncio.run(main())
    assert [json.loads(body)["predictions"][0] for _, body, _ in answers] == sklearn_model.predict(X.iloc[::3]).tolist()
    assert counting.calls < len(answers)


def test_routes_and_refusals_as_mlflows_app(iris):
    model, _, X = iris
    app = scoring_app.ScoringApp(model, timeout=30)
    assert asyncio.run(_call(app, "GET", "/ping"))[:2] == (200, b"\n")
    assert asyncio.run(_call(app, "GET", "/health"))[:2] == (200, b"\n")
    assert asyncio.run(_call(app, "GET", "/version"))[1] == mlflow.__version__.encode()
    assert asyncio.run(_call(app, "GET", "/nowhere"))[0] == 404
    assert asyncio.run(_call(app, "GET", "/invocations"))[0] == 405
    status, body, content_type = asyncio.run(_call(app, "POST", "/invocations", b"{not json"))
    assert status == 400 and content_type == "application/json" and json.loads(body)["error_code"] == "BAD_REQUEST"
    status, body, _ = asyncio.run(_call(app, "POST", "/invocations", b"a,b\n1,2", content_type="text/plain"))
    assert status == 415 and b"only supports the following content types" in body


def test_a_slow_model_answers_504_and_is_not_batched(tmp_path):
    save_slow_model(tmp_path / "slow")
    model = mlflow.pyfunc.load_model(str(tmp_path / "slow"))
    app = scoring_app.ScoringApp(model, timeout=1)
    assert not app.batching  # a python_function model from code: its rows may depend on each other
    quick = json.dumps({"dataframe_split": {"columns": ["seconds"], "data": [[0.0]]}}).encode()
    slow = json.dumps({"dataframe_split": {"columns": ["seconds"], "data": [[3.0]]}}).encode()

    async def main():
        return await asyncio.gather(_call(app, "POST", "/invocations", slow), _call(app, "POST", "/invocations", quick))

    (slow_status, slow_body, _), (quick_status, quick_body, _) = asyncio.run(main())
    assert (slow_status, slow_body) == (504, scoring_app.TIMEOUT_MESSAGE)
    assert quick_status == 200 and json.loads(quick_body)["predictions"] == [0.0]


def test_parts_that_are_not_one_prediction_per_row_are_not_split():
    assert scoring_app._split(np.array(3), [1, 1]) is None
    assert scoring_app._split([1, 2, 3], [1, 1]) is None
    assert scoring_app._split({"a": 1}, [1]) is None
    assert [list(p) for p in scoring_app._split(np.arange(5), [2, 3])] == [[0, 1], [2, 3, 4]]
