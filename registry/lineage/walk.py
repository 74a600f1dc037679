"""Breadth-first walk of the lineage around one node, level by level: each level expands all frontier nodes of a
type with one query, loads the new neighbours in one query per type, and decides their visibility with one query
per securable kind. Nodes the actor may not see are kept (as restricted) but never expanded, so nothing beyond
them is learnt through them."""
from __future__ import annotations

from collections import defaultdict

from registry import permissions
from registry.lineage.capture import classify, input_context, source_uri
from registry.lineage.graph import RESTRICTED, Edge, Graph, Node
from registry.lineage.loaders import (
    Loaded,
    Scope,
    alias_entry,
    dataset_entry,
    datasets_of_tables,
    ghost,
    ghost_source_version,
    load,
    logged_model_entry,
    models_by_uid,
    remote_run_entry,
    run_entry,
    source_location_uid,
    table_entry,
    version_entry,
    version_source_of,
)
from registry.models import Experiment, Job, LoggedModel, ModelAlias, ModelVersion, RegisteredModel, Run, RunInput
from registry.source_visibility import source_kind

MAX_NODES = 5000
# Labels that describe the visible end of an edge; an input's context describes the run, so it is dropped
# when the run is restricted.
STRUCTURAL_LABELS = {"copy", "alias", "registered", "logged", "run"}
_COPY_JOB_KINDS = (Job.Kind.REGISTER, Job.Kind.COPY, Job.Kind.MIGRATE)


class Walk:
    def __init__(self, actor):
        self.actor = actor
        self.admin = permissions.is_admin(actor)
        self.entries: dict[str, Loaded] = {}
        self.visible: dict[str, bool] = {}
        self.edges: dict[tuple[str, str, str], Edge] = {}
        self.truncated = False
        self._found: set[str] = set()
        self._upstream = True

    # ---- nodes ------------------------------------------------------------------------------------------

    def start(self, entry: Loaded) -> str:
        """The start node, already loaded and known to be visible (`loaders.load_root`)."""
        key = self.put(entry)
        self.visible[key] = True
        return key

    def materialise(self, keys) -> None:
        """Load every key not loaded yet (one query per type); an id nothing answers to becomes a deleted node."""
        by_type: dict[str, set[str]] = defaultdict(set)
        for key in keys:
            if key not in self.entries:
                type_, _, ident = key.partition(":")
                by_type[type_].add(ident)
        for type_, ids in by_type.items():
            found = load(type_, ids)
            for ident in ids:
                # A dangling reference (a run id on a version whose run is gone) is shown as deleted; the id is
                # already visible on the object that holds the reference.
                self.entries[f"{type_}:{ident}"] = found.get(ident) or ghost(type_, ident, Scope(public=True))
        self.decide()

    def decide(self) -> None:
        """Visibility of every node not decided yet: one query for experiments, one for registered models."""
        pending = [k for k in self.entries if k not in self.visible]
        if not pending:
            return
        experiments = {pk for k in pending for pk in self.entries[k].scope.experiments}
        models = {self.entries[k].scope.model for k in pending} - {None}
        readable_experiments: set = set()
        readable_models: set = set()
        if not self.admin:
            if experiments:
                qs = permissions.restrict(self.actor, Experiment.objects.filter(pk__in=experiments))
                readable_experiments = set(qs.values_list("pk", flat=True))
            if models:
                qs = permissions.restrict(self.actor, RegisteredModel.objects.filter(pk__in=models))
                readable_models = set(qs.values_list("pk", flat=True))
        for key in pending:
            scope = self.entries[key].scope
            self.visible[key] = self.admin or scope.public or bool(scope.experiments & readable_experiments) or (
                scope.model is not None and scope.model in readable_models)

    def put(self, entry: Loaded) -> str:
        key = entry.node.key
        existing = self.entries.get(key)
        if existing is None:
            self.entries[key] = entry
        elif entry.node.type == "table" and not entry.scope.experiments <= existing.scope.experiments:
            # A table seen through more datasets: widen its scope and decide again.
            existing.scope.experiments |= entry.scope.experiments
            self.visible.pop(key, None)
        return key

    # ---- edges ------------------------------------------------------------------------------------------

    def link(self, source: str, target: str, label: str, attrs: dict | None = None, entry: Loaded | None = None):
        neighbour = source if self._upstream else target
        if neighbour not in self.entries and len(self.entries) + len(self._found) >= MAX_NODES:
            self.truncated = True
            return
        if entry is not None:
            self.put(entry)
        self.edges.setdefault((source, target, label), Edge(source, target, label, attrs or {}))
        self._found.add(neighbour)

    def expand(self, frontier: set[str], upstream: bool) -> set[str]:
        self._found, self._upstream = set(), upstream
        by_type: dict[str, list[Loaded]] = defaultdict(list)
        for key in frontier:
            entry = self.entries[key]
            if entry.obj is not None or entry.node.type == "table":  # deleted nodes are leaves
                by_type[entry.node.type].append(entry)
        for type_, entries in by_type.items():
            handler = getattr(self, f"_{'up' if upstream else 'down'}_{type_}", None)
            if handler is not None:
                handler(entries)
        found, self._found = self._found, set()
        return found

    def _input_edge(self, run_key: str, run_input: RunInput, run: Loaded | None = None):
        """table/dataset -> run; `run` is given when walking downstream (the run is then the new neighbour)."""
        d = run_input.dataset
        ref = classify(name=d.name, source_type=d.source_type, source_text=d.source)
        label = input_context(run_input.tags) or "input"
        # A table's own name is not repeated; a URI that named it (`source="main.raw.t"`) is what was recorded.
        uri = source_uri(ref.source, tables=ref.kind != "table")
        attrs = {"source_uri": uri} if uri else {}
        if ref.kind == "table":
            attrs.update({"table_version": ref.version} if ref.version else {})
            self.link(f"table:{ref.name}", run_key, label, attrs, run or table_entry(ref.name, {d.experiment_id}))
        else:
            self.link(f"dataset:{d.pk}", run_key, label, attrs, run or dataset_entry(d))

    # ---- upstream: what each node came from -------------------------------------------------------------

    def _up_run(self, entries):
        by_pk = {e.obj.pk: e for e in entries}
        for run_input in RunInput.objects.filter(run_id__in=by_pk).select_related("dataset").order_by("pk"):
            self._input_edge(by_pk[run_input.run_id].node.key, run_input)
        for e in entries:
            self.link(f"experiment:{e.obj.experiment_id}", e.node.key, "run")

    def _up_logged_model(self, entries):
        for e in entries:
            run = e.obj.source_run
            if run is not None:
                self.link(f"run:{run.run_id}", e.node.key, "logged", entry=run_entry(run))

    def _up_model_version(self, entries):
        versions = [e.obj for e in entries]
        jobs = _copy_jobs([mv for mv in versions if mv.copied_from_id or version_source_of(mv)])
        orphans = [mv for mv in versions if not mv.copied_from_id and version_source_of(mv)]
        uids = [m[0] for mv in orphans if (m := source_location_uid(_params(jobs.get(mv.pk))))]
        models = models_by_uid(uids)
        for mv in versions:
            key, job = f"model_version:{mv.pk}", jobs.get(mv.pk)
            if mv.copied_from_id:
                self.link(f"model_version:{mv.copied_from_id}", key, "copy", _job_attrs(job))
            elif version_source_of(mv):
                source = ghost_source_version(mv, _params(job), models)
                self.link(source.node.key, key, "copy", _job_attrs(job), source)
            elif source_kind(mv) == "upload":  # from another deployment: its run is not looked up here
                remote = remote_run_entry(mv)
                self.link(remote.node.key, key, "registered", entry=remote)
            elif mv.logged_model_id:
                self.link(f"logged_model:{mv.logged_model_id}", key, "registered")
            elif mv.run_id:
                self.link(f"run:{mv.run_id}", key, "registered")

    # ---- downstream: what each node went into -----------------------------------------------------------

    def _down_table(self, entries):
        datasets = {d.pk: d for lst in datasets_of_tables([e.node.id for e in entries]).values() for d in lst}
        inputs = RunInput.objects.filter(dataset_id__in=datasets).select_related("run", "dataset").order_by("pk")
        for run_input in inputs:
            self._input_edge(f"run:{run_input.run.run_id}", run_input, run_entry(run_input.run))

    def _down_dataset(self, entries):
        inputs = RunInput.objects.filter(dataset_id__in=[e.obj.pk for e in entries]).select_related("run", "dataset")
        for run_input in inputs.order_by("pk"):
            self._input_edge(f"run:{run_input.run.run_id}", run_input, run_entry(run_input.run))

    def _down_experiment(self, entries):
        runs = Run.objects.filter(experiment_id__in=[e.obj.pk for e in entries]).order_by("-start_time", "pk")
        for run in runs[:MAX_NODES]:
            self.link(f"experiment:{run.experiment_id}", f"run:{run.run_id}", "run", entry=run_entry(run))

    def _down_run(self, entries):
        run_ids = [e.node.id for e in entries]
        for m in LoggedModel.objects.filter(source_run__run_id__in=run_ids).select_related("source_run"):
            self.link(f"run:{m.source_run.run_id}", f"logged_model:{m.model_id}", "logged", entry=logged_model_entry(m))
        self._registered(ModelVersion.objects.filter(run_id__in=run_ids, logged_model_id=""), "run", "run_id")

    def _down_logged_model(self, entries):
        ids = [e.node.id for e in entries]
        self._registered(ModelVersion.objects.filter(logged_model_id__in=ids), "logged_model", "logged_model_id")

    def _registered(self, versions, source_type: str, field: str):
        # Copies carry their source's run and logged model too; they hang off their source version instead.
        versions = versions.filter(copied_from__isnull=True).select_related("model__schema__catalog")
        for mv in versions[:MAX_NODES]:
            if not version_source_of(mv):
                self.link(f"{source_type}:{getattr(mv, field)}", f"model_version:{mv.pk}", "registered",
                          entry=version_entry(mv))

    def _down_model_version(self, entries):
        copies = list(ModelVersion.objects.filter(copied_from_id__in=[e.obj.pk for e in entries])
                      .select_related("model__schema__catalog")[:MAX_NODES])
        jobs = _copy_jobs(copies)
        for mv in copies:
            self.link(f"model_version:{mv.copied_from_id}", f"model_version:{mv.pk}", "copy",
                      _job_attrs(jobs.get(mv.pk)), version_entry(mv))

    def _down_alias(self, entries):
        for e in entries:
            self.link(e.node.key, f"model_version:{e.obj.version_id}", "alias", entry=version_entry(e.obj.version))

    # ---- aliases and the result -------------------------------------------------------------------------

    def attach_aliases(self) -> None:
        """Aliases are pointers rather than lineage steps: every visible version shows the aliases on it."""
        versions = [int(e.node.id) for k, e in self.entries.items()
                    if e.node.type == "model_version" and e.obj is not None and self.visible.get(k)]
        aliases = ModelAlias.objects.filter(version_id__in=versions).select_related("model__schema__catalog", "version")
        for a in aliases.order_by("alias"):
            entry = alias_entry(a)
            self.put(entry)
            self.edges.setdefault((entry.node.key, f"model_version:{a.version_id}", "alias"),
                                  Edge(entry.node.key, f"model_version:{a.version_id}", "alias"))
        self.decide()

    def graph(self, root: str, direction: str, depth: int) -> Graph:
        self.decide()
        public: dict[str, str] = {}
        hidden_count = 0
        out = Graph(root=root, direction=direction, depth=depth, truncated=self.truncated)
        for key, entry in self.entries.items():
            if self.visible[key]:
                public[key] = key
                out.add_node(entry.node)
            else:
                # Opaque and per response: the same hidden object gets no stable handle across queries.
                hidden_count += 1
                node = out.add_node(Node(RESTRICTED, f"r{hidden_count}"))
                public[key] = node.key
        versions: dict[str, set] = defaultdict(set)
        for (source, target, label), edge in self.edges.items():
            if source not in public or target not in public:
                continue
            hidden = not (self.visible[source] and self.visible[target])
            out.add_edge(Edge(public[source], public[target], label if not hidden or label in STRUCTURAL_LABELS else "",
                              {} if hidden else edge.attrs))
            if not hidden and edge.attrs.get("table_version"):
                versions[source].add(edge.attrs["table_version"])
        for key, found in versions.items():
            out.nodes[key].attrs["versions"] = sorted(found, key=lambda v: (len(v), v))
        return out


def _copy_jobs(copies: list[ModelVersion]) -> dict[int, Job]:
    """The job that made each copy (its registration, or the copy/migration that created it), newest last."""
    if not copies:
        return {}
    jobs = Job.objects.filter(model_version_id__in=[mv.pk for mv in copies], kind__in=_COPY_JOB_KINDS)
    return {job.model_version_id: job for job in jobs.order_by("created_at", "pk")}


def _params(job: Job | None) -> dict | None:
    return job.params if job is not None and isinstance(job.params, dict) else None


def _job_attrs(job: Job | None) -> dict:
    return {"job_id": job.pk, "job_kind": job.kind, "job_state": job.state} if job is not None else {}
