"""Serving throughput and latency, end to end: one sklearn model served by the explorer (`python -m explorer.serve`:
gunicorn, the Celery worker and scheduler, the serving supervisor) and scored over REST at
`/model/<name>/<version>/invocations` with a token, against `mlflow models serve` of the same model on the same
machine, in the same run. Load comes from a second process: N keep-alive connections, each sending the next
request when the previous one answered, for a fixed time; the two servers are measured in alternating rounds so
both see the same machine.

    .venv/bin/python bench/serving.py [--seconds 20] [--connections 8] [--rounds 4] [--web-workers 3] [--web-threads 8]
                                      [--model-workers 2] [--load wrk|python]

The load comes from wrk when it is installed (`apt-get install wrk`), else from a Python client; besides
throughput and latency it prints the CPU time each server's processes spent per request, which stays comparable
when other work shares the machine.

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


WRK_SCRIPT = """
local f = io.open(os.getenv("BENCH_BODY")); wrk.body = f:read("*a"); f:close()
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
if os.getenv("BENCH_TOKEN") ~= "" then wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_TOKEN") end
"""


def _tree(pid: int) -> list[int]:
    """`pid` and every process below it."""
    found, todo = [], [pid]
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of `pid`'s process tree so far (what serving the load cost, whatever else runs)."""
    total = 0
    for member in _tree(pid):
        try:
            fields = open(f"/proc/{member}/stat").read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def _wrk_ms(text: str) -> float:
    for unit, factor in (("us", 0.001), ("ms", 1.0), ("s", 1000.0)):
        if text.endswith(unit):
            return float(text[: -len(unit)]) * factor
    return float(text)


def drive_wrk(port: int, path: str, token: str, payload: bytes, seconds: float, connections: int) -> dict:
    """The same load from wrk (C, one thread): it costs the machine less CPU than the Python client does."""
    with tempfile.TemporaryDirectory() as scratch:
        (Path(scratch) / "body.json").write_bytes(payload)
        (Path(scratch) / "post.lua").write_text(WRK_SCRIPT)
        out = subprocess.run(["wrk", "-t1", f"-c{connections}", f"-d{max(1, round(seconds))}s", "--latency",
                              "-s", str(Path(scratch) / "post.lua"), f"http://127.0.0.1:{port}{path}"],
                             env={**os.environ, "BENCH_BODY": str(Path(scratch) / "body.json"), "BENCH_TOKEN": token},
                             capture_output=True, text=True, check=True).stdout
    result = {"latencies": None, "errors": 0}
    for line in out.splitlines():
        words = line.split()
        if line.strip().startswith("50%"):
            result["p50"] = _wrk_ms(words[1])
        elif line.strip().startswith("99%"):
            result["p99"] = _wrk_ms(words[1])
        elif line.startswith("Requests/sec:"):
            result["rps"] = float(words[1])
        elif "requests in" in line:
            result["n"] = int(words[0])
            result["elapsed"] = _wrk_ms(words[3].rstrip(","))
        elif line.strip().startswith("Non-2xx") or line.strip().startswith("Socket errors"):
            result["errors"] += sum(int(w.rstrip(",")) for w in words if w.rstrip(",").isdigit())
    result["elapsed"] = result["elapsed"] / 1000
    return result


def drive(port: int, path: str, token: str, payload: bytes, seconds: float, connections: int,
          load: str = "python") -> dict:
    if load == "wrk":
        return drive_wrk(port, path, token, payload, seconds, connections)
    out = subprocess.run([sys.executable, "-c", LOAD_SCRIPT, "127.0.0.1", str(port), path, token, str(seconds),
                          str(connections)], input=payload, capture_output=True, check=True)
    return json.loads(out.stdout)


def summary(results: list[dict]) -> dict:
    elapsed = sum(r["elapsed"] for r in results)
    cpu = sum(r.get("cpu", 0.0) for r in results)
    if results and results[0]["latencies"] is None:  # wrk: its own percentiles, the rounds' median
        n = sum(r["n"] for r in results)
        middle = lambda key: sorted(r[key] for r in results)[len(results) // 2]  # noqa: E731
        return {"rps": n / elapsed, "p50": middle("p50"), "p99": middle("p99"), "n": n,
                "errors": sum(r["errors"] for r in results), "cpu_ms": cpu / max(1, n) * 1000}
    latencies = sorted(x for r in results for x in r["latencies"])
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * (len(latencies) - 1)))] * 1000  # noqa: E731
    return {"rps": len(latencies) / elapsed, "p50": pick(0.5), "p99": pick(0.99), "n": len(latencies),
            "errors": sum(r["errors"] for r in results), "cpu_ms": cpu / max(1, len(latencies)) * 1000}


def measured(pid: int, *args, **kwargs) -> dict:
    """One round of load, with the CPU time the server's processes spent on it."""
    before = cpu_seconds(pid)
    result = drive(*args, **kwargs)
    result["cpu"] = cpu_seconds(pid) - before
    return result


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=20.0, help="per round and server")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--connections", type=int, default=8)
    # Defaults: the setting docs/benchmarks.md recommends for serving on this 2-core machine.
    parser.add_argument("--web-workers", type=int, default=3, help="gunicorn workers (WEB_CONCURRENCY)")
    parser.add_argument("--model-workers", type=int, default=2, help="model processes of the served version")
    parser.add_argument("--web-threads", type=int, default=8, help="gunicorn threads per web worker (WEB_THREADS)")
    parser.add_argument("--load", choices=("python", "wrk"), default="wrk" if shutil.which("wrk") else "python",
                        help="the load generator: wrk (Debian's package) when installed, else a Python client")
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
        load = {"load": args.load}
        drive(port, ours_path, token, payload, 3, args.connections, **load)  # warm up both
        drive(ref_port, "/invocations", "", payload, 3, args.connections, **load)
        ours, theirs = [], []
        for _ in range(args.rounds):
            ours.append(measured(explorer.pid, port, ours_path, token, payload, args.seconds / args.rounds,
                                 args.connections, **load))
            theirs.append(measured(reference.pid, ref_port, "/invocations", "", payload, args.seconds / args.rounds,
                                   args.connections, **load))
        a, b = summary(ours), summary(theirs)
        print(f"{'':26}{'req/s':>10}{'p50 ms':>10}{'p99 ms':>10}{'CPU ms/req':>12}{'requests':>10}{'errors':>8}")
        for label, r in (("explorer (REST, token)", a), ("mlflow models serve", b)):
            print(f"{label:26}{r['rps']:10.1f}{r['p50']:10.2f}{r['p99']:10.2f}{r['cpu_ms']:12.2f}{r['n']:10d}"
                  f"{r['errors']:8d}")
        print(f"ratio explorer/mlflow: throughput {a['rps'] / b['rps']:.2f}x, p50 {a['p50'] / b['p50']:.2f}, "
              f"p99 {a['p99'] / b['p99']:.2f}, CPU per request {a['cpu_ms'] / b['cpu_ms']:.2f}  "
              f"({args.connections} keep-alive connections from {args.load}, {args.web_workers} web workers x "
              f"{args.web_threads} threads, {args.model_workers} model processes; mlflow models serve defaults)")
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
