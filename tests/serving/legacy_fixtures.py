"""What the legacy-serving tests share: an sklearn model saved in MLflow's format, and a real MLflow scoring
server (uvicorn, `mlflow.pyfunc.scoring_server.app`) serving it, standing in for a supervisor's pool in the
API tests (the end-to-end test runs the real supervisor)."""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression


def train_iris(C: float = 1.0):
    X, y = load_iris(as_frame=True, return_X_y=True)
    return LogisticRegression(max_iter=300, C=C).fit(X, y), X


def save_iris(path: Path, C: float = 1.0):
    import mlflow

    model, X = train_iris(C)
    mlflow.sklearn.save_model(model, str(path), input_example=X.iloc[:3])
    return model, X


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class ScoringServer:
    """MLflow's own scoring server for one saved model, on a loopback port."""

    def __init__(self, model_path: Path, log_path: Path):
        self.port = free_port()
        self.address = f"http://127.0.0.1:{self.port}"
        env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "SECRET_KEY")}
        env["__pyfunc_model_path__"] = str(model_path)  # mlflow.pyfunc.scoring_server._SERVER_MODEL_PATH
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--host", "127.0.0.1", "--port", str(self.port),
             "mlflow.pyfunc.scoring_server.app:app"], env=env, stdout=self.log, stderr=subprocess.STDOUT,
            start_new_session=True)

    def wait_ready(self, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"scoring server exited with {self.proc.returncode}")
            try:
                with urllib.request.urlopen(f"{self.address}/ping", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("scoring server did not become ready")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.address}/ping", timeout=5) as r:
                return r.status == 200
        except OSError:
            return False

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()

