"""How a logged dataset input is read as lineage: a table node (three-level name + version) when its MLflow
source is a table, otherwise a dataset node with its source; and the input's context (training, evaluation…).

Lineage is computed from what `log-inputs` already stored (`Dataset`, `RunInput`), so every input ever logged
is recognised, including those logged before this module existed."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from registry.errors import InvalidParameter

NODE_TYPES = ("table", "dataset", "experiment", "run", "logged_model", "model_version", "alias")
CONTEXT_TAG = "mlflow.data.context"
# Keys under which MLflow's table-backed sources (DeltaDatasetSource, SparkDatasetSource, Unity Catalog
# sources) record the table's name and version in their `source` JSON.
TABLE_NAME_KEYS = ("delta_table_name", "table_name", "uc_table_name", "full_table_name")
TABLE_VERSION_KEYS = ("delta_table_version", "table_version", "version")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
# `mlflow.data.from_pandas(df, source="main.raw.wine_train")` records {"uri": "main.raw.wine_train"} (a "local"
# source, as MLflow resolves any string it cannot place): a bare three-level name is read as the Unity Catalog
# table it names, unless it reads as a file name (`train.v2.csv`). Backquoted parts as Spark writes them.
_PART = r"(?:`[^`./]{1,255}`|[A-Za-z0-9_][A-Za-z0-9_-]{0,254})"
_THREE_LEVEL = re.compile(rf"^{_PART}\.{_PART}\.{_PART}$")
FILE_SUFFIXES = frozenset({"csv", "tsv", "json", "jsonl", "parquet", "pq", "txt", "xlsx", "xls", "avro", "orc",
                           "feather", "arrow", "pkl", "pickle", "npy", "npz", "zip", "gz", "bz2", "zst", "h5",
                           "hdf5", "delta", "db", "sqlite", "xml", "yaml", "yml", "png", "jpg", "jpeg"})
URI_KEYS = ("uri", "url", "path", "volume_path", "repo_id")
SOURCE_URI_KEYS = (*URI_KEYS[:3], *TABLE_NAME_KEYS, *URI_KEYS[3:])
MAX_NODE_ID_LENGTH = 600


@dataclass(frozen=True)
class InputRef:
    """One dataset input as a lineage node: `kind` is "table" or "dataset"."""

    kind: str
    name: str  # table: normalised three-level (or two-level) name; dataset: the dataset's name
    version: str = ""  # table version when the source recorded one
    source_type: str = ""
    source: dict = field(default_factory=dict, hash=False, compare=False)


def parse_source(text: str) -> dict:
    """The dataset's `source` JSON as a dict ({} when it is not a JSON object, as clients may send anything)."""
    if not text:
        return {}
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def normalise_table_name(name: str) -> str:
    """`prod`.`ml_team`.`Iris` -> prod.ml_team.iris: table names are matched like Unity Catalog names
    (case-insensitive, stored lower-case); Spark may quote parts with backticks."""
    return ".".join(part.strip().strip("`").strip() for part in name.split(".")).lower()


def table_of(source_type: str, source: dict) -> tuple[str, str] | None:
    """(name, version) when the source designates a named table, None for files, URLs, SQL and code."""
    for key in TABLE_NAME_KEYS:
        value = source.get(key)
        if isinstance(value, str) and value.strip() and not _CONTROL.search(value):
            name = normalise_table_name(value)
            if all(name.split(".")):
                version = next((source[k] for k in TABLE_VERSION_KEYS if source.get(k) not in (None, "")), "")
                return name, str(version) if not isinstance(version, (dict, list)) else ""
    uri = source.get("uri")
    if isinstance(uri, str) and _THREE_LEVEL.match(uri.strip()):
        name = normalise_table_name(uri.strip())
        if name.rsplit(".", 1)[-1] not in FILE_SUFFIXES:
            return name, ""
    return None


def source_uri(source: dict, *, tables: bool = True) -> str:
    """The URI a dataset's source recorded, for showing: `{"uri": ...}` of local, HTTP, S3… sources (what
    `mlflow.data.from_pandas(df, source=...)` stores), else (with `tables`) the table it names; "" when none."""
    for key in SOURCE_URI_KEYS if tables else URI_KEYS:
        value = source.get(key)
        if isinstance(value, str) and value.strip() and not _CONTROL.search(value):
            return value.strip()[:1000]
    return ""


def classify(*, name: str, source_type: str, source_text: str) -> InputRef:
    source = parse_source(source_text)
    table = table_of(source_type or "", source)
    if table is not None:
        return InputRef("table", table[0], table[1], source_type or "", source)
    return InputRef("dataset", name, "", source_type or "", source)


def input_context(tags) -> str:
    """The `mlflow.data.context` tag of a run input (training, evaluation, …), "" when absent."""
    for tag in tags or []:
        if isinstance(tag, dict) and tag.get("key") == CONTEXT_TAG:
            return str(tag.get("value") or "")
    return ""


@dataclass(frozen=True)
class NodeRef:
    type: str
    id: str

    @property
    def key(self) -> str:
        return f"{self.type}:{self.id}"


def parse_node(value) -> NodeRef:
    """`<type>:<id>` from a query string, or InvalidParameter saying what is expected."""
    expected = f"expected '<type>:<id>' with type one of {', '.join(NODE_TYPES)}"
    if not isinstance(value, str) or ":" not in value:
        raise InvalidParameter(f"Invalid lineage node {str(value)[:100]!r}: {expected}.")
    kind, _, ident = value.partition(":")
    if kind not in NODE_TYPES:
        raise InvalidParameter(f"Invalid lineage node type {kind[:50]!r}: {expected}.")
    ident = ident.strip()
    if not ident or len(ident) > MAX_NODE_ID_LENGTH or _CONTROL.search(ident):
        raise InvalidParameter(f"Invalid lineage node id for type {kind!r}: it must be 1-{MAX_NODE_ID_LENGTH} "
                               "printable characters.")
    if kind == "table":
        ident = normalise_table_name(ident)
    return NodeRef(kind, ident)
