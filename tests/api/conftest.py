"""Fixtures of the API tests that drive the real `mlflow` client against a live server."""
from __future__ import annotations

import pytest


@pytest.fixture
def default_experiment(transactional_db):
    """Transactional tests start from flushed tables: put back the default experiment the migration creates."""
    import importlib

    from django.apps import apps

    importlib.import_module("registry.migrations.0002_default_experiment").create_default_experiment(apps, None)


@pytest.fixture
def live_mlflow(live_server, default_experiment, monkeypatch, make_user, token_for):
    """An `MlflowClient` of the live server, signed in as a fresh user `modeler` with a token (no retries)."""
    from django.db import connections
    from mlflow.tracking import MlflowClient

    monkeypatch.setitem(connections.settings["default"], "CONN_MAX_AGE", 0)
    monkeypatch.setenv("MLFLOW_TRACKING_URI", live_server.url)
    monkeypatch.setenv("MLFLOW_TRACKING_TOKEN", token_for(make_user("modeler")))
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    return MlflowClient(tracking_uri=live_server.url)
