"""Tracking pages: experiments, an experiment's runs, a run (Overview, Artifacts, Lineage) and the Register-model dialog
that turns one of a run's logged models into a model version. Reads go through registry/tracking_selectors.py
(visibility-aware); every change goes through a registry service."""
from __future__ import annotations

import functools
import math
from urllib.parse import urlencode

from django import forms
from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from explorer.forms import add_registry_error
from explorer.tabs import RUN_TABS, render_tabs
from explorer.views.charts import column_choices, experiment_charts, metric_summary
from explorer.views.common import dialog_done, paginate, render_dialog, ui_view
from explorer.views.lineage import lineage_context
from explorer.views.version import artifact_browser, artifact_download, store_root
from registry import permissions, search
from registry import tracking_selectors as ts
from registry.errors import InvalidParameter, NotFound, RegistryError
from registry.lineage.capture import classify, input_context, source_uri
from registry.permissions import Action
from registry.search.pages import encode_page_token
from registry.selectors import model_get
from registry.services.core import all_or_nothing
from registry.services.models import registered_model_create
from registry.services.versions import model_version_create
from registry.tracking_search import RUN_ATTRIBUTES, parse_filter, parse_order_by, runs_filter

MAX_PARAM_COLUMNS = 10
MAX_METRIC_COLUMNS = 10
MAX_SPARKLINES = 20
SPARKLINE_POINTS = 200
SPARK_W, SPARK_H = 120, 24
MAX_LOGGED_MODELS = 200
MAX_NAME_SUGGESTIONS = 100  # model names offered in the register dialog
MAX_CHOSEN_COLUMNS = 30  # param (and metric) columns the column chooser may show


def _experiment(actor, experiment_id: str):
    try:
        return ts.experiment_get(actor=actor, experiment_id=experiment_id)
    except InvalidParameter:
        raise NotFound(ts.experiment_not_found_message(str(experiment_id)[:100])) from None


def _crumbs(experiment=None, run=None) -> list:
    crumbs = [("Experiments", reverse("explorer:experiments"))]
    if experiment is not None:
        crumbs.append((experiment.name, reverse("explorer:experiment", args=[str(experiment.pk)])))
    if run is not None:
        crumbs.append((run.name or run.run_id, reverse("explorer:run", args=[run.run_id])))
    return crumbs


# Experiments ----------------------------------------------------------------------------------------------

@ui_view
def experiments(request: HttpRequest) -> HttpResponse:
    qs = (ts.experiment_list_visible(actor=request.user).filter(lifecycle_stage="active")
          .select_related("owner_user", "owner_group")
          .annotate(run_count=Count("runs", filter=Q(runs__lifecycle_stage="active")))
          .order_by("-last_update_time", "-id"))
    page = paginate(request, qs)
    return render(request, "explorer/experiments.html", {
        "page": page, "experiments": list(page.object_list), "breadcrumbs": _crumbs()})


class RunSearchPages:
    """The REST API's runs/search (`ts.run_search`: the same visibility, filter grammar, SQL and order_by) as a
    sequence Django's Paginator can page: a slice is one run_search call at that offset, count() the number of
    runs the filter matches. Building it parses the filter, so a bad one fails before any query."""

    def __init__(self, *, actor, experiment, filter_string: str, order_by: str):
        self.search = {"actor": actor, "experiment_ids": [str(experiment.pk)], "filter_string": filter_string or None,
                       "order_by": [order_by]}
        self.comparisons = parse_filter(filter_string)
        active = ts.run_list_visible(actor=actor).filter(experiment=experiment, lifecycle_stage="active")
        self.matching = runs_filter(active, self.comparisons)

    def count(self) -> int:
        return self.matching.count()

    def __getitem__(self, window: slice) -> list:
        if window.stop <= window.start:
            return []
        runs, _ = ts.run_search(**self.search, max_results=window.stop - window.start,
                                page_token=encode_page_token(window.start))
        return runs


# The runs table's fixed columns: label, the order_by identifier a click sorts by, what a first click asks for.
RUN_COLUMNS = (("Run", "attributes.run_name", "ASC"), ("Status", "attributes.status", "ASC"),
               ("Start time", "attributes.start_time", "DESC"), ("User", "attributes.user_id", "ASC"))
_ENTITY_PREFIX = {"param": "params", "metric": "metrics"}


def _sort_key(clause: str) -> tuple[tuple[str, str], bool]:
    """(column identity, ascending) of an order_by clause: attributes by the field they name, so
    `attributes.created` and `start_time` are the Start time column."""
    entity, key, ascending = parse_order_by(clause)
    if entity == "attribute" and key in RUN_ATTRIBUTES:
        key = RUN_ATTRIBUTES[key][0]
    return (entity, key), ascending


def order_by_identifier(entity: str, key: str) -> str:
    """`metrics.acc`, or `metrics.`val loss`` when the bare key would not read back as itself."""
    plain = f"{_ENTITY_PREFIX[entity]}.{key}"
    try:
        if parse_order_by(plain)[:2] == (entity, key):
            return plain
    except InvalidParameter:
        pass
    return f"{_ENTITY_PREFIX[entity]}.`{key.replace('`', '``')}`"


def _header(label: str, identifier: str, first: str, *, current: tuple, ascending: bool, base: dict) -> dict:
    """A sortable column header: its aria-sort state and the link a click follows (the reverse order when it is
    already the sort, else `first`)."""
    state = "none"
    if _sort_key(identifier)[0] == current:
        state = "ascending" if ascending else "descending"
    following = {"ascending": "DESC", "descending": "ASC"}.get(state, first)
    params = {**base, "order_by": f"{identifier} {following}"}
    return {"label": label, "aria_sort": state,
            "href": "?" + urlencode({k: v for k, v in params.items() if v}, doseq=True)}


def _columns(keys: set[str], pinned: list[str], limit: int) -> tuple[list[str], bool]:
    """At most `limit` keys by name, always including `pinned` ones (the sort key, keys the filter names)."""
    pinned = list(dict.fromkeys(pinned))[:limit]
    rest = sorted(k for k in keys if k not in pinned)[:limit - len(pinned)]
    shown = sorted(pinned + rest)
    return shown, len(keys | set(pinned)) > len(shown)


@ui_view
def experiment(request: HttpRequest, experiment_id: str) -> HttpResponse:
    """The runs of an experiment: filtered with MLflow's run filter syntax and sorted by any column through the
    same search as the REST API; filter, sort and page live in the URL."""
    exp = _experiment(request.user, experiment_id)
    filter_text = request.GET.get("filter", "").strip()
    order_by = request.GET.get("order_by", "").strip()
    if not order_by:  # `?order=asc|desc` is the older start-time-only form of the same sort
        order_by = f"attributes.start_time {'ASC' if request.GET.get('order') == 'asc' else 'DESC'}"
    context = {"experiment": exp, "filter": filter_text, "order_by": order_by, "rows": [], "error": "",
               "breadcrumbs": _crumbs(exp)}
    try:
        current, ascending = _sort_key(order_by)
        pages = RunSearchPages(actor=request.user, experiment=exp, filter_string=filter_text, order_by=order_by)
        page = paginate(request, pages)
    except InvalidParameter as exc:
        context["error"] = exc.message
        return render(request, "explorer/experiment.html", context, status=400)
    runs = list(page.object_list)
    details = ts.run_details(runs)
    named = {"param": [], "metric": []}
    for entity, key in [current] + [(c.entity, c.key) for c in pages.comparisons]:
        if entity in named:
            named[entity].append(key)
    all_params = {p.key for d in details.values() for p in d.params}
    all_metrics = {m.key for d in details.values() for m in d.metrics}
    chosen = [c[:260] for c in request.GET.getlist("col")[:2 * MAX_CHOSEN_COLUMNS]]
    if chosen:  # the column chooser: exactly the columns ticked (that this page's runs have)
        param_keys = sorted({c[7:] for c in chosen if c.startswith("params.")} & all_params)[:MAX_CHOSEN_COLUMNS]
        metric_keys = sorted({c[8:] for c in chosen if c.startswith("metrics.")} & all_metrics)[:MAX_CHOSEN_COLUMNS]
        more_params = more_metrics = False
    else:
        param_keys, more_params = _columns(all_params, named["param"], MAX_PARAM_COLUMNS)
        metric_keys, more_metrics = _columns(all_metrics, named["metric"], MAX_METRIC_COLUMNS)
    base = {"filter": filter_text, "page_size": request.GET.get("page_size", ""), "col": chosen}
    header = functools.partial(_header, current=current, ascending=ascending, base=base)
    rows = []
    for run in runs:
        d = details[run.pk]
        params = {p.key: p.value for p in d.params}
        metrics = {m.key: m for m in d.metrics}
        rows.append({"run": run, "params": [params.get(k) for k in param_keys],
                     "metrics": [metrics.get(k) for k in metric_keys]})
    context.update({
        "page": page, "rows": rows, "param_keys": param_keys, "metric_keys": metric_keys,
        "more_params": more_params, "more_metrics": more_metrics,
        "run_headers": [header(label, ident, first) for label, ident, first in RUN_COLUMNS],
        "param_headers": [header(k, order_by_identifier("param", k), "ASC") for k in param_keys],
        "metric_headers": [header(k, order_by_identifier("metric", k), "DESC") for k in metric_keys],
        "no_runs": not rows and not filter_text,  # a page out of range shows the last one: empty means none
        "chosen_columns": chosen, "column_choices": column_choices(all_params, all_metrics, param_keys, metric_keys),
    })
    context.update(experiment_charts(request, rows, details, sorted(all_params), sorted(all_metrics)))
    return render(request, "explorer/experiment.html", context)


# Runs -----------------------------------------------------------------------------------------------------

def _run(actor, run_id: str):
    return ts.run_get(actor=actor, run_id=run_id)


def _run_logged_models(actor, run) -> list:
    """The active logged models of `run` (made by it or output by it) that `actor` may read."""
    qs = (ts.logged_model_list_visible(actor=actor)
          .filter(Q(source_run=run) | Q(run_outputs__run=run), lifecycle_stage="active")
          .distinct().order_by("-creation_timestamp_ms", "model_id"))
    return list(qs[:MAX_LOGGED_MODELS])


def _versions_by_logged_model(actor, model_ids: list[str]) -> dict[str, list]:
    """The versions (that `actor` may see) registered from each of these logged models, in one query."""
    found: dict[str, list] = {}
    if model_ids:
        versions = (search.visible_versions(actor).filter(logged_model_id__in=model_ids)
                    .select_related("model__schema__catalog").order_by("model__name", "version")[:200])
        for mv in versions:
            found.setdefault(mv.logged_model_id, []).append(mv)
    return found


def run_context(request: HttpRequest, run, active: str) -> dict:
    return {
        "object": run, "run": run, "experiment": run.experiment, "kind": "Run",
        "breadcrumbs": _crumbs(run.experiment, run),
        "tabs": render_tabs(RUN_TABS, actor=request.user, obj=run, kwargs={"run_id": run.run_id}, active=active),
        "register_url": reverse("explorer:run_register", args=[run.run_id]),
    }


def scale_points(values: list, *, xs: list[float] | None = None, width: float = SPARK_W, height: float = SPARK_H,
                 y_range: tuple[float, float] | None = None) -> list[tuple[float, float]]:
    """(x, y) in a `width` x `height` SVG box for the finite `values`: spread evenly unless `xs` (each in [0, 1])
    place them, on the values' own range unless `y_range` fixes one shared by several series (compare charts)."""
    pairs = [(xs[i] if xs is not None else None, v) for i, v in enumerate(values)
             if v is not None and math.isfinite(v)]
    if not pairs:
        return []
    low, high = y_range or (min(v for _, v in pairs), max(v for _, v in pairs))
    span = (high - low) or 1.0
    step = width / (len(pairs) - 1) if len(pairs) > 1 else 0.0
    return [(x * width if x is not None else (i * step if len(pairs) > 1 else width / 2),
             height - 1 - (v - low) / span * (height - 2)) for i, (x, v) in enumerate(pairs)]


def sparkline(values: list[float]) -> str:
    """SVG polyline points for `values` in a SPARK_W x SPARK_H box ("" when fewer than two finite points)."""
    points = scale_points(values)
    if len(points) < 2:
        return ""
    return " ".join(f"{x:.1f},{y:.1f}" for x, y in points)


def _histories(run, keys: list[str]) -> dict[str, dict]:
    """The last SPARKLINE_POINTS (step, value) points of each metric in `keys`, in step order, and how many were
    logged, in one query."""
    found = ts.metric_histories([run.pk], keys, points=SPARKLINE_POINTS)
    return {key: found[(run.pk, key)] for key in keys if (run.pk, key) in found}


@ui_view
def run_overview(request: HttpRequest, run_id: str) -> HttpResponse:
    run = _run(request.user, run_id)
    context = run_context(request, run, "explorer:run")
    details = ts.run_details([run], actor=request.user)[run.pk]
    metric_keys = [m.key for m in details.metrics][:MAX_SPARKLINES]
    histories = _histories(run, metric_keys)
    metrics = []
    for m in details.metrics:
        history = histories.get(m.key)
        if history is None:  # past MAX_SPARKLINES: the table's latest value only
            metrics.append({"metric": m, "summary": None, "charted": False, "points": ""})
            continue
        summary = metric_summary(history["points"], history["total"])
        metrics.append({"metric": m, "summary": summary, "charted": not summary["single"],
                        "points": "" if summary["single"] else sparkline([v for _, v in history["points"]])})
    inputs = []
    for i in details.inputs:
        ref = classify(name=i.dataset.name, source_type=i.dataset.source_type, source_text=i.dataset.source)
        inputs.append({"input": i, "dataset": i.dataset, "context": input_context(i.tags), "ref": ref,
                       "source_uri": source_uri(ref.source),
                       "table_url": reverse("explorer:table", args=[ref.name]) if ref.kind == "table" else ""})
    logged = _run_logged_models(request.user, run)
    registered = _versions_by_logged_model(request.user, [lm.model_id for lm in logged])
    context.update({
        "params": details.params, "metrics": metrics, "tags": [t for t in details.tags], "inputs": inputs,
        "input_models": [i.logged_model for i in details.model_inputs],
        "logged_models": [{"model": lm, "versions": registered.get(lm.model_id, [])} for lm in logged],
        "spark_w": SPARK_W, "spark_h": SPARK_H, "history_url": reverse("explorer:metric_history"),
        "charts": [row for row in metrics if row["charted"]],
        "single_values": [row for row in metrics if row["summary"] and row["summary"]["single"]],
    })
    return render(request, "explorer/run_overview.html", context)


@ui_view
def run_lineage(request: HttpRequest, run_id: str) -> HttpResponse:
    run = _run(request.user, run_id)
    context = run_context(request, run, "explorer:run_lineage")
    context.update(lineage_context(request, f"run:{run.run_id}", f"Lineage of run {run.name or run.run_id}"))
    return render(request, "explorer/run_lineage.html", context)


@ui_view
def run_artifacts(request: HttpRequest, run_id: str) -> HttpResponse:
    """The run's artifacts: the version Artifacts tab's browser, confined to the run's artifact root."""
    run = _run(request.user, run_id)
    context = run_context(request, run, "explorer:run_artifacts")
    browser, status = artifact_browser(request.user, root=store_root(run.artifact_uri), sub=request.GET.get("path", ""),
                                       base_url=reverse("explorer:run_artifacts", args=[run.run_id]),
                                       missing="This run's artifacts are not kept by this server.")
    context.update(browser, download_url=reverse("explorer:run_artifact_download", args=[run.run_id]),
                   empty_message="This run logged no artifacts." if not browser["path"] else "Empty.")
    return render(request, "explorer/run_artifacts.html", context, status=status)


@ui_view
def run_artifact_download(request: HttpRequest, run_id: str) -> HttpResponse:
    run = _run(request.user, run_id)
    return artifact_download(request.user, root=store_root(run.artifact_uri), sub=request.GET.get("path", ""))


# Register model -------------------------------------------------------------------------------------------

class RegisterModelForm(forms.Form):
    logged_model = forms.ChoiceField(label="Logged model")
    name = forms.CharField(max_length=500, label="Register as",
                           help_text="An existing model, a new catalog.schema.model, or a workspace model name.")

    def __init__(self, *args, choices=(), hint_url: str = "", **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["logged_model"].choices = list(choices)
        # Suggestions from the models the user may see, and a hint saying what registering would do.
        self.fields["name"].widget.attrs.update({
            "list": "register-model-names", "autocomplete": "off", "aria-describedby": "register-hint",
            "hx-get": hint_url, "hx-trigger": "input changed delay:250ms", "hx-target": "#register-hint",
            "hx-swap": "outerHTML"})

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()


def _visible_model(actor, name: str):
    """The model named `name` if `actor` may see it, else None (a hidden model reads as missing)."""
    try:
        return model_get(actor=actor, name=name)
    except (NotFound, InvalidParameter):
        return None


def model_name_suggestions(actor, action: Action = Action.READ) -> list[str]:
    """The model names a destination picker offers (register, copy): models `actor` may `action`, the recently
    changed first."""
    models = search.visible_models(actor).select_related("schema__catalog")
    if action != Action.READ:
        models = permissions.restrict(actor, models, action)
    return [m.full_name for m in models.order_by("-updated_at", "pk")[:MAX_NAME_SUGGESTIONS]]


def register_hint(actor, name: str) -> str:
    """What registering under `name` would do, said before the user commits to it."""
    name = name.strip()
    if not name:
        return "Pick a model you can see, or type a new name."
    existing = _visible_model(actor, name)
    if existing is not None:
        return f"Registers version {existing.last_version_number + 1} of {existing.full_name}."
    if name.count(".") == 2:
        catalog, schema, _ = name.split(".")
        return (f"Creates the three-level model {name} (needs CREATE MODEL on {catalog}.{schema}), then registers "
                "version 1.")
    if "." not in name:
        return f"Creates the workspace-registry model {name}, then registers version 1."
    return "Use catalog.schema.model for a three-level model, or a name without dots for the workspace registry."


@ui_view
def register_model_dialog(request: HttpRequest, run_id: str) -> HttpResponse:
    run = _run(request.user, run_id)
    if request.method == "GET" and "hint" in request.GET:
        return render(request, "explorer/partials/register_hint.html",
                      {"hint": register_hint(request.user, request.GET.get("name", "")[:500])})
    logged = _run_logged_models(request.user, run)
    choices = [(m.model_id, f"{m.name} ({m.model_id})") for m in logged]
    wanted = request.GET.get("logged_model", "")
    preselected = wanted if wanted in {value for value, _ in choices} else (choices[0][0] if choices else "")
    url = reverse("explorer:run_register", args=[run.run_id])
    form = RegisterModelForm(request.POST or None, choices=choices, initial={"logged_model": preselected},
                             hint_url=f"{url}?hint=1")
    if request.method == "POST" and form.is_valid():
        name, model_id = form.cleaned_data["name"], form.cleaned_data["logged_model"]
        try:
            # A model made for this version must not outlive the version's refusal: one change, all or nothing.
            with all_or_nothing():
                if _visible_model(request.user, name) is None:
                    name = registered_model_create(actor=request.user, name=name).full_name
                mv = model_version_create(actor=request.user, name=name, source=f"models:/{model_id}",
                                          run_id=run.run_id, model_id=model_id)
        except RegistryError as exc:
            add_registry_error(form, exc, "name")
        else:
            return dialog_done(request, reverse("explorer:version",
                                                kwargs={"name": mv.model.full_name, "version": mv.version}))
    return render_dialog(request, "explorer/dialogs/register_model.html", {
        "run": run, "form": form, "has_models": bool(choices),
        "suggestions": model_name_suggestions(request.user),
        "hint": register_hint(request.user, form["name"].value() or ""),
        "action_url": reverse("explorer:run_register", args=[run.run_id]),
        "back_url": reverse("explorer:run", args=[run.run_id]),
    }, title=f"Register a model from run {run.name or run.run_id}")
