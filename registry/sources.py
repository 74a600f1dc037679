"""Model-version sources: only locations the registry manages are accepted, and each resolves to a path
inside the artifact store that the actor must be allowed to read."""
from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import unquote

from registry import permissions, upload_area
from registry.errors import InvalidParameter, NotFound
from registry.models import Experiment, LoggedModel, ModelVersion, Run
from registry.permissions import Action
from registry.query_helpers import only_row
from registry.storage import clean_relative_path

ARTIFACTS_SCHEME = "mlflow-artifacts:"
_ACCEPTED = "Only runs:/<run_id>/<path>, models:/<logged_model_id>, models:/<name>/<version>, " \
            "mlflow-artifacts:/ locations managed by this registry and the client's uploads to " \
            f"{upload_area.SOURCE_PREFIX}<run_id>/ are accepted as model version sources."
_RUN_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_LOGGED_MODEL_ID = re.compile(r"^m-[A-Za-z0-9]{1,62}$")


@dataclass
class ResolvedSource:
    location: str  # artifact-store path relative to the root, e.g. "0/<run>/artifacts/model"
    run_id: str = ""
    logged_model_id: str = ""
    source_version: ModelVersion | None = None
    uploaded: bool = False  # from the upload area: copied into the version's own storage, whichever registry
    logged_model: LoggedModel | None = None  # the models:/<id> source, as loaded (read by the actor)


def artifact_path_of(uri: str) -> str:
    """The store-relative path of an `mlflow-artifacts:/…` URI (confined to the root)."""
    if not uri.startswith(ARTIFACTS_SCHEME):
        raise InvalidParameter(f"Not a registry artifact location: {uri[:200]!r}.")
    return clean_relative_path(uri[len(ARTIFACTS_SCHEME):].lstrip("/"))


def _fully_decoded(value: str) -> str:
    for _ in range(5):
        decoded = unquote(value)
        if decoded == value:
            return value
        value = decoded
    raise InvalidParameter("Model version source is encoded too many times.")


def _readable_experiment(actor, experiment: Experiment) -> bool:
    # The rule decided over the row at hand (select_related by the caller), as a single-object lookup decides it.
    return permissions.allows(actor, Action.READ, experiment)


def resolve_source(actor, source: object) -> ResolvedSource:
    if not isinstance(source, str) or not source:
        raise InvalidParameter("Model version source must be a non-empty string. " + _ACCEPTED)
    decoded = _fully_decoded(source)
    if ".." in decoded or "\\" in decoded or any(ord(ch) < 32 or ord(ch) == 127 for ch in decoded):
        raise InvalidParameter(f"Invalid model version source {source[:200]!r}: relative path segments are not allowed. "
                               + _ACCEPTED)
    if decoded.startswith("runs:/"):
        run_id, _, path = decoded[len("runs:/"):].partition("/")
        if not _RUN_ID.match(run_id):
            raise InvalidParameter(f"Invalid run id in source {source[:200]!r}.")
        run = only_row(Run.objects.select_related("experiment").filter(run_id=run_id))
        if run is None or not _readable_experiment(actor, run.experiment):
            raise NotFound(f"Run with id={run_id} not found")
        base = artifact_path_of(run.artifact_uri)
        location = clean_relative_path(f"{base}/{path}") if path.strip("/") else base
        return ResolvedSource(location=location, run_id=run.run_id)
    if decoded.startswith("models:/"):
        rest = decoded[len("models:/"):]
        if _LOGGED_MODEL_ID.match(rest):
            logged = only_row(LoggedModel.objects.select_related("source_run", "experiment").filter(model_id=rest))
            if logged is None or not _readable_experiment(actor, logged.experiment):
                raise NotFound(f"Logged model with id={rest} not found")
            return ResolvedSource(location=artifact_path_of(logged.artifact_uri), logged_model_id=logged.model_id,
                                  run_id=logged.source_run.run_id if logged.source_run else "", logged_model=logged)
        name, sep, version = rest.rpartition("/")
        if not sep or not name:
            raise InvalidParameter(f"Invalid model version source {source[:200]!r}. " + _ACCEPTED)
        from registry.selectors import version_get

        src = version_get(actor=actor, name=name, version=version)
        if src.status != "READY":
            raise InvalidParameter(f"Source version {src} is not READY (status {src.status}); wait for it to be registered.")
        return ResolvedSource(location=artifact_path_of(src.storage_location), run_id=src.run_id,
                              logged_model_id=src.logged_model_id, source_version=src)
    if upload_area.is_area_source(decoded):
        # Another deployment's run, uploaded by the client: its run id is the client's word, not a local run.
        return ResolvedSource(location=upload_area.resolve(actor, decoded), uploaded=True)
    if decoded.startswith(ARTIFACTS_SCHEME):
        location = artifact_path_of(decoded)
        _authorize_artifact_location(actor, location)
        return ResolvedSource(location=location)
    raise InvalidParameter(f"Invalid model version source {source[:200]!r}. " + _ACCEPTED)


def _authorize_artifact_location(actor, location: str) -> None:
    """An mlflow-artifacts:/ source must lie in a run or logged model the actor may read."""
    from registry.artifact_access import authorize_artifact_path

    authorize_artifact_path(actor, location, write=False)
