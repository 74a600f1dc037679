"""What a supervisor's machine keeps of served versions, and what it lets go. Copies of versions' files
(model_files.materialise) are removed once no current deployment (pending, ready or draining, on any machine)
serves that version; a deployment's directory (its log) once the deployment row is gone, or once it is stopped or
failed and a newer deployment of the same version exists (the Serving tab shows the newest one's log). Copies cut
short by a crash (`.partial-*`) go after an hour.

Run from the supervisor's own loop, on its own thread: materialise runs there too, so a copy this supervisor is
making is never swept under it."""
from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

from registry.models import ServingDeployment
from registry.serving import model_files

log = logging.getLogger(__name__)

State = ServingDeployment.State
CURRENT = (State.PENDING, State.READY, State.DRAINING)
PARTIAL_GRACE_SECONDS = 3600


def sweep() -> list[Path]:
    """Remove what is no longer needed; returns what was removed."""
    removed = [*_sweep_versions(), *_sweep_deployments()]
    for path in removed:
        log.info("serving: removed %s (no longer served)", path)
    return removed


def _sweep_versions() -> list[Path]:
    root = model_files.serving_root() / "versions"
    if not root.is_dir():
        return []
    wanted = {(uid.hex, str(number)) for uid, number in ServingDeployment.objects.filter(state__in=CURRENT)
              .values_list("version__model__uid", "version__version")}
    removed = []
    for model_dir in _children(root):
        for entry in _children(model_dir):
            if entry.name.startswith(".partial-"):
                if _older_than(entry, PARTIAL_GRACE_SECONDS):
                    removed.append(_remove(entry))
            elif (model_dir.name, entry.name) not in wanted:
                removed.append(_remove(entry))
        _remove_if_empty(model_dir)
    return removed


def _sweep_deployments() -> list[Path]:
    root = model_files.serving_root() / "deployments"
    if not root.is_dir():
        return []
    on_disk = {int(entry.name): entry for entry in _children(root) if entry.name.isdigit()}
    rows = {row["pk"]: row for row in ServingDeployment.objects.filter(pk__in=on_disk)
            .values("pk", "state", "served_model_id", "endpoint_id", "entity_name", "version_id", "generation")}
    newest: dict[tuple, tuple] = {}
    for row in ServingDeployment.objects.filter(
            version_id__in={row["version_id"] for row in rows.values()}).values(
            "pk", "served_model_id", "endpoint_id", "entity_name", "version_id", "generation"):
        key = _owner(row)
        newest[key] = max(newest.get(key, (0, 0)), (row["generation"], row["pk"]))
    removed = []
    for pk, entry in on_disk.items():
        row = rows.get(pk)
        superseded = (row is not None and row["state"] in (State.STOPPED, State.FAILED)
                      and newest.get(_owner(row), (0, 0)) > (row["generation"], row["pk"]))
        if row is None or superseded:
            removed.append(_remove(entry))
    return removed


def _owner(row: dict) -> tuple:
    return row["served_model_id"], row["endpoint_id"], row["entity_name"], row["version_id"]


def _children(directory: Path) -> list[Path]:
    try:
        return [entry for entry in directory.iterdir() if entry.is_dir() and not entry.is_symlink()]
    except OSError:
        return []


def _older_than(path: Path, seconds: float) -> bool:
    try:
        return time.time() - path.stat().st_mtime > seconds
    except OSError:
        return False


def _remove(path: Path) -> Path:
    shutil.rmtree(path, ignore_errors=True)
    return path


def _remove_if_empty(directory: Path) -> None:
    try:
        directory.rmdir()
    except OSError:
        pass
