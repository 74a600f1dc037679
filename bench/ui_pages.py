"""Page times of the browser UI on a large catalog: 10,000 models and 100,000 versions (seeded with bulk inserts
into a fresh PostgreSQL database), each page rendered in-process through Django's test client as an admin and as a
reader who sees a tenth of the catalog. Prints the median of several renders per page and its query count.

    .venv/bin/python bench/ui_pages.py [--models 10000] [--versions-per-model 10] [--repeat 5]

Needs PostgreSQL on 127.0.0.1:5432 (trust auth); creates and drops the database `bench_ui`."""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-q", "-c", sql], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def seed(models: int, per_model: int):
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from registry.models import Catalog, Grant, ModelAlias, ModelVersion, RegisteredModel, RegisteredModelTag, Schema

    User = get_user_model()
    admin = User.objects.create_superuser("admin", "admin@example.com", "pw")
    reader = User.objects.create_user("reader", "reader@example.com", "pw")
    catalog = Catalog.objects.create(name="prod", owner_user=admin)
    schemas = [Schema.objects.create(catalog=catalog, name=f"team_{i:02d}", owner_user=admin) for i in range(10)]
    Grant.objects.create(privilege="USE_CATALOG", user=reader, catalog=catalog)
    Grant.objects.create(privilege="USE_SCHEMA", user=reader, schema=schemas[0])
    Grant.objects.create(privilege="EXECUTE", user=reader, schema=schemas[0])
    now = timezone.now()
    rows = [RegisteredModel(schema=schemas[i % 10], name=f"model_{i:05d}", description=f"Model {i} of the bench",
                            owner_user=admin, created_by=admin, last_version_number=per_model) for i in range(models)]
    RegisteredModel.objects.bulk_create(rows, batch_size=2000)
    ids = list(RegisteredModel.objects.values_list("pk", flat=True))
    RegisteredModelTag.objects.bulk_create(
        [RegisteredModelTag(model_id=pk, key="task", value="classification" if pk % 2 else "regression") for pk in ids],
        batch_size=5000)
    batch = []
    for pk in ids:
        for v in range(1, per_model + 1):
            batch.append(ModelVersion(model_id=pk, version=v, source=f"models:/m-{uuid.uuid4().hex}",
                                      run_id=uuid.uuid4().hex, status="READY", created_by=admin,
                                      storage_location=f"mlflow-artifacts:/registry/x/versions/{v}"))
        if len(batch) >= 10000:
            ModelVersion.objects.bulk_create(batch, batch_size=10000)
            batch = []
    ModelVersion.objects.bulk_create(batch, batch_size=10000)
    champions = ModelVersion.objects.filter(version=per_model).values_list("pk", "model_id")
    ModelAlias.objects.bulk_create([ModelAlias(model_id=m, alias="Champion", version_id=v) for v, m in champions],
                                   batch_size=5000)
    return admin, reader


def timed(client, url: str, repeat: int) -> tuple[float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    times, queries, status = [], 0, 0
    for _ in range(repeat):
        with CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            response = client.get(url)
            times.append(time.perf_counter() - start)
        queries, status = len(ctx.captured_queries), response.status_code
    return statistics.median(times) * 1000, queries, status


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=10_000)
    parser.add_argument("--versions-per-model", type=int, default=10)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    _psql("DROP DATABASE IF EXISTS bench_ui WITH (FORCE)")
    _psql("CREATE DATABASE bench_ui")
    os.environ.update(DATABASE_URL="postgres://postgres@127.0.0.1:5432/bench_ui", DB_CONN_MAX_AGE="0",
                      VAR_DIR=str(ROOT / "var" / "bench-ui"), DJANGO_SETTINGS_MODULE="explorer.settings",
                      ALLOWED_HOSTS="testserver")
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    import logging

    logging.getLogger("django.request").setLevel(logging.ERROR)  # the reader's expected 404s are not news
    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    admin, reader = seed(args.models, args.versions_per_model)
    print(f"seeded {args.models} models, {args.models * args.versions_per_model} versions in "
          f"{time.perf_counter() - started:.0f} s")
    pages = [
        ("home", "/"),
        ("models list", "/models/"),
        ("models list, 100 per page", "/models/?page_size=100"),
        ("models list, filter", "/models/?q=tags.task+%3D+%27classification%27+AND+name+LIKE+%27%25model_01%25%27"),
        ("models list, last page", f"/models/?page={args.models // 25}"),
        ("search", "/search/?q=model_0999"),
        ("schema page", "/schemas/prod.team_00/"),
        ("model overview", "/models/prod.team_00.model_00010/"),
        ("model permissions", "/models/prod.team_00.model_00010/permissions/"),
        ("version overview", f"/models/prod.team_00.model_00010/versions/{args.versions_per_model}/"),
        ("model lineage", "/models/prod.team_00.model_00010/lineage/"),
        ("audit log", "/audit/"),
    ]
    print(f"{'page':<30}{'admin ms':>10}{'queries':>9}{'reader ms':>11}{'queries':>9}")
    clients = []
    for user in (admin, reader):
        client = Client()
        client.force_login(user)
        clients.append(client)
    for label, url in pages:
        a_ms, a_q, a_status = timed(clients[0], url, args.repeat)
        r_ms, r_q, r_status = timed(clients[1], url, args.repeat)
        reader_cell = f"{r_ms:>11.1f}{r_q:>9}" if r_status == 200 else f"{'(' + str(r_status) + ')':>11}{'':>9}"
        print(f"{label:<30}{a_ms:>10.1f}{a_q:>9}{reader_cell}")
    from django.db import connections

    connections.close_all()
    _psql("DROP DATABASE IF EXISTS bench_ui WITH (FORCE)")


if __name__ == "__main__":
    main()
