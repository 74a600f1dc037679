"""Per-request cost of the MLflow client's hot path, in process (Django's test client, no HTTP): milliseconds and SQL
queries per request for the calls `bench/mlflow_workload.py` times, on a scratch database.

    python bench/hot_path.py [--n 300] [--database-url postgres://postgres@127.0.0.1:5432/bench_hot]
                             [--profile get_by_alias]   # pyinstrument's tree of one kind of request

SQLite (a scratch file) by default. The numbers are the floor under what a client sees over HTTP: they leave out
the WSGI server and the client itself."""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def _setup_django(database_url: str | None) -> None:
    var = tempfile.mkdtemp(prefix="bench-hot-")
    os.environ["VAR_DIR"] = var
    if database_url:
        os.environ["DATABASE_URL"] = database_url
    else:
        os.environ.pop("DATABASE_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "explorer.settings")
    os.environ.setdefault("CELERY_TASK_ALWAYS_EAGER", "1")
    import django

    django.setup()
    if database_url:
        import subprocess

        name = database_url.rsplit("/", 1)[-1]
        for sql in (f"DROP DATABASE IF EXISTS {name} WITH (FORCE)", f"CREATE DATABASE {name}"):
            subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-q", "-c", sql],
                           check=True, stdout=subprocess.DEVNULL)
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _world(n: int, admin: bool):
    """A user (an admin, or a plain user who creates the model) with a token, one workspace model with `n` READY
    versions of one run, aliases a0..a9 set by the first requests."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from registry.services.tokens import token_create
    from tests.registry.factories import make_model, make_run, make_version, run_source

    user = get_user_model().objects.create_user("bench", password="bench-password", is_staff=admin,
                                                is_superuser=admin)
    token = token_create(actor=user, user=user)[1]
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_HOST="localhost")
    make_model(user, "benchmodel")
    run = make_run()
    source = run_source(run)
    for _ in range(n):
        make_version(user, "benchmodel", source=source, run_id=run.run_id)
    logged = client.post("/api/2.0/mlflow/logged-models", {"experiment_id": "0", "name": "model",
                                                           "source_run_id": run.run_id},
                         content_type="application/json")
    assert logged.status_code == 200, logged.content[:300]
    model_id = logged.json()["model"]["info"]["model_id"]
    return client, source, run.run_id, model_id


def _calls(client, source: str, run_id: str, model_id: str):
    api = "/api/2.0/mlflow/"

    def post(path, body):
        return client.post(api + path, body, content_type="application/json")

    def create_from_logged_model(i):
        # What MlflowClient.create_model_version(name, "models:/<id>", model_id=<id>) sends: the create, then a GET
        # of the logged model (bench/mlflow_workload.py times the pair).
        created = post("model-versions/create", {"name": "benchmodel", "source": f"models:/{model_id}",
                                                 "run_id": run_id, "model_id": model_id})
        return created if created.status_code != 200 else client.get(api + f"logged-models/{model_id}")

    def set_alias_as_client(i):
        # MlflowClient.set_registered_model_alias first GETs the model (to refuse a prompt), then sets the alias;
        # after the previous set, that GET is always computed afresh.
        got = client.get(api + "registered-models/get", {"name": "benchmodel"})
        return got if got.status_code != 200 else post("registered-models/alias", {
            "name": "benchmodel", "alias": f"a{i % 10}", "version": str(i % 50 + 1)})

    return {
        "create_model_version": lambda i: post("model-versions/create",
                                               {"name": "benchmodel", "source": source, "run_id": run_id}),
        "create_from_logged_model": create_from_logged_model,
        "set_alias": lambda i: post("registered-models/alias",
                                    {"name": "benchmodel", "alias": f"a{i % 10}", "version": str(i % 50 + 1)}),
        "set_alias_as_client": set_alias_as_client,
        "set_version_tag": lambda i: post("model-versions/set-tag",
                                          {"name": "benchmodel", "version": str(i % 50 + 1), "key": "k",
                                           "value": str(i)}),
        "get_by_alias": lambda i: client.get(api + "registered-models/alias",
                                             {"name": "benchmodel", "alias": f"a{i % 10}"}),
        "get_model_version": lambda i: client.get(api + "model-versions/get",
                                                  {"name": "benchmodel", "version": str(i % 50 + 1)}),
        "get_model": lambda i: client.get(api + "registered-models/get", {"name": "benchmodel"}),
        "search_versions": lambda i: client.get(api + "model-versions/search",
                                                {"filter": "name='benchmodel'", "max_results": 10}),
        "search_models": lambda i: client.get(api + "registered-models/search",
                                              {"filter": "name LIKE 'bench%'"}),
    }


def _computed(call, answer_cache):
    def computed(i):
        answer_cache.clear()
        return call(i)

    return computed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=300, help="requests per kind")
    parser.add_argument("--database-url")
    parser.add_argument("--actor", choices=["admin", "user"], default="admin",
                        help="an admin (as bench/mlflow_workload.py) or a plain user owning the model")
    parser.add_argument("--profile", help="print pyinstrument's profile of this kind of request")
    parser.add_argument("--computed", action="store_true",
                        help="empty the answer cache before every request: each read is computed, as the first "
                             "after a write is")
    args = parser.parse_args()
    _setup_django(args.database_url)
    from django.db import connection

    from registry.api import answer_cache

    client, source, run_id, model_id = _world(50, args.actor == "admin")
    calls = _calls(client, source, run_id, model_id)
    if args.computed:
        calls = {label: _computed(call, answer_cache) for label, call in calls.items()}
    engine = connection.vendor
    print(f"hot path in process, {engine}, as {args.actor}, {args.n} requests per kind (median of 3 passes)"
          + (", every read computed" if args.computed else ""))
    print(f"{'request':<22}{'ms/request':>12}{'queries':>9}")
    for label, call in calls.items():
        response = call(0)
        assert response.status_code == 200, (label, response.content[:300])
        queries = []

        def record(execute, sql, params, many, context):
            queries.append(sql)
            return execute(sql, params, many, context)

        with connection.execute_wrapper(record):
            call(1)
        passes = []
        for _ in range(3):
            start = time.perf_counter()
            for i in range(args.n):
                call(i)
            passes.append((time.perf_counter() - start) * 1000 / args.n)
        print(f"{label:<22}{statistics.median(passes):>12.2f}{len(queries):>9}")
        if args.profile == label:
            from pyinstrument import Profiler

            profiler = Profiler(interval=0.0002)
            profiler.start()
            for i in range(args.n):
                call(i)
            profiler.stop()
            print(profiler.output_text(unicode=False, color=False, show_all=False))
        if os.environ.get("SHOW_QUERIES") == label:
            for sql in queries:
                print("   ", sql[:300])


if __name__ == "__main__":
    main()
