"""`make run`: the web server (gunicorn) and a Celery worker (with its scheduler for the job sweeper) as
two child processes; Ctrl-C or a crash of either stops both."""
import os
import signal
import subprocess
import sys
import time


def main() -> int:
    python = sys.executable
    bindir = os.path.dirname(python)
    port = os.environ.get("PORT", "8000")
    host = os.environ.get("HOST", "127.0.0.1")
    workers = os.environ.get("WEB_CONCURRENCY", "2")
    var_dir = os.environ.get("VAR_DIR", os.path.join(os.path.dirname(os.path.dirname(__file__)), "var"))
    web = [os.path.join(bindir, "gunicorn"), "explorer.wsgi:application", "--bind", f"{host}:{port}",
           "--workers", workers, "--access-logfile", "-", "--timeout", "120"]
    worker = [os.path.join(bindir, "celery"), "-A", "explorer", "worker", "--beat", "--loglevel", "INFO",
              "--concurrency", os.environ.get("WORKER_CONCURRENCY", "2"),
              "--schedule", os.path.join(var_dir, "celerybeat-schedule")]
    procs = [subprocess.Popen(web), subprocess.Popen(worker)]
    print(f"Catalog Explorer on http://{host}:{port}/ (web pid {procs[0].pid}, worker pid {procs[1].pid}); Ctrl-C stops both.",
          flush=True)

    def stop(*_):
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    try:
        while all(proc.poll() is None for proc in procs):
            time.sleep(0.5)
    finally:
        stop()
        deadline = time.time() + 20
        for proc in procs:
            try:
                proc.wait(timeout=max(0.1, deadline - time.time()))
            except subprocess.TimeoutExpired:
                proc.kill()
    return max((proc.returncode or 0) for proc in procs if proc.returncode and proc.returncode > 0) if any(
        proc.returncode and proc.returncode > 0 for proc in procs) else 0


if __name__ == "__main__":
    sys.exit(main())
