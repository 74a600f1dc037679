"""Virtual environments for served versions (SERVING_ENV_MANAGER=virtualenv): one per distinct requirements set,
built with pip from the package index and cached by the set's hash under one root, as `mlflow models serve
--env-manager virtualenv` does.

A version's set is its python_env.yaml (the Python version and build dependencies) plus its requirements.txt,
plus what the model process itself needs (MLflow's scoring server and uvicorn). Layout under the root:
`<key>` is a symlink to `store/<key>-<random>`, the environment itself; it is created (atomically, by rename)
only once the environment is complete, so a build cut short is never used, and the symlink keeps the
environment at the path pip built it at (its scripts name that path). `<key>.lock` serialises builders of one
key across threads and processes; `<key>.log` is the last build's pip output."""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import fcntl
import yaml
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from registry.child_process import die_with_parent
from registry.serving.model_files import DeployError, installed_version, tail

log = logging.getLogger(__name__)

BUILD_TIMEOUT_SECONDS = 1800
PIP_INSTALL = ("-m", "pip", "install", "--prefer-binary", "--no-compile", "--disable-pip-version-check")
# What pip may see of the supervisor's environment: its own configuration, the proxy and the certificates. Not the
# database URL, the secret key or the broker: a source distribution's build runs its setup code.
PASSED_TO_PIP = re.compile(r"(PIP_.*|(HTTPS?|NO|ALL)_PROXY|SSL_CERT_(FILE|DIR)|REQUESTS_CA_BUNDLE|XDG_.*|NETRC)",
                           re.IGNORECASE)
MODEL_PROCESS_NEEDS = ("mlflow", "uvicorn")  # MLflow's scoring server, and the server model_process.py runs it in


# ---- the requirements set ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class EnvironmentSpec:
    python_version: str  # major.minor, as python_env.yaml asks
    interpreter: str  # the base interpreter found for it
    interpreter_version: str  # its full version: part of the key
    build_dependencies: tuple[str, ...]
    requirements: tuple[str, ...]
    constraints: tuple[str, ...] = ()

    @property
    def key(self) -> str:
        return environment_key(self.interpreter_version, self.build_dependencies, self.requirements, self.constraints)


def environment_key(python: str, build_dependencies, requirements, constraints=()) -> str:
    """The hash of a requirements set: the same whatever the order, spelling of names or spacing of its lines."""
    document = {"python": python, "build": _normalised(build_dependencies), "requirements": _normalised(requirements),
                "constraints": _normalised(constraints)}
    return hashlib.sha256(json.dumps(document, sort_keys=True).encode()).hexdigest()[:24]


def normalise_requirement(line: str) -> str:
    """`Scikit_Learn >=1.0, <2` -> `scikit-learn<2,>=1.0`; a line that is not a requirement (a pip option, a URL)
    only loses its extra spaces."""
    try:
        requirement = Requirement(line)
    except InvalidRequirement:
        return " ".join(line.split())
    requirement.name = canonicalize_name(requirement.name)
    return str(requirement)


def _normalised(lines) -> list[str]:
    return sorted({normalise_requirement(line) for line in lines if line.strip()})


def environment_spec(model_dir: Path) -> EnvironmentSpec:
    """The requirements set of the version in `model_dir`. Raises DeployError when it cannot be served this way
    (no interpreter for its Python version, a requirements file outside the model)."""
    python_env = _python_env(model_dir)
    version = str(python_env.get("python") or "")
    major_minor = ".".join(version.split(".")[:2]) or f"{sys.version_info[0]}.{sys.version_info[1]}"
    interpreter, interpreter_version = find_interpreter(major_minor)
    requirements, constraints = [], []
    for line in python_env.get("dependencies") or ["-r requirements.txt"]:
        _read_line(str(line), model_dir, requirements, constraints)
    build = tuple(str(item) for item in python_env.get("build_dependencies") or ())
    return EnvironmentSpec(major_minor, interpreter, interpreter_version, tuple(_normalised(build)),
                           tuple(_normalised(with_model_process_needs(requirements))), tuple(_normalised(constraints)))


def with_model_process_needs(requirements: list[str]) -> list[str]:
    """The model's requirements plus what model_process.py imports: mlflow at the version the model was logged
    with, or this deployment's own version when the model does not pin it; uvicorn as mlflow allows."""
    mlflow_version = installed_version("mlflow")
    result, present = [], set()
    for line in requirements:
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            result.append(line)
            continue
        name = requirement.name = canonicalize_name(requirement.name)
        present.add("mlflow" if name == "mlflow-skinny" else name)
        if name in ("mlflow", "mlflow-skinny") and not requirement.specifier and not requirement.url and mlflow_version:
            requirement.specifier = requirement.specifier & f"=={mlflow_version}"
        result.append(str(requirement))
    for name in MODEL_PROCESS_NEEDS:
        if name not in present:
            result.append(f"{name}=={mlflow_version}" if name == "mlflow" and mlflow_version else name)
    return result


def _python_env(model_dir: Path) -> dict:
    """python_env.yaml (named by the MLmodel's pyfunc flavour, as MLflow reads it); without one, the Python version
    of conda.yaml and requirements.txt, as MLflow falls back for models logged before it wrote python_env.yaml."""
    mlmodel = _yaml(model_dir / "MLmodel")
    env = ((mlmodel.get("flavors") or {}).get("python_function") or {}).get("env") or {}
    names = env if isinstance(env, dict) else {"conda": env}
    python_env = _yaml(_inside(model_dir, names.get("virtualenv") or "python_env.yaml"))
    if python_env:
        return python_env
    conda = _yaml(_inside(model_dir, names.get("conda") or "conda.yaml"))
    for item in conda.get("dependencies") or ():
        if isinstance(item, str) and re.match(r"python\s*[=<>]", item):
            return {"python": re.split(r"[=<>]+", item, maxsplit=1)[1].strip()}
    return {}


def _yaml(path: Path) -> dict:
    try:
        document = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        return {}
    except (OSError, yaml.YAMLError) as error:
        raise DeployError(f"{path.name} of the model cannot be read: {error}") from None
    return document if isinstance(document, dict) else {}


def _inside(model_dir: Path, name: str) -> Path:
    path = (model_dir / name).resolve()
    if not path.is_relative_to(model_dir.resolve()):
        raise DeployError(f"The model's environment refers to {name}, which is outside the model's files.")
    return path


def _read_line(line: str, base: Path, requirements: list[str], constraints: list[str], depth: int = 0) -> None:
    """One line of python_env.yaml's dependencies or of a requirements file: `-r file` and `-c file` are read
    (confined to the model's files), other pip options are kept as they are."""
    line = line.split(" #", 1)[0].strip()
    if not line or line.startswith("#"):
        return
    match = re.match(r"(-r|--requirement|-c|--constraint)[\s=]+(\S+)$", line)
    if not match:
        requirements.append(line)
        return
    if depth > 10:
        raise DeployError("The model's requirements files include each other too deeply.")
    path = _inside(base, match.group(2))
    try:
        text = path.read_text(errors="replace")
    except OSError:
        raise DeployError(f"The model's environment refers to {match.group(2)}, which is not in its files.") from None
    target = constraints if match.group(1) in ("-c", "--constraint") else requirements
    for entry in text.replace("\\\n", " ").splitlines():
        _read_line(entry, base, target, constraints, depth + 1)


# ---- the interpreter ------------------------------------------------------------------------------------------

def find_interpreter(version: str, *, search_path: str | None = None,
                     pyenv_roots: list[Path] | None = None) -> tuple[str, str]:
    """(path, full version) of a Python `version` (major.minor) on this machine: this interpreter, `python3.X` on
    PATH, or a pyenv version ($PYENV_ROOT, ~/.pyenv). Each candidate is asked its version (a pyenv shim on PATH
    for a version that is not selected only prints an error). Raises DeployError naming the version."""
    if pyenv_roots is None:
        pyenv_roots = [Path(root) for root in (os.environ.get("PYENV_ROOT"), Path.home() / ".pyenv") if root]
    for candidate in _candidates(version, search_path, pyenv_roots):
        found = _version_of(candidate)
        if found and ".".join(found.split(".")[:2]) == version:
            return candidate, found
    raise DeployError(f"Python {version}, which the model's python_env.yaml asks for, is not installed on this "
                      f"serving machine (looked for this interpreter, python{version} on PATH and pyenv's versions; "
                      f"install it, e.g. `pyenv install {version}`).")


def _candidates(version: str, search_path: str | None, pyenv_roots: list[Path]):
    if f"{sys.version_info[0]}.{sys.version_info[1]}" == version:
        yield str(Path(sys.base_prefix) / "bin" / f"python{version}")
    on_path = shutil.which(f"python{version}", path=search_path)
    if on_path:
        yield on_path
    for root in pyenv_roots:
        versions = sorted((root / "versions").glob(f"{version}.*"), key=lambda p: _numeric(p.name), reverse=True)
        for directory in versions:
            yield str(directory / "bin" / f"python{version}")


def _numeric(name: str) -> tuple:
    return tuple(int(part) if part.isdigit() else -1 for part in re.split(r"[.\-]", name))


@functools.lru_cache(maxsize=64)
def _version_of(executable: str) -> str | None:
    if not os.access(executable, os.X_OK):
        return None
    try:
        answer = subprocess.run([executable, "-I", "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"],
                                capture_output=True, text=True, timeout=20, env={"PATH": os.environ.get("PATH", "")})
    except (OSError, subprocess.SubprocessError):
        return None
    return answer.stdout.strip() if answer.returncode == 0 else None


# ---- building -----------------------------------------------------------------------------------------------

def ready_python(root: Path, spec: EnvironmentSpec) -> Path | None:
    """The python of the built environment for `spec`, or None if it has not been built (completely) yet."""
    python = root / spec.key / "bin" / "python"
    return python if (root / spec.key / "environment.json").is_file() and python.exists() else None


class BuildError(Exception):
    """pip (or venv) failed; the message is the last lines of its output."""


def build(root: Path, spec: EnvironmentSpec, *, register=lambda proc: None) -> bool:
    """Build the environment for `spec` unless it exists; True if this call built it. Holds `<key>.lock` for the
    whole build, so a second builder (thread or process) waits and then finds it built. `register` is given each
    child process (so a stopping supervisor can kill a build)."""
    root.mkdir(parents=True, exist_ok=True)
    with open(root / f"{spec.key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if ready_python(root, spec):
            return False
        store = root / "store"
        for stale in store.glob(f"{spec.key}-*"):  # left by a build cut short: never linked, never used
            shutil.rmtree(stale, ignore_errors=True)
        target = store / f"{spec.key}-{uuid.uuid4().hex[:8]}"
        target.parent.mkdir(parents=True, exist_ok=True)
        log_path = root / f"{spec.key}.log"
        started = time.monotonic()
        try:
            with open(log_path, "w") as out:
                out.write(f"building {spec.key} with {spec.interpreter} ({spec.interpreter_version})\n")
                out.flush()
                _run([spec.interpreter, "-m", "venv", str(target)], out, register)
                python = str(target / "bin" / "python")
                with_files = target / "requirements"
                with_files.mkdir()
                if spec.build_dependencies:
                    _run([python, *PIP_INSTALL, *spec.build_dependencies], out, register, target)
                (with_files / "requirements.txt").write_text("\n".join(spec.requirements) + "\n")
                command = [python, *PIP_INSTALL, "-r", str(with_files / "requirements.txt")]
                if spec.constraints:
                    (with_files / "constraints.txt").write_text("\n".join(spec.constraints) + "\n")
                    command += ["-c", str(with_files / "constraints.txt")]
                _run(command, out, register, target)
        except BuildError:
            shutil.rmtree(target, ignore_errors=True)
            raise BuildError(pip_error(tail(log_path, 200))) from None
        except BaseException:
            shutil.rmtree(target, ignore_errors=True)
            raise
        description = {"key": spec.key, "python": spec.interpreter_version, "requirements": list(spec.requirements),
                       "build_dependencies": list(spec.build_dependencies), "constraints": list(spec.constraints),
                       "seconds": round(time.monotonic() - started, 1)}
        (target / "environment.json").write_text(json.dumps(description, indent=2))
        link = root / f".{spec.key}-{uuid.uuid4().hex[:8]}.link"
        link.symlink_to(Path("store") / target.name)
        os.replace(link, root / spec.key)  # the moment the environment exists for everyone
        return True


def _run(command: list[str], out, register, venv: Path | None = None) -> None:
    proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                            env=pip_environment(venv), start_new_session=True,
                            preexec_fn=die_with_parent(signal.SIGKILL))
    register(proc)
    try:
        code = proc.wait(timeout=BUILD_TIMEOUT_SECONDS)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        out.write(f"\nERROR: gave up after {BUILD_TIMEOUT_SECONDS} s\n")
        out.flush()
        code = -1
    if code != 0:
        raise BuildError(f"{command[0]} exited with {code}")


def pip_environment(venv: Path | None) -> dict[str, str]:
    env = {name: value for name, value in os.environ.items() if PASSED_TO_PIP.fullmatch(name)}
    bindir = [str(venv / "bin")] if venv else []
    env.update({"PATH": ":".join([*bindir, "/usr/local/bin", "/usr/bin", "/bin"]), "HOME": str(Path.home()),
                "LANG": "C.UTF-8", "TMPDIR": os.environ.get("TMPDIR", "/tmp")})
    if venv:
        env["VIRTUAL_ENV"] = str(venv)
    return env


def pip_error(output: str, lines: int = 12) -> str:
    """What to show of a failed build: pip's ERROR lines (they name the package), else the last lines."""
    text = output.splitlines()
    errors = [line for line in text if line.startswith("ERROR")]
    chosen = errors[-lines:] if errors else text[-lines:]
    return "\n".join(line if len(line) <= 500 else line[:500] + " …" for line in chosen)


# ---- builds in the background ---------------------------------------------------------------------------------

@dataclass
class Build:
    spec: EnvironmentSpec
    done: threading.Event = field(default_factory=threading.Event)
    built: bool = False  # this build made it (False: another builder had, meanwhile)
    error: str = ""
    seconds: float = 0.0


class Builder:
    """A supervisor's environment builds, each in a thread of its own so the supervisor's loop goes on: one build
    per key at a time (deployments needing the same set share it)."""

    def __init__(self, root: Path):
        self.root = root
        self._lock = threading.Lock()
        self._builds: dict[str, Build] = {}
        self._procs: set[subprocess.Popen] = set()

    def request(self, spec: EnvironmentSpec) -> Build:
        with self._lock:
            current = self._builds.get(spec.key)
            if current is not None and not current.done.is_set():
                return current
            current = self._builds[spec.key] = Build(spec)
        threading.Thread(target=self._build, args=(current,), name=f"env-{spec.key[:8]}", daemon=True).start()
        return current

    def _build(self, job: Build) -> None:
        started = time.monotonic()
        try:
            job.built = build(self.root, job.spec, register=self._register)
        except BuildError as error:
            job.error = str(error)
        except Exception as error:  # the disk is full, the interpreter vanished, ...
            log.exception("building environment %s failed", job.spec.key)
            job.error = f"{type(error).__name__}: {error}"
        finally:
            job.seconds = time.monotonic() - started
            job.done.set()

    def _register(self, proc: subprocess.Popen) -> None:
        with self._lock:
            self._procs = {p for p in self._procs if p.poll() is None} | {proc}

    def shutdown(self) -> None:
        """Kill the builds in progress (a stopping supervisor does not wait minutes for pip); their half-built
        directories are never linked, and the next build of the key removes them."""
        with self._lock:
            procs = list(self._procs)
        for proc in procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
