"""SERVING_ENV_MANAGER=virtualenv: a supervisor process builds one virtual environment per requirements set with
real pip from the package index, serves a real sklearn model from it, reuses it for a second version with the same
set, and fails a version whose requirements cannot be installed with pip's message while the other answers (and
builds it again only when asked again). Also the requirements set's hash, the interpreter lookup and concurrent
builds of one set.

Builds take tens of seconds (pip installs mlflow, pandas and scikit-learn into the environment): one environment
is built for the module and the later tests reuse it."""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from django.db.models import F

from registry.models import ServedModel, ServingDeployment, ServingEvent
from registry.serving import client, environments
from registry.serving.model_files import DeployError
from registry.serving.reconcile import reconcile_all
from tests.conftest import ROOT, wait_for
from tests.serving.runtime_fixtures import (SupervisorProcess, deployment_of, save_sklearn_model, serve,
                                            wait_deployment)

State = ServingDeployment.State
Kind = ServingEvent.Kind
BUILD_TIMEOUT = 600  # a cold pip cache downloads mlflow, pandas, scikit-learn and their dependencies


# ---- the requirements set and the interpreter (no database) -----------------------------------------------------

def test_the_key_ignores_order_spelling_and_spacing_of_requirements():
    key = environments.environment_key("3.11.7", ["pip==24.0"], ["scikit-learn==1.5.0", "pandas>=2,<3"])
    assert key == environments.environment_key("3.11.7", ["pip == 24.0"], ["Pandas <3 ,>=2", "Scikit_Learn==1.5.0"])
    assert key == environments.environment_key("3.11.7", ["pip==24.0"], ["pandas<3,>=2", "scikit-learn==1.5.0",
                                                                          "scikit-learn==1.5.0"])
    assert key != environments.environment_key("3.11.7", ["pip==24.0"], ["scikit-learn==1.5.1", "pandas>=2,<3"])
    assert key != environments.environment_key("3.12.1", ["pip==24.0"], ["scikit-learn==1.5.0", "pandas>=2,<3"])
    assert key != environments.environment_key("3.11.7", [], ["scikit-learn==1.5.0", "pandas>=2,<3"])


def test_the_model_process_gets_mlflow_at_the_models_version_or_the_deployments_and_uvicorn():
    own = environments.installed_version("mlflow")
    assert environments.with_model_process_needs(["mlflow==2.9.0", "scikit-learn"]) == [
        "mlflow==2.9.0", "scikit-learn", "uvicorn"]
    assert environments.with_model_process_needs(["MLflow", "uvicorn<0.30"]) == [f"mlflow=={own}", "uvicorn<0.30"]
    assert environments.with_model_process_needs(["mlflow-skinny>=3"]) == ["mlflow-skinny>=3", "uvicorn"]
    assert environments.with_model_process_needs(["pandas"]) == ["pandas", f"mlflow=={own}", "uvicorn"]


def _model_dir(path: Path, *, python_env: str, requirements: str, extra: dict | None = None) -> Path:
    path.mkdir(parents=True)
    (path / "MLmodel").write_text("flavors:\n  python_function:\n    env:\n      conda: conda.yaml\n"
                                  "      virtualenv: python_env.yaml\n    loader_module: mlflow.sklearn\n")
    (path / "python_env.yaml").write_text(python_env)
    (path / "requirements.txt").write_text(requirements)
    for name, text in (extra or {}).items():
        (path / name).write_text(text)
    return path


def test_the_spec_reads_python_env_yaml_and_the_requirements_files_it_names(tmp_path):
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    model = _model_dir(tmp_path / "m", python_env=f"python: {here}.0\nbuild_dependencies:\n- pip\n"
                                                  "dependencies:\n- -r requirements.txt\n",
                       requirements="# inferred\nmlflow==3.1.0\nScikit-Learn == 1.5.0  # pinned\n-c constraints.txt\n"
                                    "-r more.txt\n",
                       extra={"constraints.txt": "numpy<3\n", "more.txt": "pandas\n"})
    spec = environments.environment_spec(model)
    assert spec.python_version == here
    assert spec.interpreter_version.startswith(f"{here}.")
    assert spec.build_dependencies == ("pip",)
    assert spec.requirements == ("mlflow==3.1.0", "pandas", "scikit-learn==1.5.0", "uvicorn")
    assert spec.constraints == ("numpy<3",)


def test_a_requirements_file_outside_the_model_is_refused(tmp_path):
    model = _model_dir(tmp_path / "m", python_env="python: 3.11\ndependencies:\n- -r ../outside.txt\n",
                       requirements="")
    (tmp_path / "outside.txt").write_text("pandas\n")
    with pytest.raises(DeployError, match="outside the model's files"):
        environments.environment_spec(model)


def test_this_interpreter_serves_its_own_python_version():
    here = f"{sys.version_info[0]}.{sys.version_info[1]}"
    path, version = environments.find_interpreter(here, search_path="", pyenv_roots=[])
    assert Path(path).resolve() == Path(sys._base_executable).resolve()
    assert version == "%d.%d.%d" % sys.version_info[:3]


def _fake_python(path: Path, version: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"#!/bin/sh\necho {version}\n")
    path.chmod(0o755)
    return path


def test_other_python_versions_are_found_on_path_or_in_pyenv_and_a_missing_one_is_named(tmp_path):
    pyenv = tmp_path / "pyenv"
    _fake_python(pyenv / "versions" / "3.97.2" / "bin" / "python3.97", "3.97.2")
    newest = _fake_python(pyenv / "versions" / "3.97.10" / "bin" / "python3.97", "3.97.10")
    _fake_python(pyenv / "versions" / "3.98.0" / "bin" / "python3.98", "3.96.0")  # lies: not taken
    on_path = _fake_python(tmp_path / "bin" / "python3.96", "3.96.4")
    assert environments.find_interpreter("3.97", search_path="", pyenv_roots=[pyenv]) == (str(newest), "3.97.10")
    assert environments.find_interpreter("3.96", search_path=str(tmp_path / "bin"), pyenv_roots=[pyenv]) == (
        str(on_path), "3.96.4")
    with pytest.raises(DeployError, match=r"Python 3\.98, which the model's python_env.yaml asks for, is not"):
        environments.find_interpreter("3.98", search_path=str(tmp_path / "bin"), pyenv_roots=[pyenv])


def test_a_bad_env_manager_fails_at_start_with_a_clear_message():
    result = subprocess.run([sys.executable, "-c", "import django; django.setup()"], cwd=ROOT, capture_output=True,
                            text=True, env={**os.environ, "DJANGO_SETTINGS_MODULE": "explorer.settings",
                                            "SERVING_ENV_MANAGER": "conda"})
    assert result.returncode != 0
    assert "SERVING_ENV_MANAGER must be one of local, virtualenv, got 'conda'" in result.stderr


def _small_spec(*requirements: str) -> environments.EnvironmentSpec:
    path, version = environments.find_interpreter(f"{sys.version_info[0]}.{sys.version_info[1]}")
    return environments.EnvironmentSpec(f"{sys.version_info[0]}.{sys.version_info[1]}", path, version, (),
                                        tuple(requirements))


@pytest.mark.slow
def test_two_builders_of_one_set_make_one_environment_and_a_half_built_one_is_never_used(tmp_path):
    spec = _small_spec("six")
    root = tmp_path / "envs"
    stale = root / "store" / f"{spec.key}-deadbeef"  # what a build killed midway leaves
    (stale / "bin").mkdir(parents=True)
    (stale / "bin" / "python").symlink_to(sys.executable)
    assert environments.ready_python(root, spec) is None
    results = []
    threads = [threading.Thread(target=lambda: results.append(environments.build(root, spec))) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=BUILD_TIMEOUT)
    assert sorted(results) == [False, True]
    assert [p.name for p in (root / "store").iterdir()] == [os.readlink(root / spec.key).split("/")[-1]]
    python = environments.ready_python(root, spec)
    assert python == root / spec.key / "bin" / "python"
    assert subprocess.run([str(python), "-I", "-c", "import six"]).returncode == 0


@pytest.mark.slow
def test_a_failed_build_says_what_pip_said_and_leaves_nothing(tmp_path):
    spec = _small_spec("six==0.0.1")
    with pytest.raises(environments.BuildError, match=r"No matching distribution found for six==0\.0\.1"):
        environments.build(tmp_path, spec)
    assert environments.ready_python(tmp_path, spec) is None
    assert list((tmp_path / "store").iterdir()) == []


# ---- a supervisor in virtualenv mode --------------------------------------------------------------------------

@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    base = tmp_path_factory.mktemp("serving-virtualenv")
    model, X = save_sklearn_model(base / "iris")
    yield SimpleNamespace(base=base, model=model, X=X, iris=base / "iris", envs=base / "envs")
    shutil.rmtree(base / "envs", ignore_errors=True)  # about 700 MB; pytest keeps the last runs' directories


@pytest.fixture(scope="module")
def supervisor(worker_env, saved):
    env = {**worker_env, "SERVING_LEASE_SECONDS": "5", "SERVING_STARTUP_SECONDS": "240",
           "SERVING_ENV_MANAGER": "virtualenv", "SERVING_ENV_ROOT": str(saved.envs)}
    process = SupervisorProcess(env, saved.base / "supervisor.log")
    yield process
    process.stop()


def _predictions(deployment, X) -> list:
    result = client.invoke(deployment, json.dumps({"dataframe_split": X.to_dict(orient="split")}).encode(),
                           "application/json", timeout=30)
    assert result.status == 200, result.body
    return json.loads(result.body)["predictions"]


def _interpreters(supervisor, deployment) -> list[str]:
    paths = []
    for pid in supervisor.model_processes(deployment.pk):
        with open(f"/proc/{pid}/cmdline", "rb") as cmdline:
            paths.append(cmdline.read().split(b"\0")[0].decode())
    return paths


def _ready(supervisor, served, timeout: float) -> ServingDeployment:
    deployment = wait_deployment(served, State.READY, State.FAILED, timeout=timeout)
    assert deployment.state == State.READY, deployment.message + supervisor.log_text()[-3000:]
    return deployment


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_version_is_served_from_an_environment_built_for_it_and_a_second_reuses_it(supervisor, saved):
    started = time.monotonic()
    served = serve(saved.iris)
    building = wait_for(lambda: (d := deployment_of(served)).message.startswith("Building the environment") and d,
                        timeout=60, message="the build to start")
    assert building.state == State.PENDING and "scikit-learn==" in building.message
    # The supervisor's loop goes on while pip runs: it keeps renewing the lease (5 s) of the deployment it builds.
    first_lease = building.lease_expires_at
    wait_for(lambda: (d := deployment_of(served)).state != State.PENDING or d.lease_expires_at > first_lease,
             timeout=10, message="a lease renewal during the build")
    deployment = _ready(supervisor, served, BUILD_TIMEOUT)
    elapsed = time.monotonic() - started
    (key,) = [p.name for p in saved.envs.iterdir() if p.is_symlink()]
    built = json.loads((saved.envs / key / "environment.json").read_text())
    print(f"\nvirtualenv build: {built['seconds']} s (pip), first version READY after {elapsed:.0f} s")

    assert _predictions(deployment, saved.X) == saved.model.predict(saved.X).tolist()
    interpreters = _interpreters(supervisor, deployment)
    assert interpreters and all(path == str(saved.envs / key / "bin" / "python") for path in interpreters)
    (pid,) = supervisor.model_processes(deployment.pk)
    with open(f"/proc/{pid}/maps") as maps:  # scikit-learn's compiled modules are the environment's own
        loaded = [line.split()[-1] for line in maps if "sklearn" in line and ".so" in line]
    assert loaded and all(path.startswith(str((saved.envs / key).resolve()) + "/") for path in loaded)
    deployed = ServingEvent.objects.get(served_model=served, kind=Kind.VERSION_DEPLOYED)
    assert f"in the virtual environment {key}, built in" in deployed.message

    marker = (saved.envs / key / "environment.json").stat().st_mtime_ns
    second = serve(saved.iris)
    deployment = _ready(supervisor, second, 120)
    assert _predictions(deployment, saved.X.iloc[:5]) == saved.model.predict(saved.X.iloc[:5]).tolist()
    assert _interpreters(supervisor, deployment) == [str(saved.envs / key / "bin" / "python")]
    assert (saved.envs / key / "environment.json").stat().st_mtime_ns == marker
    assert len(list((saved.envs / "store").iterdir())) == 1
    assert "already built" in ServingEvent.objects.get(served_model=second, kind=Kind.VERSION_DEPLOYED).message


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_a_version_whose_requirements_cannot_be_installed_fails_with_pips_message(supervisor, saved, tmp_path):
    good = serve(saved.iris)
    answering = _ready(supervisor, good, BUILD_TIMEOUT)
    broken = tmp_path / "broken"
    shutil.copytree(saved.iris, broken)
    requirements = broken / "requirements.txt"
    requirements.write_text(re.sub(r"scikit-learn==\S+", "scikit-learn==0.0.1", requirements.read_text()))
    bad = serve(broken)
    while deployment_of(bad).state == State.PENDING:
        assert _predictions(answering, saved.X.iloc[:3]) == saved.model.predict(saved.X.iloc[:3]).tolist()
        time.sleep(0.5)
    failed = deployment_of(bad)
    assert failed.state == State.FAILED
    assert "its virtual environment could not be built (pip install failed)" in failed.message
    assert "scikit-learn==0.0.1" in failed.message
    assert ServingEvent.objects.get(served_model=bad, kind=Kind.DEPLOY_FAILED).message == failed.message
    assert _predictions(answering, saved.X.iloc[:3]) == saved.model.predict(saved.X.iloc[:3]).tolist()
    # Not retried: the failed set's build log is not written again.
    (log,) = [p for p in saved.envs.glob("*.log") if "0.0.1" in p.read_text()]
    written = log.stat().st_mtime_ns
    time.sleep(5)
    assert log.stat().st_mtime_ns == written and deployment_of(bad).state == State.FAILED
    assert not list(saved.envs.glob(f"{log.stem}"))  # never linked
    # Asked again (what Enable serving or saving the settings does: a new generation): built again, failed again.
    ServedModel.objects.filter(pk=bad.pk).update(generation=F("generation") + 1)
    reconcile_all()
    again = wait_deployment(bad, State.FAILED, timeout=BUILD_TIMEOUT)
    assert again.pk != failed.pk and "scikit-learn==0.0.1" in again.message
    assert log.stat().st_mtime_ns > written
