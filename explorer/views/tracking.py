"""Tracking pages: experiments, an experiment's runs, a run (Overview, Lineage) and the Register-model dialog
that turns one of a run's logged models into a model version. Reads go through registry/tracking_selectors.py
(visibility-aware); every change goes through a registry service."""
from __future__ import annotations

import math

from django import forms
from django.db.models import Count, F, Q, Window
from django.db.models.functions import RowNumber
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from explorer.forms import add_registry_error
from explorer.tabs import RUN_TABS, render_tabs
from explorer.views.common import dialog_done, paginate, render_dialog, ui_view
from explorer.views.lineage import lineage_context
from registry import tracking_selectors as ts
from registry.errors import InvalidParameter, NotFound, RegistryError
from registry.lineage.capture import classify, input_context
from registry.models import Metric, RegisteredModel
from registry.selectors import model_get
from registry.services.models import registered_model_create, registered_model_delete
from registry.services.versions import model_version_create

MAX_PARAM_COLUMNS = 10
MAX_METRIC_COLUMNS = 10
MAX_SPARKLINES = 20
SPARKLINE_POINTS = 200
SPARK_W, SPARK_H = 120, 24
MAX_LOGGED_MODELS = 200


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


@ui_view
def experiment(request: HttpRequest, experiment_id: str) -> HttpResponse:
    exp = _experiment(request.user, experiment_id)
    order = "asc" if request.GET.get("order") == "asc" else "desc"
    start = F("start_time").asc(nulls_last=True) if order == "asc" else F("start_time").desc(nulls_last=True)
    qs = (ts.run_list_visible(actor=request.user).filter(experiment=exp, lifecycle_stage="active")
          .order_by(start, "run_id"))
    page = paginate(request, qs)
    runs = list(page.object_list)
    details = ts.run_details(runs)
    param_keys = sorted({p.key for d in details.values() for p in d.params})
    metric_keys = sorted({m.key for d in details.values() for m in d.metrics})
    more_params, more_metrics = len(param_keys) > MAX_PARAM_COLUMNS, len(metric_keys) > MAX_METRIC_COLUMNS
    param_keys, metric_keys = param_keys[:MAX_PARAM_COLUMNS], metric_keys[:MAX_METRIC_COLUMNS]
    rows = []
    for run in runs:
        d = details[run.pk]
        params = {p.key: p.value for p in d.params}
        metrics = {m.key: m for m in d.metrics}
        rows.append({"run": run, "params": [params.get(k) for k in param_keys],
                     "metrics": [metrics.get(k) for k in metric_keys]})
    return render(request, "explorer/experiment.html", {
        "experiment": exp, "page": page, "rows": rows, "param_keys": param_keys, "metric_keys": metric_keys,
        "more_params": more_params, "more_metrics": more_metrics, "order": order,
        "breadcrumbs": _crumbs(exp),
    })


# Runs -----------------------------------------------------------------------------------------------------

def _run(actor, run_id: str):
    return ts.run_get(actor=actor, run_id=run_id)


def _run_logged_models(actor, run) -> list:
    """The active logged models of `run` (made by it or output by it) that `actor` may read."""
    qs = (ts.logged_model_list_visible(actor=actor)
          .filter(Q(source_run=run) | Q(run_outputs__run=run), lifecycle_stage="active")
          .distinct().order_by("-creation_timestamp_ms", "model_id"))
    return list(qs[:MAX_LOGGED_MODELS])


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


def _histories(run, keys: list[str]) -> dict[str, list[float]]:
    """The last SPARKLINE_POINTS points of each metric in `keys`, in step order, in one query."""
    if not keys:
        return {}
    ranked = Metric.objects.filter(run=run, key__in=keys).annotate(rank=Window(
        RowNumber(), partition_by=[F("key")], order_by=[F("step").desc(), F("timestamp").desc(), F("pk").desc()]))
    out: dict[str, list] = {k: [] for k in keys}
    for key, value, _rank in (ranked.filter(rank__lte=SPARKLINE_POINTS)
                              .values_list("key", "value", "rank")):
        out[key].append((_rank, value))
    return {k: [v for _, v in sorted(points, key=lambda p: -p[0])] for k, points in out.items()}


@ui_view
def run_overview(request: HttpRequest, run_id: str) -> HttpResponse:
    run = _run(request.user, run_id)
    context = run_context(request, run, "explorer:run")
    details = ts.run_details([run])[run.pk]
    metric_keys = [m.key for m in details.metrics][:MAX_SPARKLINES]
    histories = _histories(run, metric_keys)
    metrics = [{"metric": m, "points": sparkline(histories.get(m.key, []))} for m in details.metrics]
    inputs = []
    for i in details.inputs:
        ref = classify(name=i.dataset.name, source_type=i.dataset.source_type, source_text=i.dataset.source)
        inputs.append({"input": i, "dataset": i.dataset, "context": input_context(i.tags), "ref": ref,
                       "table_url": reverse("explorer:table", args=[ref.name]) if ref.kind == "table" else ""})
    context.update({
        "params": details.params, "metrics": metrics, "tags": [t for t in details.tags],
        "inputs": inputs, "logged_models": _run_logged_models(request.user, run),
        "spark_w": SPARK_W, "spark_h": SPARK_H,
    })
    return render(request, "explorer/run_overview.html", context)


@ui_view
def run_lineage(request: HttpRequest, run_id: str) -> HttpResponse:
    run = _run(request.user, run_id)
    context = run_context(request, run, "explorer:run_lineage")
    context.update(lineage_context(request, f"run:{run.run_id}", f"Lineage of run {run.name or run.run_id}"))
    return render(request, "explorer/run_lineage.html", context)


# Register model -------------------------------------------------------------------------------------------

class RegisterModelForm(forms.Form):
    logged_model = forms.ChoiceField(label="Logged model")
    name = forms.CharField(max_length=500, label="Register as",
                           help_text="An existing model, a new catalog.schema.model, or a workspace model name.")

    def __init__(self, *args, choices=(), **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["logged_model"].choices = list(choices)

    def clean_name(self) -> str:
        return self.cleaned_data["name"].strip()


def _model_exists(actor, name: str) -> bool:
    try:
        model_get(actor=actor, name=name)
    except (NotFound, InvalidParameter):
        return False
    return True


@ui_view
def register_model_dialog(request: HttpRequest, run_id: str) -> HttpResponse:
    run = _run(request.user, run_id)
    logged = _run_logged_models(request.user, run)
    choices = [(m.model_id, f"{m.name} ({m.model_id})") for m in logged]
    form = RegisterModelForm(request.POST or None, choices=choices,
                             initial={"logged_model": choices[0][0] if choices else ""})
    if request.method == "POST" and form.is_valid():
        name, model_id = form.cleaned_data["name"], form.cleaned_data["logged_model"]
        created: RegisteredModel | None = None
        try:
            if not _model_exists(request.user, name):
                created = registered_model_create(actor=request.user, name=name)
                name = created.full_name
            mv = model_version_create(actor=request.user, name=name, source=f"models:/{model_id}",
                                      run_id=run.run_id, model_id=model_id)
        except RegistryError as exc:
            if created is not None:
                # The version was refused: take back the model made for it in this request (audited too).
                try:
                    registered_model_delete(actor=request.user, name=created.full_name)
                except RegistryError:
                    pass
            add_registry_error(form, exc, "name")
        else:
            return dialog_done(request, reverse("explorer:version",
                                                kwargs={"name": mv.model.full_name, "version": mv.version}))
    return render_dialog(request, "explorer/dialogs/register_model.html", {
        "run": run, "form": form, "has_models": bool(choices),
        "action_url": reverse("explorer:run_register", args=[run.run_id]),
        "back_url": reverse("explorer:run", args=[run.run_id]),
    }, title=f"Register a model from run {run.name or run.run_id}")
