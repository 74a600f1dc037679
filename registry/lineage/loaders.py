"""Batched loading of lineage nodes by type: one query per node type per call, whatever the number of ids, so a
graph costs a few queries per level rather than a few per node. Each node carries its visibility scope: the
experiment or registered model whose READ rule decides whether the actor may see it. The start node is loaded
with its visibility in the same query (`load_root`)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field

from django.db.models import Exists, OuterRef, Q

from registry import permissions, upload_area
from registry.lineage.capture import classify, source_uri
from registry.lineage.graph import Node
from registry.models import Dataset, Experiment, LoggedModel, ModelAlias, ModelVersion, RegisteredModel, Run
from registry.selectors import alias_lookup, model_lookup

_VERSION_URI = re.compile(r"^models:/(?P<name>[^/]+)/(?P<version>\d+)$")
_MANAGED_LOCATION = re.compile(r"^registry/(?P<uid>[0-9a-f]{32})/versions/(?P<version>\d+)$")


@dataclass
class Scope:
    """What decides visibility: `experiments` (any readable one will do), `model`, or `public` (the id is already
    shown on the visible object that references it); no scope at all means only admins may see the node."""

    experiments: set = field(default_factory=set)
    model: int | None = None
    public: bool = False


@dataclass
class Loaded:
    node: Node
    scope: Scope
    obj: object = None  # the row, for expansion (Run, ModelVersion, …); None for ghosts and tables


def version_source_of(mv: ModelVersion) -> tuple[str, int] | None:
    """(model name, version) when the version was copied from another version (`models:/<name>/<n>`)."""
    match = _VERSION_URI.match(mv.source or "")
    return (match["name"], int(match["version"])) if match else None


def run_entry(run: Run) -> Loaded:
    return Loaded(Node("run", run.run_id, run.name or run.run_id, run.lifecycle_stage == "deleted",
                       {"run_id": run.run_id, "experiment_id": str(run.experiment_id), "status": run.status}),
                  Scope(experiments={run.experiment_id}), run)


def experiment_entry(e: Experiment) -> Loaded:
    return Loaded(Node("experiment", str(e.pk), e.name, e.lifecycle_stage == "deleted", {}), Scope({e.pk}), e)


def logged_model_entry(m: LoggedModel) -> Loaded:
    return Loaded(Node("logged_model", m.model_id, m.name, m.lifecycle_stage == "deleted",
                       {"model_id": m.model_id, "experiment_id": str(m.experiment_id)}), Scope({m.experiment_id}), m)


def version_entry(mv: ModelVersion) -> Loaded:
    full = mv.model.full_name
    return Loaded(Node("model_version", str(mv.pk), f"{full} v{mv.version}", False,
                       {"model": full, "version": mv.version, "status": mv.status}), Scope(model=mv.model_id), mv)


def alias_entry(a: ModelAlias) -> Loaded:
    full = a.model.full_name
    return Loaded(Node("alias", str(a.pk), f"{full}@{a.alias}", False,
                       {"alias": a.alias, "model": full, "version": a.version.version}), Scope(model=a.model_id), a)


def dataset_entry(d: Dataset) -> Loaded:
    ref = classify(name=d.name, source_type=d.source_type, source_text=d.source)
    return Loaded(Node("dataset", str(d.pk), d.name, False,
                       {"digest": d.digest, "source_type": d.source_type, "source": ref.source or d.source,
                        "source_uri": source_uri(ref.source), "experiment_id": str(d.experiment_id)}),
                  Scope({d.experiment_id}), d)


def table_entry(name: str, experiments: set) -> Loaded:
    return Loaded(Node("table", name, name, False, {}), Scope(experiments=set(experiments)))


_ENTRIES = {"run": run_entry, "experiment": experiment_entry, "logged_model": logged_model_entry,
            "model_version": version_entry, "alias": alias_entry, "dataset": dataset_entry}


def remote_run_entry(mv: ModelVersion) -> Loaded:
    """The run on another deployment that a version uploaded from there names (its id is shown on the version)."""
    return Loaded(Node("remote_run", mv.run_id or f"unknown-{mv.pk}", mv.run_id or "unknown run", False,
                       {"link": link} if (link := upload_area.web_link(mv.run_link)) else {}), Scope(public=True))


def ghost(type_: str, ident: str, scope: Scope, name: str = "") -> Loaded:
    """An object that a live row still references but that no longer exists: shown as deleted, never dropped."""
    return Loaded(Node(type_, ident, name, True, {}), scope)


def datasets_of_tables(names, rows=None) -> dict[str, list[Dataset]]:
    """The dataset rows that designate each table. The LIKE on the last name part narrows the scan to one query;
    the exact match is decided by parsing the source (names may be quoted or cased differently). `rows` may
    adjust that query (e.g. annotate it)."""
    names = set(names)
    if not names:
        return {}
    q = Q(pk__in=[])
    for name in names:
        q |= Q(source__icontains=name.rsplit(".", 1)[-1])
    found: dict[str, list[Dataset]] = {name: [] for name in names}
    queryset = Dataset.objects.filter(q)
    for d in (rows(queryset) if rows else queryset):
        ref = classify(name=d.name, source_type=d.source_type, source_text=d.source)
        if ref.kind == "table" and ref.name in found:
            found[ref.name].append(d)
    return found


def _int_ids(ids) -> list[int]:
    return [int(i) for i in ids if i.isdigit() and len(i) < 19]


def load(type_: str, ids: set[str]) -> dict[str, Loaded]:
    """Nodes of one type by id; ids that do not exist are absent from the result."""
    if not ids:
        return {}
    out: dict[str, Loaded] = {}
    if type_ == "run":
        for run in Run.objects.filter(run_id__in=ids):
            out[run.run_id] = run_entry(run)
    elif type_ == "experiment":
        for e in Experiment.objects.filter(pk__in=_int_ids(ids)):
            out[str(e.pk)] = experiment_entry(e)
    elif type_ == "logged_model":
        for m in LoggedModel.objects.filter(model_id__in=ids).select_related("source_run"):
            out[m.model_id] = logged_model_entry(m)
    elif type_ == "model_version":
        for mv in ModelVersion.objects.filter(pk__in=_int_ids(ids)).select_related("model__schema__catalog"):
            out[str(mv.pk)] = version_entry(mv)
    elif type_ == "alias":
        aliases = ModelAlias.objects.filter(pk__in=_int_ids(ids)).select_related("model__schema__catalog",
                                                                           "version__model__schema__catalog")
        for a in aliases:
            out[str(a.pk)] = alias_entry(a)
    elif type_ == "dataset":
        for d in Dataset.objects.filter(pk__in=_int_ids(ids)):
            out[str(d.pk)] = dataset_entry(d)
    elif type_ == "table":
        for name, datasets in datasets_of_tables(ids).items():
            if datasets:
                out[name] = table_entry(name, {d.experiment_id for d in datasets})
    return out


def load_root(actor, type_: str, ident: str) -> Loaded | None:
    """The start node if it exists and `actor` may see it, else None. Existence and visibility are answered by
    one query (the row with a `visible` column), so a hidden node and a missing one take the same path and cost
    the same. Accepts the readable forms `model_version:<name>/<n>` and `alias:<name>@<alias>` too."""
    found = _root_rows(actor, type_, ident)
    if found is None:
        return None
    if type_ == "table":
        datasets = list(found)
        if not any(d.visible for d in datasets):
            return None
        return table_entry(ident, {d.experiment_id for d in datasets})
    row = found.first()
    if row is None or not row.visible:
        return None
    return _ENTRIES[type_](row)


def _readable(actor, cls, column: str):
    """Whether `actor` may see the row's securable (`column` holds its key), as a boolean column."""
    return Exists(permissions.restrict(actor, cls.objects.filter(pk=OuterRef(column))))


def _root_rows(actor, type_: str, ident: str):
    def by_experiment():
        return {"visible": _readable(actor, Experiment, "experiment_id")}

    def by_model():
        return {"visible": _readable(actor, RegisteredModel, "model_id")}

    if type_ == "run":
        return Run.objects.filter(run_id=ident).annotate(**by_experiment())
    if type_ == "experiment":
        return Experiment.objects.filter(pk__in=_int_ids([ident])).annotate(visible=_readable(actor, Experiment, "pk"))
    if type_ == "logged_model":
        return LoggedModel.objects.filter(model_id=ident).select_related("source_run").annotate(**by_experiment())
    if type_ == "dataset":
        return Dataset.objects.filter(pk__in=_int_ids([ident])).annotate(**by_experiment())
    if type_ == "table":
        return datasets_of_tables([ident], rows=lambda qs: qs.annotate(**by_experiment()))[ident]
    if type_ == "model_version":
        rows = ModelVersion.objects.select_related("model__schema__catalog").annotate(**by_model())
        if ident.isdigit():
            return rows.filter(pk__in=_int_ids([ident]))
        name, sep, number = ident.rpartition("/")
        if not sep or not number.isdigit() or len(number) > 9:
            return None
        return rows.filter(model__in=_models_named(name), version=int(number))
    if type_ == "alias":
        if ident.isdigit():
            rows = ModelAlias.objects.filter(pk__in=_int_ids([ident]))
        else:
            name, sep, alias = ident.rpartition("@")
            if not sep:
                return None
            rows = alias_lookup(_models_named(name), alias)
        return rows.select_related("model__schema__catalog", "version__model__schema__catalog").annotate(**by_model())
    return None


def _models_named(name: str):
    try:
        return model_lookup(name)
    except Exception:  # an invalid name simply names nothing; the caller answers "not found"
        return RegisteredModel.objects.none()


def source_location_uid(job_params: dict | None) -> tuple[str, str] | None:
    """(model uid hex, version) of the source a registration job copied from, when it was a managed version."""
    location = (job_params or {}).get("source_location", "")
    match = _MANAGED_LOCATION.match(location) if isinstance(location, str) else None
    return (match["uid"], match["version"]) if match else None


def models_by_uid(uids) -> dict[str, RegisteredModel]:
    uids = list(set(uids))
    if not uids:
        return {}
    return {m.uid.hex: m for m in RegisteredModel.objects.select_related("schema__catalog").filter(uid__in=uids)}


def ghost_source_version(copy: ModelVersion, job_params: dict | None, models: dict[str, RegisteredModel]) -> Loaded:
    """The deleted version a copy was made from. The copy's registration job recorded the source's managed
    location, keyed by the source model's immutable uid, so the source model is found even after a rename."""
    source = version_source_of(copy)
    number = source[1] if source else 0
    match = source_location_uid(job_params)
    model = models.get(match[0]) if match else None
    if model is not None:
        return ghost("model_version", f"{model.uid.hex}/{match[1]}", Scope(model=model.pk),
                     f"{model.full_name} v{match[1]}")
    # The source model is gone too: nothing left to decide visibility by, so only admins see what it was.
    return ghost("model_version", f"copy-source-{copy.pk}", Scope(), f"{source[0]} v{number}" if source else "")
