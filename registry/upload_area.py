"""Reads of the DBFS upload area that the MLflow client's remote-registry path (`registry_uri="databricks://…"`)
fills before it creates a version: `/databricks/mlflow/tmp-external-source/<dir>/...` as the client spells it,
stored per principal at `upload-area/<user id>/<dir>/...` in the artifact store. A principal sees only its
own uploads; no other DBFS path exists here."""
from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from registry import storage
from registry.errors import InvalidParameter, NotFound

AREA = "/databricks/mlflow/tmp-external-source"
SOURCE_PREFIX = f"dbfs:{AREA}/"
STORE_ROOT = "upload-area"
_DIRECTORY = re.compile(r"^[A-Za-z0-9_-]{1,100}$")
_LOGGED_MODEL_ID = re.compile(r"^m-[A-Za-z0-9]{1,62}$")
_ONLY = f"Only paths below {AREA}/<run_id>/ (the MLflow client's upload area for a remote registry) are served."


@dataclass(frozen=True)
class AreaPath:
    directory: str  # the first segment below the area ("" for the area itself)
    rest: str  # below that directory ("" for the directory itself)

    def store_path(self, owner_id: int) -> str:
        return "/".join(part for part in (STORE_ROOT, str(owner_id), self.directory, self.rest) if part)

    def client_path(self) -> str:
        return "/".join(part for part in (AREA, self.directory, self.rest) if part)


def parse(raw: object) -> AreaPath:
    """An absolute DBFS path (`/databricks/...`, `dbfs:/databricks/...`; the client doubles some slashes) inside
    the upload area, cleaned and confined; anything else is refused with the same words."""
    if not isinstance(raw, str) or not raw:
        raise InvalidParameter("Missing DBFS path. " + _ONLY)
    value = raw[len("dbfs:"):] if raw.startswith("dbfs:") else raw
    value = re.sub(r"/{2,}", "/", value).rstrip("/")
    if value != AREA and not value.startswith(AREA + "/"):
        raise InvalidParameter(f"DBFS path {raw[:200]!r} is not served here. " + _ONLY)
    inner = value[len(AREA) + 1:]
    if not inner:
        return AreaPath("", "")
    inner = storage.clean_relative_path(inner)
    directory, _, rest = inner.partition("/")
    if not _DIRECTORY.match(directory):
        raise InvalidParameter(f"Invalid upload directory {directory[:120]!r}: a run id of letters, digits, '_' "
                               "and '-' is expected. " + _ONLY)
    return AreaPath(directory, rest)


def listing(actor, raw_path: object) -> list[dict]:
    """DBFS `list`: the entries directly below the path, with absolute DBFS paths; a file lists itself.
    A path with nothing of the actor's below it does not exist (whoever else uploaded there): NotFound is
    RESOURCE_DOES_NOT_EXIST, which the client's listing takes for an empty directory."""
    where = parse(raw_path)
    prefix = where.client_path()
    entries = [_entry(f"{prefix}/{entry.path}", entry) for entry in storage.list_dir(where.store_path(actor.pk))]
    if entries:
        return entries
    if where.rest:
        parent, name = posixpath.split(where.rest)
        for entry in storage.list_dir(AreaPath(where.directory, parent).store_path(actor.pk)):
            if entry.path == name and not entry.is_dir:
                return [_entry(prefix, entry)]
    raise NotFound(f"No file or directory exists on path {prefix}.")


def _entry(path: str, entry: storage.Entry) -> dict:
    return {"path": path, "is_dir": entry.is_dir, "file_size": 0 if entry.is_dir else entry.size}


def used_bytes(owner_id: int) -> int:
    return sum(size for _, size in storage.walk_files(f"{STORE_ROOT}/{owner_id}"))


def is_area_source(source: str) -> bool:
    return isinstance(source, str) and source.startswith("dbfs:")


def web_link(run_link: str) -> str:
    """The other deployment's run link as sent by the client, when it is a web link (only those are rendered
    as links: run_link is whatever the client sent)."""
    return run_link if run_link.startswith(("https://", "http://")) else ""


def resolve(actor, source: str) -> str:
    """The store path of a version source in the actor's own upload area. The client names a logged model's
    upload `<dir>/m-<id>` but puts its files directly in `<dir>/`: that is where they are looked for then."""
    where = parse(source)
    if not where.directory:
        raise InvalidParameter(f"Invalid model version source {source[:200]!r}: name an uploaded directory. " + _ONLY)
    location = where.store_path(actor.pk)
    if next(iter(storage.walk_files(location)), None) is not None:
        return location
    if "/" not in where.rest and _LOGGED_MODEL_ID.match(where.rest):
        directory = AreaPath(where.directory, "").store_path(actor.pk)
        if next(iter(storage.walk_files(directory)), None) is not None:
            return directory
    raise NotFound(f"No uploaded files at {where.client_path()}: upload the model's files there first.")
