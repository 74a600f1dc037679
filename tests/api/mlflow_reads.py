"""The MLflow client's hot reads of one model, as (path under /api/2.0/mlflow/, query parameters) by label: what the
answer-cache and query-count tests request."""
from __future__ import annotations


def mlflow_reads(name: str, *, alias: str, version: str, models_filter: str,
                 latest: bool = False) -> dict[str, tuple[str, dict]]:
    reads = {
        "get by alias": ("registered-models/alias", {"name": name, "alias": alias}),
        "get version": ("model-versions/get", {"name": name, "version": version}),
        "get model": ("registered-models/get", {"name": name}),
        "search versions": ("model-versions/search", {"filter": f"name='{name}'"}),
        "search models": ("registered-models/search", {"filter": models_filter}),
    }
    if latest:
        reads["latest versions"] = ("registered-models/get-latest-versions", {"name": name})
    return reads
