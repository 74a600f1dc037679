"""A WSGI app that answers the MLflow client's registry calls of bench/mlflow_workload.py with canned, well-formed
answers and does nothing else: no database, no authentication, no middleware. Run under the same gunicorn flags
as the explorer, it measures the floor under any server, the cost of the client, HTTP and the WSGI server alone,
so that a ratio target can be read against the most any server could reach on this machine.

    gunicorn bench.canned_mlflow:application   # CANNED_VERSIONS=100 versions in a search, as the workload makes

The answers have the shape and about the size of the explorer's own for the same workload (a search of all N
versions, a model with ten aliases and its latest version)."""
from __future__ import annotations

import json
import os

_N = int(os.environ.get("CANNED_VERSIONS", "100"))
_NAME = "benchmodel"


def _version(number: int) -> dict:
    return {
        "name": _NAME, "version": str(number), "creation_timestamp": 1764633600000 + number,
        "last_updated_timestamp": 1764633600000 + number, "current_stage": "None", "description": "",
        "user_id": "bench", "source": "models:/m-0123456789abcdef0123456789abcdef",
        "run_id": "0123456789abcdef0123456789abcdef", "status": "READY",
        "run_link": "", "aliases": [f"a{number % 10}"] if number <= 10 else [],
        "model_id": "m-0123456789abcdef0123456789abcdef", "tags": [],
    }


def _model() -> dict:
    return {
        "name": _NAME, "creation_timestamp": 1764633600000, "last_updated_timestamp": 1764633600000,
        "user_id": "bench", "description": "", "latest_versions": [_version(_N)],
        "aliases": [{"alias": f"a{i}", "version": str(i + 1)} for i in range(10)], "tags": [],
    }


def _body(value: dict) -> bytes:
    return json.dumps(value).encode()


_API = "/api/2.0/mlflow/"
_ANSWERS = {
    ("POST", _API + "model-versions/create"): _body({"model_version": _version(1)}),
    ("POST", _API + "registered-models/alias"): _body({}),
    ("GET", _API + "registered-models/alias"): _body({"model_version": _version(1)}),
    ("GET", _API + "model-versions/get"): _body({"model_version": _version(1)}),
    ("GET", _API + "registered-models/get"): _body({"registered_model": _model()}),
    ("GET", _API + "model-versions/search"): _body({"model_versions": [_version(i) for i in range(1, _N + 1)]}),
    ("GET", _API + "registered-models/search"): _body({"registered_models": [_model()]}),
}
_MISSING = _body({"error_code": "ENDPOINT_NOT_FOUND", "message": "not canned"})


def application(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)  # a real server reads the body too
    body = _ANSWERS.get((environ["REQUEST_METHOD"], environ["PATH_INFO"]))
    status = "200 OK" if body is not None else "404 Not Found"
    body = body if body is not None else _MISSING
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
