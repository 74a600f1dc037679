"""Visibility-aware reads of tracking data: the experiments, runs and logged models an actor may read, searches
over them, and the batched loading of their params, tags, latest metrics, inputs and outputs."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.db.models import Count, Exists, F, OuterRef, Q, QuerySet, Subquery, Window
from django.db.models.functions import RowNumber

from registry import permissions
from registry.errors import InvalidParameter, NotFound
from registry.models import (
    Experiment,
    ExperimentTag,
    LoggedModel,
    LoggedModelParam,
    LoggedModelTag,
    Metric,
    Param,
    Run,
    RunInput,
    RunModelInput,
    RunOutput,
    RunTag,
)
from registry.permissions import Action
from registry.tracking_search import (
    EXPERIMENT_ATTRIBUTES,
    LOGGED_MODEL_ATTRIBUTES,
    RUN_ATTRIBUTES,
    experiments_filter,
    latest_metric,
    logged_models_filter,
    numeric_q,
    paginate,
    parse_filter,
    parse_order_by,
    runs_filter,
)

INT64_MAX = 2**63 - 1
MAX_EXPERIMENT_IDS = 1000
MAX_DATASET_FILTERS = 100
VIEW_TYPES = {"ACTIVE_ONLY": ("active",), "DELETED_ONLY": ("deleted",), "ALL": ("active", "deleted")}
_VIEW_TYPE_NUMBERS = {1: "ACTIVE_ONLY", 2: "DELETED_ONLY", 3: "ALL"}


def experiment_not_found_message(experiment_id) -> str:
    return f"No Experiment with id={experiment_id} exists"


def run_not_found_message(run_id) -> str:
    return f"Run with id={run_id} not found"


def logged_model_not_found_message(model_id) -> str:
    return f"Logged model with ID '{model_id}' not found."


def parse_experiment_id(value, field_name: str = "experiment_id") -> int:
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if text is None or not text.isdigit() or int(text) > INT64_MAX:
        raise InvalidParameter(f"Invalid value {str(value)[:100]!r} for parameter '{field_name}': "
                               "experiment ids are strings of digits.")
    return int(text)


def parse_view_type(value, default: str = "ACTIVE_ONLY") -> tuple[str, ...]:
    if value in (None, ""):
        value = default
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        value = _VIEW_TYPE_NUMBERS.get(value, value)
    if not isinstance(value, str) or value.upper() not in VIEW_TYPES:
        raise InvalidParameter(f"Invalid view type {str(value)[:50]!r}: use ACTIVE_ONLY, DELETED_ONLY or ALL.")
    return VIEW_TYPES[value.upper()]


# ---- experiments ------------------------------------------------------------------------------------------

def experiment_list_visible(*, actor, action: Action = Action.READ) -> QuerySet[Experiment]:
    return permissions.restrict(actor, Experiment.objects.all(), action)


def experiment_get(*, actor, experiment_id) -> Experiment:
    pk = parse_experiment_id(experiment_id)
    experiment, _ = permissions.first_allowed(actor, Experiment.objects.filter(pk=pk))
    if experiment is None:
        raise NotFound(experiment_not_found_message(experiment_id))
    return experiment


def experiment_get_by_name(*, actor, name: str) -> Experiment:
    experiment, _ = permissions.first_allowed(actor, Experiment.objects.filter(name=name))
    if experiment is None:
        raise NotFound(f"Could not find experiment with name '{name}'")
    return experiment


def experiment_search(*, actor, view_type=None, filter_string=None, order_by=None, max_results: int,
                      page_token=None) -> tuple[list[Experiment], str | None]:
    stages = parse_view_type(view_type)
    qs = experiment_list_visible(actor=actor).filter(lifecycle_stage__in=stages)
    qs = experiments_filter(qs, parse_filter(filter_string))
    ordering = []
    for clause in _order_by_list(order_by) or ["creation_time DESC", "experiment_id ASC"]:
        entity, key, ascending = parse_order_by(clause)
        if entity != "attribute" or key not in EXPERIMENT_ATTRIBUTES:
            raise InvalidParameter(f"Invalid order_by clause '{clause}': experiments can be ordered by "
                                   f"{sorted(EXPERIMENT_ATTRIBUTES)}.")
        column = EXPERIMENT_ATTRIBUTES[key][0]
        ordering.append(F(column).asc() if ascending else F(column).desc())
    ordering.append(F("id").desc())
    experiments, token = paginate(qs.order_by(*ordering), max_results=max_results, page_token=page_token)
    _attach_experiment_tags(experiments)
    return experiments, token


def _attach_experiment_tags(experiments: list[Experiment]) -> None:
    tags = defaultdict(list)
    for tag in ExperimentTag.objects.filter(experiment__in=[e.pk for e in experiments]).order_by("key"):
        tags[tag.experiment_id].append(tag)
    for experiment in experiments:
        experiment.tag_list = tags[experiment.pk]


def experiment_with_tags(experiment: Experiment) -> Experiment:
    _attach_experiment_tags([experiment])
    return experiment


def _order_by_list(order_by) -> list:
    if order_by in (None, "", []):
        return []
    if isinstance(order_by, str):
        return [order_by]
    if isinstance(order_by, list) and len(order_by) <= 20:
        return order_by
    raise InvalidParameter("order_by must be a list of at most 20 clauses.")


# ---- runs -------------------------------------------------------------------------------------------------

def run_list_visible(*, actor, action: Action = Action.READ) -> QuerySet[Run]:
    return Run.objects.filter(experiment__in=experiment_list_visible(actor=actor, action=action).values("pk"))


def _owned_or_modifiable(actor) -> Q:
    """Rows (runs, logged models) `actor` may write: every row of an experiment it may modify, and its own rows
    in experiments it may still start runs in. "Open to all" grants the second, never the first."""
    if actor is None or not actor.is_authenticated or not actor.is_active:
        return Q(pk__in=[])
    modifiable = experiment_list_visible(actor=actor, action=Action.MODIFY).values("pk")
    creatable = experiment_list_visible(actor=actor, action=Action.CREATE_RUN).values("pk")
    return Q(experiment__in=modifiable) | Q(owner=actor, experiment__in=creatable)


def run_list_writable(*, actor) -> QuerySet[Run]:
    """Runs `actor` may log to, tag, update or upload artifacts to."""
    return Run.objects.filter(_owned_or_modifiable(actor))


def run_get(*, actor, run_id) -> Run:
    if not isinstance(run_id, str) or not run_id or len(run_id) > 32:
        raise NotFound(run_not_found_message(str(run_id)[:100]))
    run = Run.objects.select_related("experiment").filter(run_id=run_id).first()
    if run is None or not permissions.allows(actor, Action.READ, run.experiment):
        raise NotFound(run_not_found_message(run_id))
    return run


@dataclass
class RunDetails:
    params: list = field(default_factory=list)
    tags: list = field(default_factory=list)
    metrics: list = field(default_factory=list)  # latest value per key
    inputs: list = field(default_factory=list)  # RunInput with dataset
    outputs: list = field(default_factory=list)  # RunOutput with logged_model
    model_inputs: list = field(default_factory=list)  # RunModelInput with logged_model


def latest_metrics(run_pks) -> QuerySet[Metric]:
    """One row per (run, key): the latest value (highest step, then latest timestamp, then highest value)."""
    ranked = Metric.objects.filter(run_id__in=run_pks).annotate(rank=Window(
        RowNumber(), partition_by=[F("run_id"), F("key")],
        order_by=[F("step").desc(), F("timestamp").desc(), F("value").desc(nulls_last=True)],
    ))
    return ranked.filter(rank=1)


def run_details(runs: list[Run], *, actor=None) -> dict[int, RunDetails]:
    """Everything a run's JSON shows, for a page of runs, in a fixed number of queries. With `actor`, the model
    inputs are those it may read (a run it reads can have taken a model from an experiment it cannot)."""
    pks = [run.pk for run in runs]
    out = {pk: RunDetails() for pk in pks}
    if not pks:
        return out
    for p in Param.objects.filter(run_id__in=pks).order_by("key"):
        out[p.run_id].params.append(p)
    for t in RunTag.objects.filter(run_id__in=pks).order_by("pk"):
        out[t.run_id].tags.append(t)
    for m in sorted(latest_metrics(pks), key=lambda m: m.key):
        out[m.run_id].metrics.append(m)
    for i in RunInput.objects.filter(run_id__in=pks).select_related("dataset").order_by("pk"):
        out[i.run_id].inputs.append(i)
    for o in RunOutput.objects.filter(run_id__in=pks).select_related("logged_model").order_by("pk"):
        out[o.run_id].outputs.append(o)
    model_inputs = RunModelInput.objects.filter(run_id__in=pks)
    if actor is not None:
        model_inputs = model_inputs.filter(logged_model__in=logged_model_list_visible(actor=actor).values("pk"))
    for i in model_inputs.select_related("logged_model__source_run").order_by("pk"):
        out[i.run_id].model_inputs.append(i)
    return out


def parse_experiment_ids(values) -> list[int]:
    if len(values) > MAX_EXPERIMENT_IDS:
        raise InvalidParameter(f"A search may name at most {MAX_EXPERIMENT_IDS} experiments, got {len(values)}.")
    return [parse_experiment_id(e, "experiment_ids") for e in values]


def run_search(*, actor, experiment_ids, filter_string=None, view_type=None, order_by=None, max_results: int,
               page_token=None) -> tuple[list[Run], str | None]:
    ids = parse_experiment_ids(experiment_ids)
    stages = parse_view_type(view_type)
    qs = run_list_visible(actor=actor).select_related("experiment").filter(
        experiment_id__in=ids, lifecycle_stage__in=stages)
    qs = runs_filter(qs, parse_filter(filter_string))
    ordering = []
    for n, clause in enumerate(_order_by_list(order_by)):
        entity, key, ascending = parse_order_by(clause)
        alias = f"_order_{n}"
        if entity == "metric":
            qs = qs.annotate(**{alias: latest_metric(key)})
        elif entity in ("param", "tag"):
            model = Param if entity == "param" else RunTag
            qs = qs.annotate(**{alias: Subquery(model.objects.filter(run=OuterRef("pk"), key=key).values("value")[:1])})
        elif entity == "attribute" and key in RUN_ATTRIBUTES:
            alias = RUN_ATTRIBUTES[key][0]
        else:
            raise InvalidParameter(f"Invalid order_by clause '{clause}'.")
        ordering.append(F(alias).asc(nulls_last=True) if ascending else F(alias).desc(nulls_last=True))
    ordering += [F("start_time").desc(nulls_last=True), F("run_id").asc()]
    return paginate(qs.order_by(*ordering), max_results=max_results, page_token=page_token)


def metric_history(*, actor, run_id: str, key: str, max_results: int | None, page_token=None):
    run = run_get(actor=actor, run_id=run_id)
    qs = Metric.objects.filter(run=run, key=key).order_by("step", "timestamp", "pk")
    if max_results is None:
        return list(qs), None
    return paginate(qs, max_results=max_results, page_token=page_token)


def metric_histories(run_pks, keys, *, points: int) -> dict[tuple[int, str], dict]:
    """For several runs (already checked as visible) and metric `keys`, in one query: the last `points` points of
    each (run pk, key) as {"points": [(step, value or None for NaN)] in step order, "total": points logged}."""
    run_pks, keys = list(run_pks), list(keys)
    if not run_pks or not keys:
        return {}
    partition = [F("run_id"), F("key")]
    ranked = Metric.objects.filter(run_id__in=run_pks, key__in=keys).annotate(
        rank=Window(RowNumber(), partition_by=partition, order_by=[F("step").desc(), F("timestamp").desc(),
                                                                   F("pk").desc()]),
        total=Window(Count("pk"), partition_by=partition),
    )
    out: dict[tuple[int, str], dict] = {}
    rows = ranked.filter(rank__lte=points).values_list("run_id", "key", "step", "value", "rank", "total")
    for run_pk, key, step, value, rank, total in rows:
        entry = out.setdefault((run_pk, key), {"points": [], "total": total})
        entry["points"].append((rank, step, value))
    for entry in out.values():
        entry["points"] = [(step, value) for _, step, value in sorted(entry["points"], key=lambda p: -p[0])]
    return out


# ---- logged models ----------------------------------------------------------------------------------------

def logged_model_list_visible(*, actor, action: Action = Action.READ) -> QuerySet[LoggedModel]:
    visible = experiment_list_visible(actor=actor, action=action).values("pk")
    return LoggedModel.objects.filter(experiment__in=visible).select_related("source_run")


def logged_model_list_writable(*, actor) -> QuerySet[LoggedModel]:
    """Logged models `actor` may finalize, tag, or upload artifacts to (same rule as runs)."""
    return LoggedModel.objects.filter(_owned_or_modifiable(actor))


def logged_model_get(*, actor, model_id, allow_deleted: bool = False) -> LoggedModel:
    if not isinstance(model_id, str) or not model_id or len(model_id) > 64:
        raise NotFound(logged_model_not_found_message(str(model_id)[:100]))
    qs = LoggedModel.objects.select_related("source_run", "experiment").filter(model_id=model_id)
    if not allow_deleted:
        qs = qs.filter(lifecycle_stage="active")
    model = qs.first()
    if model is None or not permissions.allows(actor, Action.READ, model.experiment):
        raise NotFound(logged_model_not_found_message(model_id))
    return model


@dataclass
class LoggedModelDetails:
    params: list = field(default_factory=list)
    tags: list = field(default_factory=list)
    metrics: list = field(default_factory=list)


def logged_model_details(models: list[LoggedModel]) -> dict[int, LoggedModelDetails]:
    out = {m.pk: LoggedModelDetails() for m in models}
    if not models:
        return out
    by_model_id = {m.model_id: m.pk for m in models}
    for p in LoggedModelParam.objects.filter(logged_model_id__in=out).order_by("key"):
        out[p.logged_model_id].params.append(p)
    for t in LoggedModelTag.objects.filter(logged_model_id__in=out).order_by("key"):
        out[t.logged_model_id].tags.append(t)
    metrics = Metric.objects.filter(model_id__in=by_model_id).select_related("run").order_by("key", "step", "timestamp")
    for m in metrics:
        out[by_model_id[m.model_id]].metrics.append(m)
    return out


def _on_datasets(qs: QuerySet[LoggedModel], comparisons, datasets) -> QuerySet[LoggedModel]:
    """MLflow's `datasets` clause of a logged-model search: [{dataset_name, dataset_digest?}, ...]. Each metric
    comparison must hold for a metric logged on one of them; without metric comparisons, a model must have some
    metric logged on one of them."""
    if not datasets:
        return qs
    if not isinstance(datasets, list) or len(datasets) > MAX_DATASET_FILTERS:
        raise InvalidParameter(f"datasets must be a list of at most {MAX_DATASET_FILTERS} objects.")
    on_datasets = Q(pk__in=[])
    for d in datasets:
        name = d.get("dataset_name") if isinstance(d, dict) else None
        if not name or not isinstance(name, str):
            raise InvalidParameter("`dataset_name` in the `datasets` clause must be specified.")
        digest = d.get("dataset_digest")
        if digest not in (None, "") and not isinstance(digest, str):
            raise InvalidParameter("`dataset_digest` in the `datasets` clause must be a string.")
        on_datasets |= Q(dataset_name=name, dataset_digest=digest) if digest else Q(dataset_name=name)
    rows = Metric.objects.filter(on_datasets, model_id=OuterRef("model_id"))
    metric_comparisons = [c for c in comparisons if c.entity == "metric"]
    for c in metric_comparisons:
        qs = qs.filter(Exists(rows.filter(numeric_q("value", c.op, c.value), key=c.key)))
    return qs if metric_comparisons else qs.filter(Exists(rows))


def logged_model_search(*, actor, experiment_ids, filter_string=None, order_by=None, max_results: int,
                        page_token=None, datasets=None) -> tuple[list[LoggedModel], str | None]:
    ids = parse_experiment_ids(experiment_ids)
    qs = logged_model_list_visible(actor=actor).filter(experiment_id__in=ids, lifecycle_stage="active")
    comparisons = parse_filter(filter_string)
    qs = _on_datasets(logged_models_filter(qs, comparisons), comparisons, datasets)
    ordering = []
    if order_by in (None, ""):
        order_by = []
    if not isinstance(order_by, list) or len(order_by) > 20:
        raise InvalidParameter("order_by must be a list of at most 20 objects.")
    for n, clause in enumerate(order_by):
        if not isinstance(clause, dict) or not isinstance(clause.get("field_name"), str):
            raise InvalidParameter("Each order_by entry must be an object with a string 'field_name'.")
        name, ascending = clause["field_name"], clause.get("ascending", True)
        if not isinstance(ascending, bool):
            raise InvalidParameter("order_by 'ascending' must be a boolean.")
        alias = f"_order_{n}"
        if name.startswith("metrics."):
            rows = Metric.objects.filter(model_id=OuterRef("model_id"), key=name[len("metrics."):])
            qs = qs.annotate(**{alias: Subquery(rows.order_by("-step", "-timestamp").values("value")[:1])})
        elif name.removeprefix("attributes.") in LOGGED_MODEL_ATTRIBUTES:
            alias = LOGGED_MODEL_ATTRIBUTES[name.removeprefix("attributes.")][0]
        else:
            raise InvalidParameter(f"Invalid order_by field '{name[:100]}'.")
        ordering.append(F(alias).asc(nulls_last=True) if ascending else F(alias).desc(nulls_last=True))
    ordering += [F("creation_timestamp_ms").desc(), F("model_id").asc()]
    return paginate(qs.order_by(*ordering), max_results=max_results, page_token=page_token)
