"""The model processes of one deployment on this machine: started with a clean environment, one shared listening
socket (the deployment's address), a health socket each, output appended to the deployment's log; liveness,
health and memory (resident set size from /proc) read per process. Decisions (restart, fail, drain) are the
supervisor's; this module only does what it is told and reports what it sees."""
from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

from registry.child_process import die_with_parent

MODEL_PROCESS = Path(__file__).with_name("model_process.py")
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
HEALTH_TIMEOUT = 1.0  # seconds; /ping is answered by the event loop even while a prediction runs in a thread


def clean_environment(*, home: Path, request_timeout: int, graceful_seconds: int,
                      python: str = sys.executable, batching: str = "auto") -> dict[str, str]:
    """The whole environment of a model process: nothing inherited from the supervisor (which holds the database
    URL, the secret key and whatever else the operator exported)."""
    bindir = os.path.dirname(python)
    return {
        "PATH": f"{bindir}:/usr/local/bin:/usr/bin:/bin",
        "HOME": str(home),
        "TMPDIR": str(home),
        "LANG": "C.UTF-8",
        "MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT": str(request_timeout),
        "SERVING_GRACEFUL_SECONDS": str(graceful_seconds),
        "SERVING_BATCHING": batching,  # scoring_app.py: auto (row-wise flavors), on, off
    }


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"


@dataclass
class ModelProcess:
    slot: int
    proc: subprocess.Popen
    health_port: int
    started_at: float = field(default_factory=time.monotonic)
    healthy: bool = False  # answered /ping at least once since it started
    failed_checks: int = 0  # consecutive failed health checks after it was healthy

    @property
    def pid(self) -> int:
        return self.proc.pid


class ModelPool:
    def __init__(self, *, deployment_id: int, model_dir: Path, workers: int, workdir: Path, log_path: Path,
                 host: str, request_timeout: int, graceful_seconds: int, python: str = sys.executable):
        self.deployment_id = deployment_id
        self.model_dir, self.workers, self.workdir, self.log_path = model_dir, workers, workdir, log_path
        self.host = host
        self.python = python  # this deployment's own interpreter, or a virtual environment's (environments.py)
        self.env = clean_environment(home=workdir, request_timeout=request_timeout, graceful_seconds=graceful_seconds,
                                     python=python, batching=settings.SERVING_BATCHING)
        self.listener = socket.create_server((host, 0), backlog=1024)
        self.address = f"http://{host}:{self.listener.getsockname()[1]}"
        self.processes: dict[int, ModelProcess] = {}

    def start(self) -> None:
        for slot in range(self.workers):
            self.spawn(slot)

    def spawn(self, slot: int) -> ModelProcess:
        # The health socket is bound here (no port race) and only the child keeps it: once the child is gone, the
        # port refuses connections.
        health = socket.create_server(("127.0.0.1", 0), backlog=16)
        try:
            with open(self.log_path, "ab") as log:
                proc = subprocess.Popen(
                    [self.python, "-I", "-u", str(MODEL_PROCESS), "--model-path", str(self.model_dir),
                     "--listen-fd", str(self.listener.fileno()), "--health-fd", str(health.fileno()),
                     "--deployment", str(self.deployment_id)],
                    cwd=self.workdir, env=self.env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    pass_fds=(self.listener.fileno(), health.fileno()), start_new_session=True,
                    preexec_fn=die_with_parent(signal.SIGKILL),
                )
            process = ModelProcess(slot, proc, health.getsockname()[1])
        finally:
            health.close()
        self.processes[slot] = process
        return process

    def exited(self) -> list[tuple[ModelProcess, int]]:
        """Processes that have exited since the last call, with their return codes (they leave the pool)."""
        gone = []
        for slot, process in list(self.processes.items()):
            code = process.proc.poll()
            if code is not None:
                del self.processes[slot]
                gone.append((process, code))
        return gone


    @property
    def all_healthy(self) -> bool:
        return len(self.processes) == self.workers and all(p.healthy for p in self.processes.values())

    def rss_bytes(self) -> int:
        """Resident memory of every process of the pool and of anything they started."""
        return sum(_tree_rss(p.pid) for p in self.processes.values())

    def terminate(self) -> None:
        """Drain: uvicorn stops accepting, finishes the requests in flight, then exits. The supervisor's copy of the
        listening socket is closed too, so once the processes are gone new connections are refused, not queued."""
        self.listener.close()
        for process in self.processes.values():
            _signal(process.proc, signal.SIGTERM)

    def kill(self, process: ModelProcess | None = None) -> None:
        targets = [process] if process else list(self.processes.values())
        for target in targets:
            try:
                os.killpg(target.pid, signal.SIGKILL)  # its own session: takes whatever it started with it
            except (ProcessLookupError, PermissionError):
                pass
        if process is None:
            for target in targets:
                target.proc.wait()
            self.processes.clear()
            self.listener.close()

    @property
    def empty(self) -> bool:
        for slot, process in list(self.processes.items()):
            if process.proc.poll() is not None:
                del self.processes[slot]
        return not self.processes


def check_pools(pools: list[ModelPool]) -> None:
    """Ping every process of `pools` concurrently; marks each healthy, or counts a failed check."""
    processes = [process for pool in pools for process in list(pool.processes.values())]
    if not processes:
        return
    with ThreadPoolExecutor(max_workers=min(32, len(processes))) as executor:
        answers = list(executor.map(lambda process: _ping(process.health_port), processes))
    for process, answered in zip(processes, answers):
        if answered:
            process.healthy, process.failed_checks = True, 0
        elif process.healthy:
            process.failed_checks += 1


def _signal(proc: subprocess.Popen, sig: int) -> None:
    if proc.poll() is None:
        try:
            proc.send_signal(sig)
        except ProcessLookupError:
            pass


def _ping(port: int) -> bool:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=HEALTH_TIMEOUT)
    try:
        conn.request("GET", "/ping")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def _tree_rss(pid: int) -> int:
    total, pending, seen = 0, [pid], set()
    while pending:
        current = pending.pop()
        if current in seen:
            continue
        seen.add(current)
        try:
            with open(f"/proc/{current}/statm") as statm:
                total += int(statm.read().split()[1]) * PAGE_SIZE
            with open(f"/proc/{current}/task/{current}/children") as children:
                pending.extend(int(child) for child in children.read().split())
        except (OSError, ValueError, IndexError):
            continue  # exited meanwhile, or the kernel does not list children: count what we could read
    return total
