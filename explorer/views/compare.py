"""Compare versions of one model side by side (`/models/<name>/compare/?versions=1&versions=3`): version facts,
source-run parameters and latest metrics, signatures and tags, with differing rows highlighted, an optional
"differences only" view, and one small chart per metric. Read-only; a fixed number of queries for any selection."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_safe

from explorer.generators import signature_fields
from explorer.views.browse import model_crumbs
from explorer.views.common import ui_view
from explorer.views.model import get_model, model_context
from explorer.views.tracking import scale_points
from registry import selectors
from registry import tracking_selectors as ts
from registry.models import ModelVersion, RegisteredModel
from registry.source_visibility import attach_provenance

MIN_VERSIONS, MAX_VERSIONS = 2, 10
MAX_TOKENS = 100  # more raw values than this is not a selection anyone made by hand
MAX_ROWS = 300  # per section, after the differences-only filter
MAX_CHARTS = 12
CHART_POINTS = 200  # the last points of each run's history, as on the run page
PICKER_VERSIONS = 50
# The plot area and its margins (axis labels left and below), in SVG user units.
PLOT_W, PLOT_H = 300, 120
MARGIN_L, MARGIN_R, MARGIN_T, MARGIN_B = 52, 10, 8, 22
# Tableau 10: distinguishable for most colour-vision deficiencies; one colour per selected version.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#79706e")


class SelectionError(Exception):
    """The `versions` query does not name 2-10 existing versions of the model; the message says why."""


class TooFewVersions(SelectionError):
    """Fewer than two versions chosen (none yet, say): still choosing, not a mistake, so no error page."""


@dataclass
class Column:
    mv: ModelVersion
    color: str
    url: str
    run: Any = None  # the source run, only when the actor may read it

    @property
    def number(self) -> int:
        return self.mv.version


@dataclass
class Cell:
    kind: str = "missing"  # missing | text | code | link | chips | time
    text: str = ""
    url: str = ""
    title: str = ""
    value: Any = None  # chips: the list; time: the datetime


@dataclass
class Row:
    label: str
    cells: list[Cell]
    differs: bool
    code: bool = False  # the label is a key (shown as code)
    prefix: str = ""  # a word before the label ("input", "output")


@dataclass
class Section:
    key: str
    title: str
    empty: str
    rows: list[Row] = field(default_factory=list)
    hidden: int = 0  # equal rows left out by "differences only"
    more: int = 0  # rows past MAX_ROWS

    @property
    def differing(self) -> int:
        return sum(row.differs for row in self.rows)


# ---- input ------------------------------------------------------------------------------------------------

def parse_versions(values: list[str]) -> list[int]:
    """Version numbers from `?versions=1&versions=3` and/or `?versions=1,3`: sorted, without repeats."""
    tokens = [t.strip() for value in values for t in value.split(",")]
    tokens = [t for t in tokens if t]
    if len(tokens) > MAX_TOKENS:
        raise SelectionError(f"Pick at most {MAX_VERSIONS} versions to compare.")
    # Length first: int() of thousands of digits is refused (and slow) before any range check could run.
    bad = [t for t in tokens if not (t.isascii() and t.isdigit() and len(t) <= 10) or not 1 <= int(t) <= 2**31]
    if bad:
        shown = ", ".join(f"'{t[:20]}'" for t in bad[:3]) + (" …" if len(bad) > 3 else "")
        what = "is not a version number" if len(bad) == 1 else "are not version numbers"
        raise SelectionError(f"Versions are given by number (1, 2, 3 …); {shown} {what}.")
    numbers = sorted({int(t) for t in tokens})
    if len(numbers) < MIN_VERSIONS:
        raise TooFewVersions(f"Pick at least {MIN_VERSIONS} versions to compare"
                             + (f" (only version {numbers[0]} was given)." if numbers else "."))
    if len(numbers) > MAX_VERSIONS:
        raise SelectionError(f"Pick at most {MAX_VERSIONS} versions to compare ({len(numbers)} were given).")
    return numbers


def _readable(request: HttpRequest) -> list[int]:
    """The version numbers that could be read from a refused selection, to tick them again in the picker."""
    tokens = [t.strip() for value in request.GET.getlist("versions")[:MAX_TOKENS] for t in value.split(",")]
    return [int(t) for t in tokens[:MAX_TOKENS] if t.isascii() and t.isdigit() and len(t) <= 10]


def compare_query(numbers, *, diff_only: bool) -> str:
    params = [("versions", n) for n in numbers] + ([("diff", "1")] if diff_only else [])
    return "?" + urlencode(params)


# ---- rows -------------------------------------------------------------------------------------------------

def _hashable(value):
    return tuple(value) if isinstance(value, list) else value


def _row(label: str, values: list, cell, *, code: bool = False, prefix: str = "") -> Row:
    """A row of `values` (None = no value), one per column; `cell(value)` renders a present value."""
    cells = [Cell() if v is None else cell(v) for v in values]
    return Row(label, cells, differs=len({_hashable(v) for v in values}) > 1, code=code, prefix=prefix)


def _text(value) -> Cell:
    return Cell("text", str(value))


def _code(value) -> Cell:
    return Cell("code", str(value))


def _number_texts(values: list) -> dict:
    """Short texts for metric values, more digits when the short ones would hide a difference."""
    finite = {v for v in values if isinstance(v, float)}
    short = {v: f"{v:.6g}" for v in finite}
    if len(set(short.values())) < len(finite):
        return {v: repr(v) for v in finite}
    return short


def _version_rows(model: RegisteredModel, columns: list[Column], aliases: dict[int, list[str]]) -> list[Row]:
    mvs = [c.mv for c in columns]
    rows = [
        _row("Status", [mv.get_status_display() for mv in mvs], _text),
        _row("Created by", [mv.created_by.get_username() if mv.created_by else None for mv in mvs], _text),
        # Compared as shown (to the minute): versions registered a few seconds apart are not "different".
        _row("Created at", [mv.created_at.replace(second=0, microsecond=0) for mv in mvs],
             lambda v: Cell("time", value=v)),
        _row("Aliases", [sorted(aliases.get(mv.version, [])) or None for mv in mvs], lambda v: Cell("chips", value=v)),
    ]
    if not model.is_unity_catalog:
        rows.append(_row("Stage", [mv.current_stage for mv in mvs], _text))
    # Source and run as this reader may see them (`registry.source_visibility`).
    rows.append(_row("Source", [mv.provenance.source or None for mv in mvs], _code))
    run_cells = []
    for c in columns:
        if c.run is not None:
            run_cells.append(Cell("link", c.run.name or c.run.run_id, reverse("explorer:run", args=[c.run.run_id]),
                                  title=c.run.run_id))
        elif run_id := c.mv.provenance.run_id:
            run_cells.append(Cell("code", run_id[:12] + ("…" if len(run_id) > 12 else ""), title=run_id))
        else:
            run_cells.append(Cell())
    run_ids = [c.mv.provenance.run_id or None for c in columns]
    rows.append(Row("Source run", run_cells, differs=len(set(run_ids)) > 1))
    return rows


def _keyed_rows(columns: list[Column], per_column: list[dict], cell) -> list[Row]:
    keys = sorted({k for values in per_column for k in values})
    return [_row(k, [values.get(k) for values in per_column], cell, code=True) for k in keys]


def _metric_rows(columns: list[Column], latest: list[dict]) -> list[Row]:
    rows = []
    for key in sorted({k for values in latest for k in values}):
        metrics = [values.get(key) for values in latest]
        raw = [None if m is None else ("NaN" if m.is_nan or m.value is None else float(m.value)) for m in metrics]
        texts = _number_texts(raw)
        cells = [Cell() if m is None else Cell("text", texts.get(v, str(v)), title=f"step {m.step}")
                 for m, v in zip(metrics, raw)]
        rows.append(Row(key, cells, differs=len(set(raw)) > 1, code=True))
    return rows


def _signature_rows(columns: list[Column]) -> list[Row]:
    rows = []
    for part, label in (("inputs", "Input"), ("outputs", "Output")):
        fields = [signature_fields(c.mv.signature, part) for c in columns]
        if not any(fields):
            continue
        names = [[f["name"] for f in fs] or None for fs in fields]
        rows.append(_row(f"{label}s, in order", names, lambda v: Cell("text", ", ".join(v))))
        specs = [{f["name"]: f"{f['type']} · {'required' if f['required'] else 'optional'}" for f in fs}
                 for fs in fields]
        order = list(dict.fromkeys(f["name"] for fs in fields for f in fs))
        rows += [_row(name, [s.get(name) for s in specs], _text, code=True, prefix=label.lower()) for name in order]
    return rows


def _finish(section: Section, rows: list[Row], *, diff_only: bool) -> Section:
    if diff_only:
        shown = [r for r in rows if r.differs]
        section.hidden = len(rows) - len(shown)
        rows = shown
    section.rows, section.more = rows[:MAX_ROWS], max(0, len(rows) - MAX_ROWS)
    return section


# ---- charts -----------------------------------------------------------------------------------------------

def _fmt(value: float) -> str:
    return f"{value:.4g}"


def metric_chart(key: str, columns: list[Column], histories: dict) -> dict | None:
    """One chart of `key`: a line per version by step on shared axes; when every run logged the metric at a
    single step, one point per version side by side instead (a value compared across versions)."""
    series = []
    for column in columns:
        history = histories.get((column.run.pk, key)) if column.run is not None else None
        points = [(s, v) for s, v in (history or {}).get("points", []) if v is not None and math.isfinite(v)]
        series.append((column, points, bool(history) and history["total"] > len(history["points"])))
    values = [v for _, points, _ in series for _, v in points]
    if not values:
        return None
    steps = [s for _, points, _ in series for s, _ in points]
    low, high = min(values), max(values)
    if low == high:  # a flat chart: centre the line rather than drawing it on the bottom edge
        pad = abs(low) * 0.1 or 1.0
        low, high = low - pad, high + pad
    first, last = min(steps), max(steps)
    by_step = last > first
    lines = []
    for index, (column, points, _) in enumerate(series):
        line = {"column": column, "points": "", "dots": [], "labels": []}
        if points:
            xs = ([(s - first) / (last - first) for s, _ in points] if by_step
                  else [(index + 0.5) / len(series)] * len(points))
            coords = scale_points([v for _, v in points], xs=xs, width=PLOT_W, height=PLOT_H, y_range=(low, high))
            if len(coords) > 1:
                line["points"] = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
            else:
                line["dots"] = [(f"{x:.1f}", f"{y:.1f}", _fmt(points[0][1])) for x, y in coords]
            line["last"] = _fmt(points[-1][1])
        lines.append(line)
    ticks = [] if by_step else [(f"{MARGIN_L + (i + 0.5) / len(columns) * PLOT_W:.1f}", f"v{c.number}")
                                for i, c in enumerate(columns)]
    numbers = ", ".join(str(c.number) for c in columns)
    return {"key": key, "lines": lines, "high": _fmt(high), "low": _fmt(low), "by_step": by_step,
            "first_step": first, "last_step": last, "ticks": ticks, "truncated": any(t for _, _, t in series),
            "label": f"{key} {'by step' if by_step else 'by version'} for versions {numbers}"}


# ---- the page ---------------------------------------------------------------------------------------------

def _picker(model: RegisteredModel, chosen: list[int], known: list[int]) -> list[tuple[int, bool]]:
    """(number, ticked) for the newest versions plus the `known` (existing) chosen ones, newest first."""
    recent = list(ModelVersion.objects.filter(model=model).order_by("-version")
                  .values_list("version", flat=True)[:PICKER_VERSIONS])
    return [(n, n in chosen) for n in sorted(set(recent) | set(known), reverse=True)]


def _existing(model: RegisteredModel, numbers: list[int]) -> list[int]:
    return list(ModelVersion.objects.filter(model=model, version__in=numbers[:MAX_TOKENS])
                .values_list("version", flat=True)) if numbers else []


def _load_columns(request: HttpRequest, model: RegisteredModel, numbers: list[int]) -> list[Column]:
    versions = {mv.version: mv for mv in ModelVersion.objects.filter(model=model, version__in=numbers)
                .select_related("created_by").prefetch_related("tags")}
    missing = [n for n in numbers if n not in versions]
    if missing:
        listed = ", ".join(str(n) for n in missing)
        subject, verb = ("Versions", "do") if len(missing) > 1 else ("Version", "does")
        raise SelectionError(f"{subject} {listed} of {model.full_name} {verb} not exist.")
    attach_provenance(actor=request.user, versions=versions.values())
    run_ids = {mv.run_id for mv in versions.values() if mv.run_id}
    # Only runs the actor may read link to their page; an unreadable one is not even named.
    runs = {}
    if run_ids:
        runs = {r.run_id: r for r in ts.run_list_visible(actor=request.user).filter(run_id__in=run_ids)}
    return [Column(mv=versions[n], color=PALETTE[i % len(PALETTE)], run=runs.get(versions[n].run_id),
                   url=reverse("explorer:version", kwargs={"name": model.full_name, "version": n}))
            for i, n in enumerate(numbers)]


def _sections(model: RegisteredModel, columns: list[Column], *, diff_only: bool) -> tuple[list[Section], list[str]]:
    """The page's sections, and the metric keys that are shown (for the charts)."""
    runs = [c.run for c in columns if c.run is not None]
    details = ts.run_details(runs)
    params = [{p.key: p.value for p in details[c.run.pk].params} if c.run else {} for c in columns]
    latest = [{m.key: m for m in details[c.run.pk].metrics} if c.run else {} for c in columns]
    tags = [{t.key: t.value for t in c.mv.tags.all()} for c in columns]
    no_run = "None of these versions has a source run you can read." if not runs else ""
    metrics = _finish(Section("metrics", "Metrics", no_run or "The source runs logged no metrics."),
                      _metric_rows(columns, latest), diff_only=diff_only)
    sections = [
        _finish(Section("version", "Version", ""), _version_rows(model, columns, selectors.aliases_by_version(model)),
                diff_only=diff_only),
        _finish(Section("params", "Parameters", no_run or "The source runs logged no parameters."),
                _keyed_rows(columns, params, _text), diff_only=diff_only),
        metrics,
        _finish(Section("signature", "Signature", "None of these versions has a signature."),
                _signature_rows(columns), diff_only=diff_only),
        _finish(Section("tags", "Tags", "None of these versions has tags."),
                _keyed_rows(columns, tags, _text), diff_only=diff_only),
    ]
    return sections, [row.label for row in metrics.rows]


@ui_view
@require_safe
def model_compare(request: HttpRequest, name: str) -> HttpResponse:
    model = get_model(request.user, name)
    diff_only = request.GET.get("diff", "") in ("1", "true", "on")
    if "more" in request.GET:
        # Versions typed by number in the picker join the ticked ones, in the one shareable `versions` URL.
        raw = request.GET.getlist("versions") + [v for v in request.GET.getlist("more")[:MAX_TOKENS] if v.strip()]
        params = [("versions", v) for v in raw[:MAX_TOKENS]] + ([("diff", "1")] if diff_only else [])
        return redirect(reverse("explorer:model_compare", args=[model.full_name]) + "?" + urlencode(params))
    context = model_context(request, model, "explorer:model_compare")
    url = reverse("explorer:model_compare", args=[model.full_name])
    context["breadcrumbs"] = model_crumbs(model) + [("Compare versions", url)]
    context.update({"diff_only": diff_only, "columns": [], "sections": [], "charts": [], "error": "",
                    "compare_url": url, "max_versions": MAX_VERSIONS})
    numbers: list[int] = []
    try:
        numbers = parse_versions(request.GET.getlist("versions"))
        columns = _load_columns(request, model, numbers)
    except TooFewVersions as exc:
        chosen = _readable(request)
        context.update({"choosing": str(exc), "picker": _picker(model, chosen, known=_existing(model, chosen))})
        return render(request, "explorer/model_compare.html", context)
    except SelectionError as exc:
        context.update({"error": str(exc), "picker": _picker(model, numbers or _readable(request), known=[])})
        return render(request, "explorer/model_compare.html", context, status=400)
    sections, metric_keys = _sections(model, columns, diff_only=diff_only)
    chart_keys = metric_keys[:MAX_CHARTS]
    run_pks = [c.run.pk for c in columns if c.run is not None]
    histories = ts.metric_histories(run_pks, chart_keys, points=CHART_POINTS)
    charts = [chart for key in chart_keys if (chart := metric_chart(key, columns, histories)) is not None]
    context.update({
        "columns": columns, "sections": sections, "charts": charts, "more_charts": len(metric_keys) > MAX_CHARTS,
        "differing": sum(s.differing for s in sections), "picker": _picker(model, numbers, known=numbers),
        "all_url": url + compare_query(numbers, diff_only=False),
        "diff_url": url + compare_query(numbers, diff_only=True),
        "chart_points": CHART_POINTS,
        "chart": {"w": MARGIN_L + PLOT_W + MARGIN_R, "h": MARGIN_T + PLOT_H + MARGIN_B, "ml": MARGIN_L,
                  "mt": MARGIN_T, "x_end": MARGIN_L + PLOT_W, "y_low": MARGIN_T + PLOT_H,
                  "y_label": MARGIN_T + PLOT_H + 15},
    })
    return render(request, "explorer/model_compare.html", context)


def version_diff(request: HttpRequest, model: RegisteredModel, numbers: list[int]) -> tuple[list[Column], list[Section]]:
    """The compare view's columns and sections for `numbers` (one or more existing versions, in that order), as
    another page shows them (an alias change request: the alias's current version beside the proposed one)."""
    columns = _load_columns(request, model, numbers)
    return columns, _sections(model, columns, diff_only=False)[0]
