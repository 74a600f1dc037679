"""Lineage reads with visibility applied: the graph around a node, and what the explorer knows about a table
(the runs and model versions that used it). A start node the actor may not see is "not found", exactly as a
missing one."""
from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef

from registry import permissions
from registry.errors import InvalidParameter, NotFound
from registry.lineage.capture import NodeRef, classify, input_context, parse_node
from registry.lineage.graph import Graph
from registry.lineage.loaders import datasets_of_tables, load_root
from registry.lineage.walk import Walk
from registry.models import Experiment, ModelVersion, Run, RunInput
from registry.selectors import version_list_visible

DIRECTIONS = ("upstream", "downstream", "both")
MAX_DEPTH = 10
DEFAULT_DEPTH = 3


def node_not_found_message(node: str) -> str:
    return f"Lineage node '{node[:200]}' not found."


def parse_depth(value) -> int:
    if value in (None, ""):
        return DEFAULT_DEPTH
    text = str(value).strip()
    if isinstance(value, bool) or not text.isdigit() or not 1 <= int(text) <= MAX_DEPTH:
        raise InvalidParameter(f"Invalid depth {str(value)[:50]!r}: expected an integer from 1 to {MAX_DEPTH}.")
    return int(text)


def parse_direction(value) -> str:
    if value in (None, ""):
        return "both"
    if value not in DIRECTIONS:
        raise InvalidParameter(f"Invalid direction {str(value)[:50]!r}: expected one of {', '.join(DIRECTIONS)}.")
    return value


def lineage_graph(*, actor, node: str | NodeRef, direction: str = "both", depth: int = DEFAULT_DEPTH) -> Graph:
    """The lineage around `node` ("<type>:<id>"), `depth` edges upstream and/or downstream, every node the actor
    may not see collapsed to a restricted node and left unexpanded."""
    ref = node if isinstance(node, NodeRef) else parse_node(node)
    direction = parse_direction(direction)
    depth = parse_depth(depth)
    # Existence and visibility in one lookup: a hidden start node and a missing one are refused alike, after the
    # same query (dangling ids are shown as deleted when met through an edge, but a start node is simply missing).
    entry = load_root(actor, ref.type, ref.id)
    if entry is None:
        raise NotFound(node_not_found_message(ref.key))
    walk = Walk(actor)
    root = walk.start(entry)
    seeds = {root}
    if ref.type == "alias":
        # An alias is a pointer: its lineage is its version's, with the alias attached.
        walk.link(root, f"model_version:{entry.obj.version_id}", "alias")
        seeds = {f"model_version:{entry.obj.version_id}"}
        walk.materialise(seeds)
    for upstream in _walks(direction):
        frontier, seen = set(seeds), set(seeds)
        for _ in range(depth):
            found = walk.expand(frontier, upstream)
            walk.materialise(found)
            frontier = {k for k in found - seen if walk.visible[k]}
            seen |= found
            if not frontier:
                break
    walk.attach_aliases()
    return walk.graph(root, direction, depth)


def _walks(direction: str) -> list[bool]:
    return {"upstream": [True], "downstream": [False], "both": [True, False]}[direction]


# ---- tables ---------------------------------------------------------------------------------------------

@dataclass
class TableRunUse:
    run: Run
    context: str
    table_version: str
    dataset_name: str
    dataset_digest: str


@dataclass
class TableUsage:
    name: str
    versions: list[str] = field(default_factory=list)
    runs: list[TableRunUse] = field(default_factory=list)
    model_versions: list[ModelVersion] = field(default_factory=list)


def table_usage(*, actor, name: str) -> TableUsage:
    """What the explorer knows about a table, from the inputs the actor may read: the runs that used it (with
    context and table version) and the model versions registered or copied from those runs."""
    key = parse_node(f"table:{name}" if isinstance(name, str) else None).id
    # Readability in the same query as the datasets: an unreadable table and a missing one cost the same.
    readable = Exists(permissions.restrict(actor, Experiment.objects.filter(pk=OuterRef("experiment_id"))))
    datasets = datasets_of_tables([key], rows=lambda qs: qs.annotate(readable=readable))[key]
    datasets = {d.pk: d for d in datasets if d.readable}
    if not datasets:
        raise NotFound(f"Table '{name[:200]}' not found.")
    usage = TableUsage(name=key)
    inputs = RunInput.objects.filter(dataset_id__in=datasets).select_related("run__experiment", "dataset")
    for run_input in inputs.order_by("-run__start_time", "pk"):
        d = run_input.dataset
        ref = classify(name=d.name, source_type=d.source_type, source_text=d.source)
        usage.runs.append(TableRunUse(run_input.run, input_context(run_input.tags), ref.version, d.name, d.digest))
    usage.versions = sorted({u.table_version for u in usage.runs if u.table_version}, key=lambda v: (len(v), v))
    run_ids = {u.run.run_id for u in usage.runs}
    usage.model_versions = list(version_list_visible(actor=actor).filter(run_id__in=run_ids)
                                .order_by("model__schema__catalog__name", "model__schema__name", "model__name",
                                          "version"))
    return usage


def table_search(*, actor, text: str, limit: int = 20) -> list[str]:
    """Names of tables (recognised table inputs of runs the actor may read) whose name contains `text`."""
    from registry.models import Dataset

    readable = permissions.restrict(actor, Experiment.objects.all()).values("pk")
    candidates = Dataset.objects.filter(experiment__in=readable, source__icontains=text).only(
        "name", "source_type", "source")
    names = set()
    for dataset in candidates.iterator():
        ref = classify(name=dataset.name, source_type=dataset.source_type, source_text=dataset.source)
        if ref.kind == "table" and text.lower() in ref.name.lower():
            names.add(ref.name)
    return sorted(names)[:limit]
