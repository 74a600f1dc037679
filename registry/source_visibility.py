"""Where a model version came from, as one principal may see it: its source URI, the version it was copied
from, its run (id and link) and its logged model. The rule is lineage's (registry/lineage): a copy's source is
shown to whoever may read the source model, a run or a logged model to whoever may read its experiment; anything
else is masked, so that no adapter names, through a visible version, an object the principal may not see.

`attach_provenance` answers for a whole list in one query (a second one only when a listed copy's source
version has been deleted); adapters read the answer with `provenance_of(mv)`."""
from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.db.models import BooleanField, Exists, OuterRef, QuerySet, Subquery
from django.db.models.expressions import RawSQL

from registry import permission_sql, permissions, upload_area
from registry.models import Experiment, Job, LoggedModel, ModelVersion, RegisteredModel, Run

# What a masked value reads as. The scheme is kept (lineage also shows that the hidden end is a copy or a run);
# everything after it is not. `resolve_source` refuses it cleanly, so a client that sends it back gets a 400.
RESTRICTED = "<restricted>"
_SCHEMES = ("runs:/", "models:/", "mlflow-artifacts:/")
_LOGGED_MODEL_URI = re.compile(r"^models:/m-[A-Za-z0-9]{1,62}$")
_VERSION_URI = re.compile(r"^models:/[^/]+/\d+$")
_MANAGED_PATH = re.compile(r"^registry/(?P<uid>[0-9a-f]{32})(/|$)")
_RUN_OR_LOGGED_MODEL_PATH = re.compile(r"^(?P<experiment>\d{1,18})/")
# The jobs that copy files into a version, as lineage finds a deleted source through them.
_COPY_JOB_KINDS = (Job.Kind.REGISTER, Job.Kind.COPY, Job.Kind.MIGRATE)


@dataclass(frozen=True)
class Provenance:
    source: str  # as registered, or masked (`models:/<restricted>`)
    source_visible: bool
    run_id: str  # "" when the run may not be read (or no longer exists)
    run_link: str
    logged_model_id: str  # "" when its experiment may not be read
    copied_from_id: int | None  # the source version, only when its model may be read


def masked_source(source: str) -> str:
    scheme = next((s for s in _SCHEMES if source.startswith(s)), "")
    return f"{scheme}{RESTRICTED}"


def masked_audit_params(params: dict, provenance: Provenance) -> dict:
    """An audit event's parameters of this version (create, copy) without what the provenance masks."""
    params = dict(params or {})
    if not provenance.source_visible and params.get("source"):
        params["source"] = provenance.source if str(params["source"]).count(":/") else RESTRICTED
    if params.get("run_id") and not provenance.run_id:
        params["run_id"] = RESTRICTED
    return params


def provenance_of(mv: ModelVersion) -> Provenance:
    try:
        return mv.provenance
    except AttributeError:
        # Serializing a version without deciding what its reader may see would leak: fail loudly instead.
        raise RuntimeError(f"provenance of {mv!r} was not loaded (call attach_provenance first)") from None


def attach_provenance(*, actor, versions: Iterable[ModelVersion]) -> list[ModelVersion]:
    """Set `mv.provenance` on each version for `actor` and return the versions."""
    versions = list(versions)
    answers = version_provenance(actor=actor, versions=versions)
    for mv in versions:
        mv.provenance = answers[mv.pk]
    return versions


def version_provenance(*, actor, versions: Iterable[ModelVersion]) -> dict[int, Provenance]:
    versions = [mv for mv in versions if mv.pk is not None]
    if not versions:
        return {}
    if permissions.is_admin(actor):
        return {mv.pk: _provenance(mv, True, True, True, True) for mv in versions}
    if permissions.anonymous_or_inactive(actor):
        return {mv.pk: _provenance(mv, False, False, False, False) for mv in versions}
    return _decided(actor, versions)


def source_kind(mv: ModelVersion) -> str:
    """run, logged_model, copy, artifacts, upload (from another deployment), remote (imported from a remote
    registry) or other: what the version's source designates."""
    source = mv.source or ""
    if source.startswith("runs:/"):
        return "run"
    if _LOGGED_MODEL_URI.match(source):
        return "logged_model"
    if mv.copied_from_id or _VERSION_URI.match(source):
        return "copy"
    if source.startswith("mlflow-artifacts:"):
        return "artifacts"
    if upload_area.is_area_source(source):
        return "upload"
    if source.startswith("remote:"):  # imported from a remote registry (registry/services/remote_registries.py)
        return "remote"
    return "other"


def _artifact_path(source: str) -> str:
    return source[len("mlflow-artifacts:"):].lstrip("/")


_BASE_COLUMNS = ("run_ok", "logged_ok", "copied_ok")
_ROW = "_provenance_row"  # a version's base columns, fetched with it (annotate_provenance)


def _base_columns(actor, version_id_sql: str) -> dict:
    """Whether `actor` may read a version's run, logged model and copy source, as boolean columns of a query whose
    rows name the version by `version_id_sql`. Raw SQL from the same rules as `permissions.restrict`
    (registry.permission_sql): compiling them as Q objects cost ~10 ms a column."""
    q = connection.ops.quote_name
    versions, experiments = q(ModelVersion._meta.db_table), q(Experiment._meta.db_table)
    readable_experiment, experiment_params = permission_sql.rule_sql(actor, Experiment, permissions.Action.READ, "pe")
    readable_model, model_params = permission_sql.rule_sql(actor, RegisteredModel, permissions.Action.READ, "pm")
    through = {
        "run_ok": (f"JOIN {q(Run._meta.db_table)} pr ON pr.run_id = pv.run_id "
                   f"JOIN {experiments} pe ON pe.id = pr.experiment_id", readable_experiment, experiment_params),
        "logged_ok": (f"JOIN {q(LoggedModel._meta.db_table)} pl ON pl.model_id = pv.logged_model_id "
                      f"JOIN {experiments} pe ON pe.id = pl.experiment_id", readable_experiment, experiment_params),
        "copied_ok": (f"JOIN {versions} ps ON ps.id = pv.copied_from_id "
                      f"JOIN {q(RegisteredModel._meta.db_table)} pm ON pm.id = ps.model_id", readable_model,
                      model_params),
    }
    return {name: RawSQL(f"EXISTS (SELECT 1 FROM {versions} pv {joins} WHERE pv.id = {version_id_sql} AND {rule})",
                         params, output_field=BooleanField())
            for name, (joins, rule, params) in through.items()}


def _version_id_sql(queryset: QuerySet, prefix: str) -> str:
    q = connection.ops.quote_name
    table = q(queryset.model._meta.db_table)
    if not prefix:
        return f"{table}.id"
    field = queryset.model._meta.get_field(prefix.removesuffix("__"))  # one step: an alias's version
    return f"{table}.{q(field.column)}"


def annotate_provenance(actor, queryset: QuerySet, prefix: str = "") -> QuerySet:
    """`queryset` (of versions, or of rows reaching one through the foreign key `prefix`, as `version__`) with what
    `attach_provenance` needs for `actor` fetched in the same query, so that it answers without one of its own for
    the common sources. Nothing is added where no query is needed (an admin, an anonymous caller)."""
    if permissions.is_admin(actor) or permissions.anonymous_or_inactive(actor):
        return queryset
    columns = _base_columns(actor, _version_id_sql(queryset, prefix))
    return queryset.annotate(**{f"prov_{name}": column for name, column in columns.items()})


def keep_provenance_row(actor, row, mv: ModelVersion) -> ModelVersion:
    """Move the columns `annotate_provenance(actor, ...)` put on `row` (a version, or the alias that found it) onto
    `mv`, marked with the actor they were decided for: `attach_provenance` reads them for that actor only."""
    if hasattr(row, "prov_run_ok"):
        setattr(mv, _ROW, (actor.pk, {name: getattr(row, f"prov_{name}") for name in _BASE_COLUMNS}))
    return mv


def _fetched_row(actor, mv: ModelVersion) -> dict | None:
    kept = getattr(mv, _ROW, None)
    return kept[1] if kept is not None and kept[0] == actor.pk else None


def _decided(actor, versions: list[ModelVersion]) -> dict[int, Provenance]:
    kinds = {mv.pk: source_kind(mv) for mv in versions}
    orphans = [mv.pk for mv in versions if kinds[mv.pk] == "copy" and not mv.copied_from_id]
    # Artifact-path sources name their owner by path: an experiment id, or a managed model's uid.
    experiments, uids = {}, {}
    for mv in versions:
        if kinds[mv.pk] == "artifacts":
            path = _artifact_path(mv.source)
            if match := _MANAGED_PATH.match(path):
                uids.setdefault(match["uid"], f"uid_{len(uids)}")
            elif match := _RUN_OR_LOGGED_MODEL_PATH.match(path):
                experiments.setdefault(int(match["experiment"]), f"experiment_{len(experiments)}")
    fetched = {mv.pk: _fetched_row(actor, mv) for mv in versions}
    if not (orphans or experiments or uids) and None not in fetched.values():
        rows = fetched  # fetched with the versions: no query
    else:
        rows = _provenance_rows(actor, versions, orphans, experiments, uids)
    return _answers(actor, versions, kinds, orphans, experiments, uids, rows)


def _provenance_rows(actor, versions, orphans, experiments, uids) -> dict[int, dict]:
    columns = _base_columns(actor, f"{connection.ops.quote_name(ModelVersion._meta.db_table)}.id")
    if orphans:
        # The copy's job recorded the source's managed location, keyed by the source model's uid.
        jobs = Job.objects.filter(model_version_id=OuterRef("pk"), kind__in=_COPY_JOB_KINDS).order_by("-created_at",
                                                                                                      "-pk")
        columns["job_location"] = Subquery(jobs.values("params__source_location")[:1])
    for pk, column in experiments.items():
        columns[column] = Exists(permissions.restrict(actor, Experiment.objects.filter(pk=pk)))
    for uid, column in uids.items():
        columns[column] = Exists(permissions.restrict(actor, RegisteredModel.objects.filter(uid=uid)))
    return {row["pk"]: row for row in
            ModelVersion.objects.filter(pk__in=[mv.pk for mv in versions]).order_by().values("pk", **columns)}


def _answers(actor, versions, kinds, orphans, experiments, uids, rows) -> dict[int, Provenance]:
    orphan_uids = {}
    for pk in orphans:
        location = (rows.get(pk) or {}).get("job_location")
        match = _MANAGED_PATH.match(location) if isinstance(location, str) else None
        if match:
            orphan_uids[pk] = match["uid"]
    readable_uids = set()
    if orphan_uids:
        readable_uids = {u.hex for u in permissions.restrict(actor, RegisteredModel.objects.filter(
            uid__in=set(orphan_uids.values()))).values_list("uid", flat=True)}
    result = {}
    for mv in versions:
        row = rows.get(mv.pk) or {}  # a version deleted meanwhile: nothing about it is shown
        run_ok, logged_ok, copied_ok = bool(row.get("run_ok")), bool(row.get("logged_ok")), bool(row.get("copied_ok"))
        kind = kinds[mv.pk]
        if kind == "run":
            source_ok = run_ok
        elif kind == "logged_model":
            source_ok = logged_ok
        elif kind == "copy":
            source_ok = copied_ok if mv.copied_from_id else orphan_uids.get(mv.pk) in readable_uids
        elif kind == "artifacts":
            path = _artifact_path(mv.source)
            if match := _MANAGED_PATH.match(path):
                source_ok = bool(row.get(uids[match["uid"]]))
            elif match := _RUN_OR_LOGGED_MODEL_PATH.match(path):
                source_ok = bool(row.get(experiments[int(match["experiment"])]))
            else:
                source_ok = False
        elif kind in ("upload", "remote"):
            # Another deployment's run and logged model, uploaded and copied into the version: nothing here to
            # hide them behind, so whoever may read the version sees where it came from.
            source_ok = run_ok = logged_ok = True
        else:
            source_ok = False
        result[mv.pk] = _provenance(mv, source_ok, run_ok, logged_ok, copied_ok)
    return result


def _provenance(mv: ModelVersion, source_ok: bool, run_ok: bool, logged_ok: bool, copied_ok: bool) -> Provenance:
    source = mv.source or ""
    return Provenance(
        source=source if source_ok or not source else masked_source(source),
        source_visible=source_ok,
        run_id=mv.run_id if run_ok else "",
        # A link usually embeds the run's id (and its workspace): shown with the run, or with the source when the
        # version names no run.
        run_link=mv.run_link if (run_ok if mv.run_id else source_ok) else "",
        logged_model_id=mv.logged_model_id if logged_ok else "",
        copied_from_id=mv.copied_from_id if copied_ok else None,
    )


def job_params_shown(*, actor, jobs: Iterable[Job]) -> dict[int, dict]:
    """Each job's parameters as `actor` may see them: the source version a copy was made from, and the workspace
    model a migration reads, are masked unless the actor may read them (a job is visible to readers of its
    destination, who need not see its source)."""
    jobs = list(jobs)
    versions = {job.model_version.pk: job.model_version for job in jobs
                if job.model_version is not None and "source_version" in (job.params or {})}
    shown = version_provenance(actor=actor, versions=versions.values())
    migrated = {job.params.get("source_model_id") for job in jobs if "source_name" in (job.params or {})}
    migrated = {pk for pk in migrated if isinstance(pk, int)}
    readable = set(permissions.restrict(actor, RegisteredModel.objects.filter(pk__in=migrated)).values_list(
        "pk", flat=True)) if migrated else set()
    result = {}
    for job in jobs:
        params = dict(job.params or {})
        if "source_version" in params:
            version = shown.get(job.model_version_id) if job.model_version_id else None
            if version is None or not version.source_visible:
                params["source_version"] = RESTRICTED
        if "source_name" in params and params.get("source_model_id") not in readable:
            params["source_name"] = RESTRICTED
        result[job.pk] = params
    return result


def mask_version_events(*, actor, events: Iterable, versions: Iterable[ModelVersion] | None = None) -> list:
    """Audit events (of versions, among others) with the source and run of each version's create and copy events
    masked as that version's provenance is for `actor`; returns the events as a list. `versions`: the versions
    the events are about, when the caller has them already (otherwise they are loaded in one query)."""
    events = list(events)
    ids = {int(e.object_id) for e in events if e.object_type == "modelversion" and str(e.object_id).isdigit()}
    if not ids or permissions.is_admin(actor):
        return events
    if versions is None:
        versions = ModelVersion.objects.filter(pk__in=ids).only("pk", "source", "run_id", "run_link",
                                                                "logged_model_id", "copied_from_id")
    shown = version_provenance(actor=actor, versions=[mv for mv in versions if mv.pk in ids])
    for event in events:
        if event.object_type == "modelversion" and str(event.object_id).isdigit():
            provenance = shown.get(int(event.object_id))
            if provenance is not None:
                event.parameters = masked_audit_params(event.parameters, provenance)
            elif isinstance(event.parameters, dict) and ("source" in event.parameters or "run_id" in event.parameters):
                # The version is gone: nothing left to decide by, so its source is not shown.
                event.parameters = {**event.parameters, **{k: RESTRICTED for k in ("source", "run_id")
                                                           if event.parameters.get(k)}}
    return events
