"""Run one fixed MLflow client workload against the explorer and a reference `mlflow server` on the same
database engine, in one run, and print operations per second for both and their ratio; and the same client's
calls against canned answers (bench/canned_mlflow.py) under the same gunicorn flags, the floor under any server.

    python bench/mlflow_workload.py [--n 100] [--engine postgresql|sqlite] [--mlflow-venv var/bench-venv]

Needs PostgreSQL on 127.0.0.1:5432 (trust auth), Redis on 127.0.0.1:6379, and a virtualenv with the full
`mlflow` package (the server) at --mlflow-venv: `python3 -m venv var/bench-venv &&
var/bench-venv/bin/pip install mlflow==3.17.2 psycopg2-binary`."""
from __future__ import annotations

import argparse
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = sys.executable
PG = "postgresql://postgres@127.0.0.1:5432"


def _psql(sql: str) -> None:
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-q", "-c", sql], check=True,
                   stdout=subprocess.DEVNULL)


def _fresh_db(name: str) -> None:
    _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
    _psql(f"CREATE DATABASE {name}")


def _wait_http(url: str, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.3)
    raise SystemExit(f"server at {url} did not come up")


def start_reference(venv: Path, port: int, workdir: Path, engine: str) -> subprocess.Popen:
    if engine == "postgresql":
        _fresh_db("bench_reference")
        store = "postgresql+psycopg2://postgres@127.0.0.1:5432/bench_reference"
    else:
        store = f"sqlite:///{workdir / 'reference.sqlite3'}"
    artifacts = workdir / "ref-artifacts"
    artifacts.mkdir()
    proc = subprocess.Popen(
        [str(venv / "bin" / "mlflow"), "server", "--host", "127.0.0.1", "--port", str(port),
         "--backend-store-uri", store, "--artifacts-destination", str(artifacts),
         "--workers", "2"],
        stdout=open(workdir / "reference.log", "wb"), stderr=subprocess.STDOUT, start_new_session=True,
    )
    _wait_http(f"http://127.0.0.1:{port}/health")
    return proc


def start_explorer(port: int, workdir: Path, engine: str) -> tuple[list[subprocess.Popen], str]:
    env = dict(os.environ, CELERY_BROKER_URL="redis://127.0.0.1:6379/9", VAR_DIR=str(workdir / "explorer-var"),
               PORT=str(port), WEB_CONCURRENCY="2", ADMIN_USERNAME="bench", ADMIN_PASSWORD="bench-password",
               CELERY_QUEUE="bench")
    env.pop("DATABASE_URL", None)  # SQLite under VAR_DIR, the quick start's default
    if engine == "postgresql":
        _fresh_db("bench_explorer")
        env["DATABASE_URL"] = "postgres://postgres@127.0.0.1:5432/bench_explorer"
    subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([PY, "manage.py", "collectstatic", "--noinput", "-v0"], cwd=ROOT, env=env, check=True)
    subprocess.run([PY, "manage.py", "ensure_admin"], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL)
    token = subprocess.run([PY, "manage.py", "create_token", "bench"], cwd=ROOT, env=env, check=True,
                           capture_output=True, text=True).stdout.strip().splitlines()[-1]
    proc = subprocess.Popen([PY, "-m", "explorer.serve"], cwd=ROOT, env=env,
                            stdout=open(workdir / "explorer.log", "wb"), stderr=subprocess.STDOUT,
                            start_new_session=True)
    _wait_http(f"http://127.0.0.1:{port}/healthz")
    return [proc], token


def stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=20)
    except Exception:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


WORKLOAD = """
import json, os, sys, time
import mlflow
from mlflow import MlflowClient
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression

n = int(sys.argv[1]); name = sys.argv[2]; canned = os.environ.get("CANNED") == "1"
client = MlflowClient()
if canned:  # bench/canned_mlflow.py answers only the timed calls: no run, no logged model to make
    model_id, run_id = "m-0123456789abcdef0123456789abcdef", "0123456789abcdef0123456789abcdef"
else:
    X, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=300).fit(X, y)
    with mlflow.start_run() as run:
        info = mlflow.sklearn.log_model(model, name="model", input_example=X[:3])
    model_id, run_id = info.model_id, run.info.run_id
    client.create_registered_model(name)
timings = {}
def timed(label, count, fn):
    start = time.perf_counter()
    for i in range(count):
        fn(i)
    timings[label] = count / (time.perf_counter() - start)
timed("create_model_version", n, lambda i: client.create_model_version(name, f"models:/{model_id}", run_id=run_id, model_id=model_id))
timed("set_alias", n, lambda i: client.set_registered_model_alias(name, f"a{i % 10}", str(i % n + 1)))
timed("get_by_alias", n, lambda i: client.get_model_version_by_alias(name, f"a{i % 10}"))
timed("get_model_version", n, lambda i: client.get_model_version(name, str(i % n + 1)))
timed("search_versions", max(1, n // 5), lambda i: client.search_model_versions(f"name='{name}'"))
timed("search_models", n, lambda i: client.search_registered_models(filter_string="name LIKE 'bench%'"))
if not canned:
    timed("load_model", max(1, n // 20), lambda i: mlflow.pyfunc.load_model(f"models:/{name}/1"))
print(json.dumps(timings))
"""


def start_floor(port: int, n: int, workdir: Path) -> subprocess.Popen:
    """bench/canned_mlflow.py under the explorer's own gunicorn flags (explorer.serve): the floor under any server."""
    sys.path.insert(0, str(ROOT))
    from explorer.serve import web_command

    proc = subprocess.Popen(
        web_command("bench.canned_mlflow:application", bind=f"127.0.0.1:{port}"),
        cwd=ROOT, env=dict(os.environ, CANNED_VERSIONS=str(n)), stdout=open(workdir / "floor.log", "wb"),
        stderr=subprocess.STDOUT, start_new_session=True,
    )
    _wait_http(f"http://127.0.0.1:{port}/api/2.0/mlflow/registered-models/get", timeout=30)
    return proc


def run_workload(url: str, token: str | None, n: int, workdir: Path, canned: bool = False) -> dict[str, float]:
    env = dict(os.environ, MLFLOW_TRACKING_URI=url, MLFLOW_HTTP_REQUEST_MAX_RETRIES="0", CANNED="1" if canned else "0")
    if token:
        env["MLFLOW_TRACKING_TOKEN"] = token
    out = subprocess.run([PY, "-c", WORKLOAD, str(n), "benchmodel"], env=env, cwd=workdir,
                         capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"workload against {url} failed:\n{out.stderr[-3000:]}")
    import json

    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--engine", choices=["postgresql", "sqlite"], default="postgresql",
                        help="the database of both servers")
    parser.add_argument("--mlflow-venv", default=str(ROOT / "var" / "bench-venv"))
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-mlflow-"))
    ref = start_reference(Path(args.mlflow_venv), 5055, workdir, args.engine)
    explorer, token = start_explorer(8055, workdir, args.engine)
    floor = start_floor(7055, args.n, workdir)
    try:
        results = {"reference": [], "explorer": [], "floor": []}
        for _ in range(args.rounds):
            results["reference"].append(run_workload("http://127.0.0.1:5055", None, args.n, workdir))
            results["explorer"].append(run_workload("http://127.0.0.1:8055", token, args.n, workdir))
            results["floor"].append(run_workload("http://127.0.0.1:7055", None, args.n, workdir, canned=True))
    finally:
        stop(ref)
        stop(floor)
        for proc in explorer:
            stop(proc)
    print(f"workload: N={args.n} workspace-registry versions of one model, mlflow client 3.17, {args.engine} for both")
    print("floor: the same client against canned answers (bench/canned_mlflow.py) under the explorer's gunicorn flags;")
    print("       floor/ref is the highest ratio any server could reach here")
    print(f"{'operation':<22}{'reference ops/s':>17}{'explorer ops/s':>17}{'ratio':>8}{'floor ops/s':>13}"
          f"{'floor/ref':>11}")
    for op in results["reference"][0]:
        ref_ops = statistics.median(r[op] for r in results["reference"])
        exp_ops = statistics.median(r[op] for r in results["explorer"])
        if op in results["floor"][0]:
            floor_ops = statistics.median(r[op] for r in results["floor"])
            floor_cols = f"{floor_ops:>13.1f}{floor_ops / ref_ops:>11.2f}"
        else:
            floor_cols = f"{'-':>13}{'-':>11}"
        print(f"{op:<22}{ref_ops:>17.1f}{exp_ops:>17.1f}{exp_ops / ref_ops:>8.2f}{floor_cols}")
    shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
