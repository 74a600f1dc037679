"""A served version's files on the supervisor's machine: copied out of the registry's storage (through
registry.storage, whatever the backend) into a local directory the model processes load from, and its recorded
requirements checked against what is installed here. Also where each deployment's working directory and log are.

A READY version's files never change, so a copy is made once per version and shared by its deployments."""
from __future__ import annotations

import importlib.metadata
import logging
import posixpath
import shutil
import threading
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connection
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from registry import storage
from registry.errors import InvalidParameter
from registry.models import ModelVersion
from registry.sources import artifact_path_of


log = logging.getLogger(__name__)

# The mlflow client records `mlflow==<version>`; a deployment here may have the full package or mlflow-skinny.
SAME_PACKAGE = {"mlflow": ("mlflow", "mlflow-skinny")}


class DeployError(Exception):
    """Why a version cannot be deployed; the message is shown to the user as the version's Failed reason."""


def serving_root() -> Path:
    return Path(settings.VAR_DIR) / "serving"


def deployment_dir(deployment_id: int) -> Path:
    return serving_root() / "deployments" / str(deployment_id)


def log_path(deployment_id: int) -> Path:
    return deployment_dir(deployment_id) / "process.log"


def _copy_target(version: ModelVersion) -> Path:
    return serving_root() / "versions" / version.model.uid.hex / str(version.version)


def materialised(version: ModelVersion) -> Path | None:
    """The local copy of the version's files if it is complete already (no copy needed), else None."""
    target = _copy_target(version)
    return target if (target / "MLmodel").is_file() else None


class BackgroundCopy:
    """`materialise(version)` on a thread of its own, so that a large version does not hold up the supervisor's
    loop (leases, health checks, other deployments) while it is copied. `done` is set once `model_dir` or
    `error` (the Failed reason) is."""

    def __init__(self, version: ModelVersion):
        self.version = version
        self.done = threading.Event()
        self.model_dir: Path | None = None
        self.error = ""
        threading.Thread(target=self._run, name=f"serving-copy-{version.pk}", daemon=True).start()

    def _run(self) -> None:
        try:
            self.model_dir = materialise(self.version)
        except DeployError as error:
            self.error = str(error)
        except Exception as error:  # noqa: BLE001 - the store is missing a file, the local disk is full, ...
            log.exception("version %s: could not copy its files for serving", self.version.pk)
            self.error = f"Version {self.version.version}: its files could not be copied for serving ({error})."
        finally:
            connection.close()  # this thread's own connection, if the storage backend opened one
            self.done.set()


def materialise(version: ModelVersion) -> Path:
    """The local directory holding the version's files (its MLmodel at the top), copied from storage if needed."""
    try:
        location = artifact_path_of(version.storage_location)
    except InvalidParameter:
        raise DeployError(f"Version {version.version} has no files in the registry's storage to serve.") from None
    target = _copy_target(version)
    if (target / "MLmodel").is_file():
        return target
    files = list(storage.walk_files(location))
    if not any(path == "MLmodel" for path, _size in files):
        raise DeployError(f"Version {version.version} is not an MLflow model: there is no MLmodel file in its files.")
    # Copied beside the target and renamed into place: a copy cut short never looks complete, and two
    # supervisors on one machine copying at once both end with the same whole directory.
    partial = target.with_name(f".partial-{target.name}-{uuid.uuid4().hex}")
    try:
        for path, _size in files:
            destination = partial / path
            destination.parent.mkdir(parents=True, exist_ok=True)
            with storage.open_read(posixpath.join(location, path)) as source, open(destination, "wb") as out:
                shutil.copyfileobj(source, out, storage.CHUNK_SIZE)
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            partial.rename(target)
        except OSError:
            if not (target / "MLmodel").is_file():
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return target


def requirement_problems(model_dir: Path) -> tuple[list[str], list[str]]:
    """(mismatches, notes) for the version's recorded requirements (its requirements.txt, which the mlflow client
    writes for every model and which python_env.yaml and conda.yaml refer to) against the installed packages.

    A package installed at a version the requirement does not allow is a mismatch: the model would run with other
    code than it was logged with. A package that is not installed at all is only a note, as in MLflow's own
    `load_model` (which warns and goes on): the inferred requirements often list packages the model never imports
    at load (the test runner, for one), and a package the model does need makes the load fail, with the import
    error in the version's log."""
    path = model_dir / "requirements.txt"
    if not path.is_file():
        return [], []
    mismatches, notes = [], []
    for line in path.read_text(errors="replace").splitlines():
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith(("#", "-")):
            continue  # comments and pip options (-r, -c, --index-url): nothing to compare
        try:
            requirement = Requirement(line)
        except InvalidRequirement:
            continue  # a URL or a local path: pip's business, not comparable to a version
        if requirement.marker and not requirement.marker.evaluate():
            continue
        installed = installed_version(requirement.name)
        if installed is None:
            notes.append(f"{requirement.name} ({line}) is not installed")
        elif requirement.specifier and not requirement.specifier.contains(installed, prereleases=True):
            mismatches.append(f"{line} is required, but {requirement.name} {installed} is installed")
    return mismatches, notes


def installed_version(name: str) -> str | None:
    for distribution in SAME_PACKAGE.get(canonicalize_name(name), (name,)):
        try:
            return importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def check_requirements(version: ModelVersion, model_dir: Path) -> list[str]:
    """Raises DeployError naming every mismatched package with both versions; returns the notes to log."""
    mismatches, notes = requirement_problems(model_dir)
    if mismatches:
        raise DeployError(f"Version {version.version} cannot run in this serving environment: "
                          + "; ".join(mismatches) + ".")
    return notes


def tail(path: Path, lines: int = 200, *, max_bytes: int = 256 * 1024) -> str:
    """The last `lines` lines of a log (reading at most its last `max_bytes`); empty when there is none yet."""
    try:
        with open(path, "rb") as log_file:
            log_file.seek(0, 2)
            size = log_file.tell()
            log_file.seek(max(0, size - max_bytes))
            data = log_file.read()
    except FileNotFoundError:
        return ""
    text = data.decode("utf-8", errors="replace")
    return "\n".join(text.splitlines()[-lines:]) if lines > 0 else ""


def trim_log(path: Path, *, max_bytes: int = 8 * 1024 * 1024, keep_bytes: int = 1024 * 1024) -> None:
    """Keep a deployment's log from growing without bound: past `max_bytes`, only its last `keep_bytes` stay.
    Called before a pool starts, while nothing writes to it."""
    try:
        if path.stat().st_size <= max_bytes:
            return
        with open(path, "r+b") as log_file:
            log_file.seek(-keep_bytes, 2)
            kept = log_file.read()
            log_file.seek(0)
            log_file.write(kept)
            log_file.truncate()
    except FileNotFoundError:
        pass
