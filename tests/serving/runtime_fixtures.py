"""What the serving-runtime tests share: models saved in MLflow's format (an sklearn classifier, and a pyfunc
model that sleeps as long as it is asked, for timeouts and draining), their files placed in the registry's storage
as a version's, a served model for them, and a serving supervisor process (`python -m explorer.serve_models`) on
the test database."""
from __future__ import annotations

import importlib.metadata
import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

from registry import storage
from registry.models import ModelVersion, RegisteredModel, ServedModel, ServingDeployment
from registry.serving.reconcile import reconcile_all
from tests.conftest import ROOT, wait_for

SLOW_MODEL_CODE = Path(__file__).with_name("slow_model.py")


def pinned_requirements() -> list[str]:
    """What the installed environment satisfies, written explicitly: the mlflow client's inference of
    requirements takes a subprocess and many seconds per model."""
    pins = [f"mlflow=={importlib.metadata.version('mlflow-skinny')}"]
    for name in ("pandas", "scikit-learn", "skops"):
        pins.append(f"{name}=={importlib.metadata.version(name)}")
    return pins


def save_sklearn_model(path: Path):
    import mlflow.sklearn
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(as_frame=True, return_X_y=True)
    model = LogisticRegression(max_iter=300).fit(X, y)
    mlflow.sklearn.save_model(model, str(path), input_example=X.iloc[:3], pip_requirements=pinned_requirements())
    return model, X


def save_slow_model(path: Path) -> None:
    """A model from code (the file is copied into the model): predicts 2 * `seconds` after sleeping `seconds`."""
    import mlflow.pyfunc
    import pandas as pd

    mlflow.pyfunc.save_model(str(path), python_model=str(SLOW_MODEL_CODE),
                             input_example=pd.DataFrame({"seconds": [0.0]}), pip_requirements=pinned_requirements())


def store_files(model_dir: Path) -> str:
    """Put a saved model's files in the registry's storage, as a run's would be; returns the storage location."""
    prefix = f"serving-tests/{uuid.uuid4().hex}/model"
    for path in sorted(model_dir.rglob("*")):
        if path.is_file():
            with open(path, "rb") as stream:
                storage.save_stream(f"{prefix}/{path.relative_to(model_dir).as_posix()}", stream)
    return f"mlflow-artifacts:/{prefix}"


def serve(model_dir: Path, *, workers: int = 1, memory_limit_mb: int = 2048, name: str | None = None) -> ServedModel:
    """A workspace model with one READY version holding `model_dir`'s files, served (enabled) and reconciled."""
    model = RegisteredModel.objects.create(name=name or f"serving-test-{uuid.uuid4().hex[:8]}")
    location = store_files(model_dir)
    model.last_version_number = 1
    model.save()
    ModelVersion.objects.create(model=model, version=1, source=location, storage_location=location)
    served = ServedModel.objects.create(model=model, enabled=True, workers=workers, memory_limit_mb=memory_limit_mb)
    reconcile_all()
    return served


def deployment_of(served: ServedModel, version: int = 1) -> ServingDeployment:
    return ServingDeployment.objects.filter(served_model=served, version__version=version).latest("pk")


def wait_deployment(served: ServedModel, *states: str, timeout: float = 120.0) -> ServingDeployment:
    def reached():
        deployment = deployment_of(served)
        return deployment if deployment.state in states else None

    return wait_for(reached, timeout=timeout, interval=0.25,
                    message=f"deployment of {served.model.name} to reach {'/'.join(states)}")


class SupervisorProcess:
    """`python -m explorer.serve_models` on the test database, its output in a log file."""

    def __init__(self, env: dict, log_path: Path):
        self.log_path = log_path
        with open(log_path, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "explorer.serve_models"], cwd=ROOT, env=env,
                                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def model_processes(self, deployment_id: int | None = None) -> list[int]:
        """Pids of this supervisor's model processes (of one deployment, if given), from /proc."""
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as stat:
                    parent = int(stat.read().rsplit(")", 1)[1].split()[1])
                with open(f"/proc/{entry}/cmdline", "rb") as cmdline:
                    argv = cmdline.read().decode(errors="replace").split("\0")
            except (OSError, ValueError, IndexError):
                continue
            if parent != self.pid or not any(arg.endswith("model_process.py") for arg in argv):
                continue
            if deployment_id is None or argv[argv.index("--deployment") + 1] == str(deployment_id):
                pids.append(int(entry))
        return pids

    def stop(self, timeout: float = 60.0) -> int | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        return self.proc.returncode

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
