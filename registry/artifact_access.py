"""Who may read or write which artifact path. The store is laid out by owner object:

    <experiment_id>/<run_id>/artifacts/...            a run's artifacts
    <experiment_id>/models/<logged_model_id>/artifacts/...  a logged model's artifacts
    registry/<model uid>/versions/<n>/...             a three-level model version's managed copy

Clients may write only to runs and logged models they own, or of experiments they may modify, and never the
files a version was registered from; a version's managed copy is written only by the registration job and read
with EXECUTE on the model."""
from __future__ import annotations

from django.db.models import Q

from registry import permissions
from registry.errors import InvalidState, NotFound, PermissionDenied
from registry.models import Experiment, LoggedModel, ModelVersion, RegisteredModel, Run
from registry.permissions import Action
from registry.storage import clean_relative_path
from registry.tracking_selectors import logged_model_list_writable, run_list_writable

ARTIFACTS_SCHEME = "mlflow-artifacts:/"  # how a workspace version's storage_location points into the store


def _not_found(path: str) -> NotFound:
    return NotFound(f"No artifact at path '{path}'.")


def authorize_artifact_path(actor, path: str, *, write: bool) -> str:
    """Return the cleaned path if `actor` may read (or write) it; NotFound when it may not see the owner.

    Only paths inside an owner's `artifacts/` directory (or a version's managed copy) are reachable. Writing
    needs the right to write the owner (the run or logged model's owner, or who may modify the experiment), and
    is refused for files a workspace-registry version was registered from (see `refuse_if_registered`)."""
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
        if len(parts) < 4 or parts[3] != "artifacts":
            raise _not_found(path)
        owners, writable = LoggedModel.objects.filter(model_id=parts[2], experiment=experiment), \
            logged_model_list_writable
    elif parts[2] != "artifacts":
        raise _not_found(path)
    else:
        owners, writable = Run.objects.filter(run_id=parts[1], experiment=experiment), run_list_writable
    if not owners.exists() or not permissions.check(actor, Action.READ, experiment):
        raise _not_found(path)
    if write:
        if not writable(actor=actor).filter(pk__in=owners.values("pk")).exists():
            raise PermissionDenied("Permission denied: only the owner of this run or logged model, or the owner or "
                                   "managers of its experiment, may write its artifacts.")
        refuse_if_registered(actor, path)
    return path


def refuse_if_registered(actor, path: str) -> None:
    """A READY version's files are immutable. A workspace-registry version serves the files of the run (or
    logged model) it was registered from, so no write may land at, inside or above its location. The version is
    named only to someone who may read its model: to anyone else it is "a registered model version"."""
    locations = [ARTIFACTS_SCHEME + "/".join(path.split("/")[:i]) for i in range(1, path.count("/") + 2)]
    below = ARTIFACTS_SCHEME + path + "/"
    versions = ModelVersion.objects.filter(model__schema__isnull=True).filter(
        Q(storage_location__in=locations) | Q(storage_location__startswith=below)).select_related("model")
    version = versions.order_by("model_id", "version").first()
    if version is None:
        return
    named = f"version {version.version} of registered model '{version.model.full_name}'" if permissions.check(
        actor, Action.READ, version.model) else "a registered model version"
    raise InvalidState(f"The artifacts at '{path}' are the files of {named} and cannot be changed: a registered "
                       "version's files are immutable. Write to a new path (or a new run) and register a new version.")


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
