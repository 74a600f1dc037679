"""Time the lineage API's refusal of a start node the reader may not see against one that does not exist: both
must take the same path (one lookup answering existence and visibility), so neither the time nor the number of
queries tells them apart. Issue 11 measured ~15 ms for a hidden model version and ~4.5 ms for a missing one.

    python bench/lineage_hidden_vs_missing.py [--repeat 200] [--database-url postgres://postgres@127.0.0.1:5432/x]

Without --database-url it uses a fresh SQLite file in a temporary directory (migrated on the fly). Requests go
through the Django test client with a real token, as the mlflow client's would."""
from __future__ import annotations

import argparse
import logging
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _setup(database_url: str | None, tmp: str) -> None:
    sys.path.insert(0, str(ROOT))
    os.environ["VAR_DIR"] = tmp
    os.environ["DATABASE_URL"] = database_url or f"sqlite:///{tmp}/bench.sqlite3"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "explorer.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0, interactive=False)


def _populate():
    """A three-level model version the outsider may not see, in a schema with some grants (so the visibility
    rule has rows to look at); returns the outsider's token and the two start nodes."""
    from django.contrib.auth import get_user_model

    from registry.models import Catalog, Grant, ModelVersion, Privilege, RegisteredModel, Schema
    from registry.services.tokens import token_create

    User = get_user_model()
    suffix = time.time_ns() % 10**9
    owner = User.objects.create_user(f"bench-owner-{suffix}")
    outsider = User.objects.create_user(f"bench-outsider-{suffix}")
    catalog = Catalog.objects.create(name=f"bench{suffix}", owner_user=owner)
    schema = Schema.objects.create(catalog=catalog, name="ml", owner_user=owner)
    model = RegisteredModel.objects.create(schema=schema, name="hidden", owner_user=owner)
    version = ModelVersion.objects.create(model=model, version=1, source="runs:/x/model", status="READY")
    for i in range(50):
        reader = User.objects.create_user(f"bench-reader-{suffix}-{i}")
        Grant.objects.create(user=reader, model=model, privilege=Privilege.EXECUTE)
    Grant.objects.create(user=outsider, catalog=catalog, privilege=Privilege.USE_CATALOG)
    _, secret = token_create(actor=outsider, user=outsider, name="bench")
    hidden = f"model_version:{catalog.name}.ml.hidden/{version.version}"
    missing = f"model_version:{catalog.name}.ml.missing/{version.version}"
    return outsider, secret, hidden, missing


def _time_selector(actor, node: str) -> float:
    from registry.errors import NotFound
    from registry.lineage.selectors import lineage_graph

    t0 = time.perf_counter()
    try:
        lineage_graph(actor=actor, node=node)
    except NotFound:
        return time.perf_counter() - t0
    raise AssertionError(f"{node} was found")


def _time_request(client, token: str, node: str) -> float:
    t0 = time.perf_counter()
    response = client.get("/api/2.1/lineage", {"node": node}, HTTP_AUTHORIZATION=f"Bearer {token}")
    elapsed = time.perf_counter() - t0
    assert response.status_code == 404, response.content
    return elapsed


def _queries(client, token: str, node: str) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        _time_request(client, token, node)
    return len(ctx.captured_queries)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=200)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        _setup(args.database_url, tmp)
        from django.db import connection
        from django.test import Client

        logging.getLogger("django.request").setLevel(logging.ERROR)  # every answer here is a 404
        outsider, token, hidden, missing = _populate()
        client = Client(SERVER_NAME="localhost")
        nodes = {"hidden": hidden, "missing": missing}
        for _ in range(20):  # warm up connections and caches
            _time_request(client, token, missing)
        api, selector = {k: [] for k in nodes}, {k: [] for k in nodes}
        for i in range(args.repeat):
            # Alternating, so that drift of the machine's load favours neither.
            for label in (("hidden", "missing") if i % 2 else ("missing", "hidden")):
                api[label].append(_time_request(client, token, nodes[label]))
                selector[label].append(_time_selector(outsider, nodes[label]))
        print(f"database: {connection.vendor}; {args.repeat} requests each")
        for label, node in nodes.items():
            print(f"{label:8} API median {statistics.median(api[label]) * 1000:.2f} ms "
                  f"(queries per request: {_queries(client, token, node)}); "
                  f"selector median {statistics.median(selector[label]) * 1000:.2f} ms")
        ratio = statistics.median(selector["hidden"]) / statistics.median(selector["missing"])
        print(f"selector ratio hidden/missing: {ratio:.2f}")

if __name__ == "__main__":
    main()
