"""What every MLflow-compatible endpoint shares: reading typed parameters from the query string or the JSON
body, answering JSON, and serving each path under both /api/2.0/mlflow/ and /ajax-api/2.0/mlflow/."""
from __future__ import annotations

import json
import math
from datetime import datetime

from django.urls import path as url_path
from rest_framework.response import Response
from rest_framework.views import APIView

from registry.errors import InvalidParameter

MAX_RESULTS_LIMIT = 100_000
# MLflow's server ends every parameter error with this sentence (handlers._validate_param_against_schema).
SEE_DOCS = " See the API docs for more information about request parameters."


class QueryParams(dict):
    """Parameters of a query string: a value given once may stand for a one-item list."""


class MlflowView(APIView):
    """Base for MLflow endpoints. Subclasses implement get/post/patch/delete and call `param`."""

    def params(self, request) -> dict:
        if request.method in ("GET", "HEAD"):
            # Repeated keys (order_by=a&order_by=b) become lists, single keys stay scalars.
            out = QueryParams()
            for key in request.query_params:
                values = request.query_params.getlist(key)
                out[key] = values if len(values) > 1 else values[0]
            return out
        data = request.data
        if data is None or data == "":
            return {}
        if not isinstance(data, dict):
            raise InvalidParameter("Request body must be a JSON object.")
        return data


_MISSING = object()


def param(params: dict, name: str, kind: type = str, *, required: bool = False, default=None, aliases=()):
    """One parameter, converted to `kind`, or a clear INVALID_PARAMETER_VALUE error."""
    value = params.get(name, _MISSING)
    for alias in aliases:
        if value is _MISSING or value in ("", None):
            value = params.get(alias, value)
    if value is _MISSING or value is None or (value == "" and kind is not str):
        if required:
            raise InvalidParameter(f"Missing value for required parameter '{name}'.{SEE_DOCS}")
        return default
    if required and kind is str and value == "":
        raise InvalidParameter(f"Missing value for required parameter '{name}'.{SEE_DOCS}")
    try:
        if kind is bool:
            if isinstance(value, bool):
                return value
            if isinstance(value, str) and value.lower() in ("true", "false"):
                return value.lower() == "true"
            raise ValueError
        if kind is int:
            if isinstance(value, bool):
                raise ValueError
            if isinstance(value, float) and not value.is_integer():
                raise ValueError
            return int(value)
        if kind is float:
            if isinstance(value, bool):
                raise ValueError
            result = float(value)
            return result
        if kind is str:
            # A JSON number or boolean where a string is expected is a wrong type, as MLflow's server answers
            # (`{"name": 123}` creates no experiment named "123").
            if not isinstance(value, str):
                raise ValueError
            return value
        if kind is list:
            if isinstance(value, list):
                return value
            if isinstance(value, str) and isinstance(params, QueryParams):
                return [value]
            raise ValueError
        if kind is dict:
            if not isinstance(value, dict):
                raise ValueError
            return value
    except (TypeError, ValueError, OverflowError):
        raise InvalidParameter(invalid_value(name, value)) from None
    raise InvalidParameter(f"Unsupported parameter type for '{name}'.")


def invalid_value(name: str, value) -> str:
    """MLflow's message for a value of the wrong type: the value as JSON, then the type it had."""
    try:
        shown = json.dumps(value, sort_keys=True, separators=(",", ":"))
    except (TypeError, ValueError):
        shown = repr(value)
    if len(shown) > 100:
        shown = shown[:100] + "..."
    return (f"Invalid value {shown} for parameter '{name}' supplied:  Hint: Value was of type "
            f"'{type(value).__name__}'.{SEE_DOCS}")


def max_results_param(params: dict, *, default: int, limit: int = MAX_RESULTS_LIMIT) -> int:
    """`max_results` within [1, limit], refused as MLflow's server words it (experiments/search)."""
    value = param(params, "max_results", int, default=default)
    if value < 1:
        raise InvalidParameter(f"Invalid value {value} for parameter 'max_results' supplied. It must be a positive "
                               "integer.")
    if value > limit:
        raise InvalidParameter(f"Invalid value {value} for parameter 'max_results' supplied. It must be at most "
                               f"{limit}.")
    return value


def ms(value: datetime | None) -> int | None:
    return int(value.timestamp() * 1000) if value else None


def ok(body: dict | None = None) -> Response:
    return Response(body or {})


def finite(value: float) -> float | str:
    """JSON has no NaN/Infinity; MLflow sends them as strings."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    return value


def mlflow_paths(suffix: str, view, name: str, *, version: str = "2.0", ajax_only: bool = False) -> list:
    """The same endpoint under the API prefix (tokens) and the browser's ajax prefix (session); `ajax_only` for
    the few MLflow's server keeps to its UI (get-history-bulk, search-datasets, upload-artifact...)."""
    ajax = url_path(f"ajax-api/{version}/mlflow/{suffix}", view, name=f"ajax-{name}")
    return [ajax] if ajax_only else [url_path(f"api/{version}/mlflow/{suffix}", view, name=name), ajax]
