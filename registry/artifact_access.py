"""Who may read or write which artifact path. The store is laid out by owner object:

    <experiment_id>/<run_id>/artifacts/...            a run's artifacts
    <experiment_id>/models/<logged_model_id>/artifacts/...  a logged model's artifacts
    registry/<model uid>/versions/<n>/...             a three-level model version's managed copy

Clients may write only to runs and logged models of experiments they may modify; a version's managed copy
is written only by the registration job and read with EXECUTE on the model."""
from __future__ import annotations

from registry import permissions
from registry.errors import NotFound, PermissionDenied
from registry.models import Experiment, LoggedModel, ModelVersion, RegisteredModel, Run
from registry.permissions import Action
from registry.storage import clean_relative_path


def _not_found(path: str) -> NotFound:
    return NotFound(f"No artifact at path '{path}'.")


def authorize_artifact_path(actor, path: str, *, write: bool) -> str:
    """Return the cleaned path if `actor` may read (or write) it; NotFound when it may not see the owner.

    Only paths inside an owner's `artifacts/` directory (or a version's managed copy) are reachable."""
    path = clean_relative_path(path)
    parts = path.split("/")
    if parts[0] == "registry":
        return _authorize_version_path(actor, path, parts, write=write)
    if len(parts) < 3 or not parts[0].isdigit() or len(parts[0]) > 18:
        raise _not_found(path)
    experiment = Experiment.objects.filter(pk=int(parts[0])).first()
    if experiment is None:
        raise _not_found(path)
    if parts[1] == "models":
        if len(parts) < 4 or parts[3] != "artifacts" or not LoggedModel.objects.filter(
            model_id=parts[2], experiment=experiment
        ).exists():
            raise _not_found(path)
    elif parts[2] != "artifacts" or not Run.objects.filter(run_id=parts[1], experiment=experiment).exists():
        raise _not_found(path)
    if not permissions.check(actor, Action.READ, experiment):
        raise _not_found(path)
    if write and not permissions.check(actor, Action.MODIFY, experiment):
        raise PermissionDenied("Permission denied: you may not write artifacts to this experiment.")
    return path


def _authorize_version_path(actor, path: str, parts: list[str], *, write: bool) -> str:
    if write:
        raise PermissionDenied("Model version storage is managed by the registry and cannot be written directly.")
    uid = _uuid(parts[1]) if len(parts) >= 4 else None
    if uid is None or parts[2] != "versions" or not parts[3].isdigit() or len(parts[3]) > 10:
        raise _not_found(path)
    model = permissions.restrict(actor, RegisteredModel.objects.filter(uid=uid)).first()
    if model is None:
        raise _not_found(path)
    mv = ModelVersion.objects.filter(model=model, version=int(parts[3])).first()
    if mv is None or mv.status != "READY":
        # A version is visible only once its copy is complete and verified.
        raise _not_found(path)
    return path


def _uuid(value: str):
    import uuid

    try:
        return uuid.UUID(hex=value)
    except ValueError:
        return None
