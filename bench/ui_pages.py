"""Page times of the browser UI on a large catalog: 10,000 models and 100,000 versions (seeded with bulk inserts
into a fresh PostgreSQL database), each page rendered in-process through Django's test client as an admin and as a
reader who sees a tenth of the catalog. Prints the median of several renders per page and its query count.

    .venv/bin/python bench/ui_pages.py [--models 10000] [--versions-per-model 10] [--repeat 5] [--database bench_ui]

Needs PostgreSQL on 127.0.0.1:5432 (trust auth); creates and drops the database named by --database (default
`bench_ui`, or $BENCH_UI_DATABASE), so concurrent runs can each use their own. --keep leaves it in place and
--reuse runs on a database seeded by an earlier --keep run (after migrating it), for profiling."""
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
    parser.add_argument("--database", default=os.environ.get("BENCH_UI_DATABASE", "bench_ui"),
                        help="PostgreSQL database to create (and drop) for the run")
    parser.add_argument("--keep", action="store_true", help="leave the seeded database in place")
    parser.add_argument("--reuse", action="store_true", help="use the database seeded by an earlier --keep run")
    parser.add_argument("--no-analyze", action="store_true",
                        help="measure straight after the bulk load, before the planner has statistics (as autovacuum "
                             "would gather within a minute); the numbers before 2026-11-26 were taken this way")
    args = parser.parse_args()
    if not args.database.replace("_", "").isalnum():
        parser.error("--database must be a plain identifier")
    if not args.reuse:
        _psql(f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)")
        _psql(f"CREATE DATABASE {args.database}")
    os.environ.update(DATABASE_URL=f"postgres://postgres@127.0.0.1:5432/{args.database}", DB_CONN_MAX_AGE="0",
                      VAR_DIR=str(ROOT / "var" / "bench-ui"), DJANGO_SETTINGS_MODULE="explorer.settings",
                      ALLOWED_HOSTS="testserver")
    import django

    django.setup()
    from django.core.management import call_command
    from django.test import Client

    import logging

    logging.getLogger("django.request").setLevel(logging.ERROR)  # the reader's expected 404s are not news
    call_command("migrate", verbosity=0)
    if args.reuse:
        from django.contrib.auth import get_user_model

        admin, reader = (get_user_model().objects.get(username=name) for name in ("admin", "reader"))
    else:
        started = time.perf_counter()
        admin, reader = seed(args.models, args.versions_per_model)
        print(f"seeded {args.models} models, {args.models * args.versions_per_model} versions in "
              f"{time.perf_counter() - started:.0f} s")
    from django.db import connection

    if not args.no_analyze:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")  # planner statistics for the bulk-inserted rows, as autovacuum would gather
    from registry.search.pages import encode_page_token

    def last_page(visible: int) -> str:
        return f"/models/?page_token={encode_page_token(max(0, visible - 25))}"

    pages = [
        ("home", "/"),
        ("models list", "/models/"),
        ("models list, 100 per page", "/models/?page_size=100"),
        ("models list, filter", "/models/?q=tags.task+%3D+%27classification%27+AND+name+LIKE+%27%25model_01%25%27"),
        ("models list, sort by owner", "/models/?sort=owner"),
        # Each persona's own last page: the admin sees every model, the reader one schema's tenth.
        ("models list, last page", (last_page(args.models), last_page(args.models // 10))),
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
        admin_url, reader_url = url if isinstance(url, tuple) else (url, url)
        a_ms, a_q, a_status = timed(clients[0], admin_url, args.repeat)
        r_ms, r_q, r_status = timed(clients[1], reader_url, args.repeat)
        reader_cell = f"{r_ms:>11.1f}{r_q:>9}" if r_status == 200 else f"{'(' + str(r_status) + ')':>11}{'':>9}"
        print(f"{label:<30}{a_ms:>10.1f}{a_q:>9}{reader_cell}")
    from django.db import connections

    connections.close_all()
    if not args.keep:
        _psql(f"DROP DATABASE IF EXISTS {args.database} WITH (FORCE)")


if __name__ == "__main__":
    main()
