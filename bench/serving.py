"""Serving throughput and latency, end to end: one sklearn model served by the explorer (`python -m explorer.serve`:
gunicorn, the Celery worker and scheduler, the serving supervisor) and scored over REST at
`/model/<name>/<version>/invocations` with a token, against `mlflow models serve` of the same model on the same
machine, in the same run. Load comes from a second process: N keep-alive connections, each sending the next
request when the previous one answered, for a fixed time; the two servers are measured in alternating rounds so
both see the same machine.

    .venv/bin/python bench/serving.py [--seconds 20] [--connections 8] [--rounds 4] [--web-workers 2] [--model-workers 2]

It works in a scratch directory (SQLite database, artifact store) and removes it afterwards. It prints requests/s
and p50/p99 latency of both and their ratios."""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MODEL = "BenchIris"

LOAD_SCRIPT = r"""
import http.client, json, sys, threading, time, base64
host, port, path, token, seconds, connections = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5]), int(sys.argv[6])
body = sys.stdin.buffer.read()
headers = {"Content-Type": "application/json"}
if token:
    headers["Authorization"] = "Bearer " + token
latencies, errors = [], [0]
lock = threading.Lock()
deadline = time.perf_counter() + seconds
def run():
    conn = http.client.HTTPConnection(host, port, timeout=30)
    mine, bad = [], 0
    while time.perf_counter() < deadline:
        begin = time.perf_counter()
        try:
            conn.request("POST", path, body, headers)
            response = conn.getresponse(); response.read()
            if response.status != 200:
                bad += 1
        except Exception:
            bad += 1; conn.close(); conn = http.client.HTTPConnection(host, port, timeout=30); continue
        mine.append(time.perf_counter() - begin)
    with lock:
        latencies.extend(mine); errors[0] += bad
threads = [threading.Thread(target=run) for _ in range(connections)]
started = time.perf_counter()
for t in threads: t.start()
for t in threads: t.join()
print(json.dumps({"latencies": latencies, "errors": errors[0], "elapsed": time.perf_counter() - started}))
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_http(url: str, timeout: float = 120.0) -> None:
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            time.sleep(0.5)
    raise SystemExit(f"{url} did not answer within {timeout:.0f}s")


def manage(env: dict, *args: str) -> str:
    return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True,
                          capture_output=True, text=True).stdout


def log_and_register(base: str, token: str, scratch: Path) -> tuple[Path, bytes]:
    """Train an iris model, log and register it with the mlflow client; return a local copy and a payload."""
    os.environ.update(MLFLOW_TRACKING_URI=base, MLFLOW_TRACKING_TOKEN=token, MLFLOW_HTTP_REQUEST_MAX_RETRIES="0")
    import mlflow
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=300).fit(X, y)
    with mlflow.start_run():
        mlflow.sklearn.log_model(model, name="model", input_example=X[:3], registered_model_name=MODEL)
    local = Path(mlflow.artifacts.download_artifacts(f"models:/{MODEL}/1", dst_path=str(scratch / "model")))
    payload = json.dumps({"dataframe_split": {"columns": list(X.columns), "data": X[:5].values.tolist()}}).encode()
    return local, payload


def drive(port: int, path: str, token: str, payload: bytes, seconds: float, connections: int) -> dict:
    out = subprocess.run([sys.executable, "-c", LOAD_SCRIPT, "127.0.0.1", str(port), path, token, str(seconds),
                          str(connections)], input=payload, capture_output=True, check=True)
    return json.loads(out.stdout)


def summary(results: list[dict]) -> dict:
    latencies = sorted(x for r in results for x in r["latencies"])
    elapsed = sum(r["elapsed"] for r in results)
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * (len(latencies) - 1)))] * 1000  # noqa: E731
    return {"rps": len(latencies) / elapsed, "p50": pick(0.5), "p99": pick(0.99), "n": len(latencies),
            "errors": sum(r["errors"] for r in results)}


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0, help="per round and server")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--model-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=1, help="gunicorn threads per web worker (WEB_THREADS)")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    port, ref_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL")}
    env.update(VAR_DIR=str(scratch / "var"), ARTIFACT_ROOT=str(scratch / "store"), PORT=str(port),
               WEB_CONCURRENCY=str(args.web_workers), WEB_THREADS=str(args.web_threads), PATH=f"{BIN}:{os.environ.get('PATH', '')}",
               TOKEN_FAILURE_LIMIT="100000")
    procs = []
    try:
        manage(env, "migrate", "--noinput")
        manage(env, "ensure_admin")
        token = manage(env, "create_token", "admin", "--days", "1").strip().splitlines()[-1].strip()
        explorer = subprocess.Popen([sys.executable, "-m", "explorer.serve"], cwd=ROOT, env=env,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        procs.append(explorer)
        base = f"http://127.0.0.1:{port}"
        wait_http(base + "/healthz")
        local, payload = log_and_register(base, token, scratch)

        import requests

        auth = {"Authorization": f"Bearer {token}"}
        requests.patch(f"{base}/api/2.0/explorer/serving/models/settings", headers=auth,
                      json={"registered_model_name": MODEL, "workers": args.model_workers})
        requests.post(f"{base}/api/2.0/explorer/serving/models/enable", headers=auth,
                      json={"registered_model_name": MODEL}).raise_for_status()
        deadline = time.monotonic() + 300
        while requests.get(f"{base}/api/2.0/explorer/serving/models/status", headers=auth,
                           params={"registered_model_name": MODEL}).json()["state"] != "READY":
            if time.monotonic() > deadline:
                raise SystemExit("serving did not become READY")
            time.sleep(1)

        reference = subprocess.Popen(
            [str(BIN / "mlflow"), "models", "serve", "-m", str(local), "-p", str(ref_port), "--env-manager", "local"],
            env={**env, "MLFLOW_TRACKING_URI": ""}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        procs.append(reference)
        wait_http(f"http://127.0.0.1:{ref_port}/ping")

        ours_path = f"/model/{MODEL}/1/invocations"
        drive(port, ours_path, token, payload, 3, args.connections)  # warm up both
        drive(ref_port, "/invocations", "", payload, 3, args.connections)
        ours, theirs = [], []
        for _ in range(args.rounds):
            ours.append(drive(port, ours_path, token, payload, args.seconds / args.rounds * 1.0, args.connections))
            theirs.append(drive(ref_port, "/invocations", "", payload, args.seconds / args.rounds, args.connections))
        a, b = summary(ours), summary(theirs)
        print(f"{'':26}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'requests':>10}{'errors':>8}")
        for label, r in (("explorer (REST, token)", a), ("mlflow models serve", b)):
            print(f"{label:26}{r['rps']:10.1f}{r['p50']:10.2f}{r['p99']:10.2f}{r['n']:10d}{r['errors']:8d}")
        print(f"ratio explorer/mlflow: throughput {a['rps'] / b['rps']:.2f}x, p50 {a['p50'] / b['p50']:.2f}, "
              f"p99 {a['p99'] / b['p99']:.2f}  ({args.connections} keep-alive connections, "
              f"{args.web_workers} web workers x {args.web_threads} threads, {args.model_workers} model processes; mlflow models serve defaults)")
        return 0
    finally:
        for proc in reversed(procs):
            try:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=30)
            except Exception:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except Exception:
                    pass
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
