"""Time building and drawing a 1,000-node lineage graph: a table used by 333 training runs, each with a version
registered from it and a copy of that version (1 + 3 x 333 nodes), walked downstream from the table as a
non-admin reader, then rendered as SVG and as table rows.

    python bench/lineage_graph.py [--runs 333] [--repeat 5] [--database-url postgres://postgres@127.0.0.1:5432/x]

Without --database-url it uses a fresh SQLite file in a temporary directory (migrated on the fly)."""
from __future__ import annotations

import argparse
import json
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


def _populate(runs: int):
    from django.contrib.auth import get_user_model

    from registry.models import (Catalog, Dataset, Experiment, Grant, ModelVersion, Privilege, RegisteredModel, Run,
                                 RunInput, Schema)

    User = get_user_model()
    reader = User.objects.create_user(f"bench-reader-{time.time_ns()}")
    suffix = time.time_ns() % 10**9
    catalog = Catalog.objects.create(name=f"bench{suffix}")
    schema = Schema.objects.create(catalog=catalog, name="ml")
    exp = Experiment.objects.create(id=10**9 + suffix, name=f"bench-{suffix}", artifact_location="mlflow-artifacts:/b",
                                    creation_time=0, last_update_time=0)
    for kw in ({"catalog": catalog, "privilege": Privilege.USE_CATALOG},
               {"schema": schema, "privilege": Privilege.USE_SCHEMA}, {"schema": schema, "privilege": Privilege.EXECUTE},
               {"experiment": exp, "privilege": Privilege.EXECUTE}):
        Grant.objects.create(user=reader, **kw)
    table = f"bench{suffix}.ml.iris"
    model = RegisteredModel.objects.create(schema=schema, name="source")
    copies = RegisteredModel.objects.create(schema=schema, name="copies")
    run_rows = Run.objects.bulk_create(Run(run_id=f"{suffix:09d}{i:023d}", experiment=exp, name=f"run-{i}",
                                           artifact_uri="mlflow-artifacts:/b", start_time=i) for i in range(runs))
    datasets = Dataset.objects.bulk_create(
        Dataset(experiment=exp, name="iris", digest=f"d{i}", source_type="delta_table",
                source=json.dumps({"delta_table_name": table, "delta_table_version": i % 7})) for i in range(runs))
    RunInput.objects.bulk_create(RunInput(run=r, dataset=d, tags=[{"key": "mlflow.data.context", "value": "training"}])
                                 for r, d in zip(run_rows, datasets))
    versions = ModelVersion.objects.bulk_create(
        ModelVersion(model=model, version=i + 1, source=f"runs:/{r.run_id}/model", run_id=r.run_id)
        for i, r in enumerate(run_rows))
    ModelVersion.objects.bulk_create(
        ModelVersion(model=copies, version=i + 1, source=f"models:/{catalog.name}.ml.source/{i + 1}", run_id=v.run_id,
                     copied_from=v) for i, v in enumerate(versions))
    return reader, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=333)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        _setup(args.database_url, tmp)
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        from registry.lineage.selectors import lineage_graph
        from registry.lineage.svg import render_svg, table_rows

        reader, table = _populate(args.runs)
        build, draw = [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            with CaptureQueriesContext(connection) as queries:
                graph = lineage_graph(actor=reader, node=f"table:{table}", direction="downstream", depth=4)
            t1 = time.perf_counter()
            svg = render_svg(graph, lambda n: f"/explore/{n.type}/{n.id}")
            rows = list(table_rows(graph, lambda n: f"/explore/{n.type}/{n.id}"))
            t2 = time.perf_counter()
            build.append(t1 - t0)
            draw.append(t2 - t1)
        print(f"database: {connection.vendor}; nodes: {len(graph.nodes)}; edges: {len(graph.edges)}; "
              f"queries: {len(queries.captured_queries)}; svg: {len(svg) // 1024} KiB; rows: {len(rows)}")
        print(f"build graph: median {statistics.median(build) * 1000:.0f} ms; "
              f"render svg + rows: median {statistics.median(draw) * 1000:.0f} ms; "
              f"total: median {statistics.median(b + d for b, d in zip(build, draw)) * 1000:.0f} ms")


if __name__ == "__main__":
    main()
