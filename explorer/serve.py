"""`make run`: supervises the web server (gunicorn), a Celery worker, the Celery scheduler (the job sweeper) and the
serving supervisor (model processes of served models) as four child processes. A child that dies is restarted, with a growing delay when it keeps dying at once, and each
restart is logged; Ctrl-C or SIGTERM stops them all, leaving no process behind."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Callable

from registry.child_process import die_with_parent

log = logging.getLogger("explorer.serve")

FIRST_DELAY = 1.0  # seconds before restarting a child that died
MAX_DELAY = 30.0
STABLE_AFTER = 30.0  # a child that ran this long before dying is restarted after FIRST_DELAY again
STOP_TIMEOUT = 20.0  # seconds a child gets to stop cleanly (a Celery warm shutdown finishes its task)
POLL = 0.2


def next_delay(previous: float, lived: float) -> float:
    """How long to wait before restarting a child that died after `lived` seconds: at once-ish after a long,
    healthy run; doubling (up to MAX_DELAY) while it keeps dying soon after its start, so it does not spin."""
    if lived >= STABLE_AFTER or previous <= 0:
        return FIRST_DELAY
    return min(MAX_DELAY, previous * 2)


def _exit_status(code: int) -> str:
    if code >= 0:
        return f"exit code {code}"
    try:
        return f"signal {signal.Signals(-code).name}"
    except ValueError:
        return f"signal {-code}"


@dataclass
class Child:
    name: str
    argv: list[str]
    proc: subprocess.Popen | None = None
    started_at: float = 0.0
    delay: float = 0.0
    restart_at: float | None = None
    restarts: int = 0

    def start(self) -> None:
        # Its own process group: the launcher can then remove what a dead child leaves behind (gunicorn's
        # workers, Celery's pool processes) in one call, and a terminal's Ctrl-C reaches only the launcher,
        # which stops the children in order.
        self.proc = subprocess.Popen(self.argv, start_new_session=True, preexec_fn=die_with_parent(signal.SIGTERM))
        self.started_at = time.monotonic()
        self.restart_at = None
        log.info("started %s (pid %s)", self.name, self.proc.pid)

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill_leftovers(self) -> None:
        """SIGKILL whatever is left in the child's process group: a pool process of a killed Celery worker would
        otherwise go on copying (and renewing its job's lease) with nobody to report to."""
        if self.proc is None:
            return
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def died(self) -> None:
        lived = time.monotonic() - self.started_at
        how = _exit_status(self.proc.returncode)
        self.kill_leftovers()
        self.delay = next_delay(self.delay, lived)
        self.restart_at = time.monotonic() + self.delay
        self.restarts += 1
        log.warning("%s (pid %s) died (%s) after %.1fs; restart #%d in %.0fs", self.name, self.proc.pid, how, lived,
                    self.restarts, self.delay)

    def terminate(self) -> None:
        if self.running:
            self.proc.terminate()  # the leader only: gunicorn and Celery stop their own workers cleanly


def address() -> str:
    return f'{os.environ.get("HOST", "127.0.0.1")}:{os.environ.get("PORT", "8000")}'


def web_command(app: str = "explorer.wsgi:application", bind: str | None = None) -> list[str]:
    """gunicorn serving `app` as the web child does (bench/mlflow_workload.py runs its canned floor under it)."""
    return [os.path.join(os.path.dirname(sys.executable), "gunicorn"), app, "--bind", bind or address(),
            "--workers", os.environ.get("WEB_CONCURRENCY", "2"), "--threads", os.environ.get("WEB_THREADS", "1"),
            "--access-logfile", "-", "--timeout", "120"]


def children(var_dir: str) -> list[Child]:
    bindir = os.path.dirname(sys.executable)
    web = web_command()
    celery = [os.path.join(bindir, "celery"), "-A", "explorer"]
    worker = [*celery, "worker", "--loglevel", "INFO", "--concurrency", os.environ.get("WORKER_CONCURRENCY", "2")]
    # The scheduler is a child of its own (not `worker --beat`): if it dies, the launcher sees it and restarts it.
    scheduler = [*celery, "beat", "--loglevel", "INFO", "--schedule", os.path.join(var_dir, "celerybeat-schedule")]
    # The serving supervisor runs the model processes of served models (registry/serving/supervisor.py).
    serving = [sys.executable, "-m", "explorer.serve_models"]
    return [Child("web", web), Child("worker", worker), Child("scheduler", scheduler), Child("serving", serving)]


def stop_all(procs: list[Child], deadline: float) -> None:
    for child in procs:
        if child.proc is not None and not child.running and child.restart_at is None:
            child.kill_leftovers()  # died just now, before the supervision loop noticed
    # A child waiting to be restarted has had its leftovers removed already (and its old group id may be reused).
    running = [child for child in procs if child.running]
    for child in running:
        child.terminate()
    for child in running:
        try:
            child.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.warning("%s (pid %s) did not stop in time; killing it", child.name, child.proc.pid)
            child.proc.kill()
            child.proc.wait()
        child.kill_leftovers()


def supervise(procs: list[Child], stopping: Callable[[], bool]) -> None:
    """Start the children and keep them running until `stopping()`; then stop them all."""
    for child in procs:
        child.start()
    try:
        while not stopping():
            now = time.monotonic()
            for child in procs:
                if child.restart_at is not None:
                    if now >= child.restart_at:
                        child.start()
                elif not child.running:
                    child.died()
            time.sleep(POLL)
    finally:
        log.info("stopping")
        stop_all(procs, time.monotonic() + STOP_TIMEOUT)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s [serve] %(message)s", stream=sys.stdout)
    var_dir = os.environ.get("VAR_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), "var"))
    procs = children(var_dir)
    signals: list[int] = []

    def stop(signum, _frame):
        if signals:  # a second Ctrl-C: do not wait for running tasks to finish
            for child in procs:
                if child.running:
                    child.proc.kill()
        signals.append(signum)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    log.info("Catalog Explorer on http://%s/; Ctrl-C stops it", address())
    supervise(procs, lambda: bool(signals))
    return 0


if __name__ == "__main__":
    sys.exit(main())
