"""Scoring latency through the serving runtime (registry.serving.client.invoke -> a pool run by
`python -m explorer.serve_models`) against `mlflow models serve` of the same sklearn model, in one run, on one
machine, with the same client loop (one keep-alive connection, requests one after the other).

    .venv/bin/python bench/serving_latency.py [--requests 2000] [--rows 5] [--workers 1]

Works in a scratch directory (SQLite database, artifact store, supervisor files) and removes it afterwards; the
venv's bin/ is put on PATH for `mlflow models serve`, which runs `uvicorn` from PATH. What is measured is the
runtime's forwarding path, not the web tier in front of it (authentication, resolution of the version)."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
BIN = Path(sys.executable).parent


def _setup(scratch: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL")}
    env.update(VAR_DIR=str(scratch / "var"), ARTIFACT_ROOT=str(scratch / "store"),
               DJANGO_SETTINGS_MODULE="explorer.settings", PATH=f"{BIN}:{os.environ.get('PATH', '')}")
    os.environ.clear()
    os.environ.update(env)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return env


def _percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def _drive(senders: dict, count: int, rounds: int = 10, warmup: int = 100) -> dict:
    """Alternate rounds of each sender, so both see the same machine (other load comes and goes on 2 cores)."""
    for send in senders.values():
        for _ in range(warmup):
            send()
    times = {name: [] for name in senders}
    busy = {name: 0.0 for name in senders}
    for _ in range(rounds):
        for name, send in senders.items():
            started = time.perf_counter()
            for _ in range(count // rounds):
                begin = time.perf_counter()
                send()
                times[name].append((time.perf_counter() - begin) * 1000)
            busy[name] += time.perf_counter() - started
    return {name: {"p50": statistics.median(values), "p99": _percentile(values, 0.99),
                   "rps": len(values) / busy[name]} for name, values in times.items()}


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--rows", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()

    scratch = Path(tempfile.mkdtemp(prefix="serving-bench-"))
    procs: list[subprocess.Popen] = []
    try:
        env = _setup(scratch)
        import urllib3

        from registry.models import ServingDeployment
        from registry.serving import client
        from tests.serving.runtime_fixtures import deployment_of, save_sklearn_model, serve

        model_dir = scratch / "iris"
        _model, X = save_sklearn_model(model_dir)
        body = json.dumps({"dataframe_split": X.iloc[:args.rows].to_dict(orient="split")}).encode()

        log = open(scratch / "supervisor.log", "ab")
        procs.append(subprocess.Popen([sys.executable, "-m", "explorer.serve_models"], cwd=ROOT, env=env,
                                      stdout=log, stderr=subprocess.STDOUT, start_new_session=True))
        served = serve(model_dir, workers=args.workers)
        deployment = _wait(lambda: (d := deployment_of(served)).state == ServingDeployment.State.READY and d,
                           180, "the supervisor to serve the model")

        def ours():
            result = client.invoke(deployment, body, "application/json", timeout=30)
            assert result.status == 200, result.body

        port = 5000 + os.getpid() % 1000
        procs.append(subprocess.Popen(
            [str(BIN / "mlflow"), "models", "serve", "-m", str(model_dir), "-p", str(port), "-h", "127.0.0.1",
             "-w", str(args.workers), "--env-manager", "local"], env=env, stdout=log, stderr=subprocess.STDOUT,
            start_new_session=True))
        http = urllib3.PoolManager(retries=False)
        url = f"http://127.0.0.1:{port}"

        def pinged():
            try:
                return http.request("GET", url + "/ping", timeout=2).status == 200
            except urllib3.exceptions.HTTPError:
                return False

        _wait(pinged, 180, "mlflow models serve")

        def theirs():
            response = http.request("POST", url + "/invocations", body=body,
                                    headers={"Content-Type": "application/json"}, timeout=30)
            assert response.status == 200, response.data

        results = _drive({"runtime": ours, "reference": theirs}, args.requests)
        runtime, reference = results["runtime"], results["reference"]

        print(f"{args.requests} requests each of {args.rows} rows, {args.workers} worker(s), one keep-alive connection, "
              "in alternating rounds")
        print(f"{'':28} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>8}")
        for name, row in (("serving runtime", runtime), ("mlflow models serve", reference)):
            print(f"{name:28} {row['p50']:8.2f} {row['p99']:8.2f} {row['rps']:8.0f}")
        print(f"ratio (runtime / mlflow)     {runtime['p50'] / reference['p50']:8.2f} "
              f"{runtime['p99'] / reference['p99']:8.2f} {runtime['rps'] / reference['rps']:8.2f}")
        return 0
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=40)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
