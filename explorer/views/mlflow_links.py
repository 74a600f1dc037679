"""MLflow UI links (`http://host/#/experiments/1/runs/<id>`, printed by the MLflow client after every run) land on
our page for the same object. The fragment never reaches the server: static/js/head.js sends it here as
`?fragment=`, and this view redirects to the page. The target page applies its own permissions; the one lookup
made here (a logged model's run) goes through the visibility-aware selector, so a hidden object is a 404 like a
missing one."""
from __future__ import annotations

import json
from urllib.parse import parse_qs, unquote, urlencode

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import NoReverseMatch, reverse

from explorer.views.common import ui_view
from registry import tracking_selectors as ts

MAX_FRAGMENT = 2000


def _ids(values: list[str]) -> list[str]:
    """The ids of an MLflow list parameter: `runs=["a","b"]` (JSON, as the MLflow UI writes it) or `runs=a`."""
    ids = []
    for value in values:
        try:
            parsed = json.loads(value)
        except ValueError:
            parsed = value
        ids += [str(item) for item in (parsed if isinstance(parsed, list) else [parsed])
                if isinstance(item, (str, int)) and not isinstance(item, bool) and str(item)]
    return ids


def _logged_model_url(actor, model_id: str) -> str:
    model = ts.logged_model_list_visible(actor=actor).filter(model_id=model_id).first()
    if model is None:
        raise Http404("No such logged model.")
    if model.source_run is not None:
        return reverse("explorer:run", args=[model.source_run.run_id])
    return reverse("explorer:experiment", args=[str(model.experiment_id)])


def resolve_fragment(actor, fragment: str) -> str:
    """Our URL for an MLflow UI fragment (`#/experiments/1/runs/abc`, with or without the `#`); the home page for a
    shape we have no page for. Raises Http404 only for a logged model the actor cannot see (or that is missing)."""
    path, _, query = fragment.lstrip("#").partition("?")
    params = parse_qs(query)
    parts = [unquote(p) for p in path.split("/") if p]
    head = parts[0] if parts else ""
    try:
        if head == "experiments":
            if len(parts) == 1:
                return reverse("explorer:experiments")
            experiment_id = parts[1]
            if len(parts) >= 4 and parts[2] == "runs":
                run_id = parts[3]
                if len(parts) >= 5 and parts[4] == "artifacts":
                    url = reverse("explorer:run_artifacts", args=[run_id])
                    return url + (f"?{urlencode({'path': '/'.join(parts[5:])})}" if len(parts) > 5 else "")
                return reverse("explorer:run", args=[run_id])
            if len(parts) >= 4 and parts[2] == "models":
                return _logged_model_url(actor, parts[3])
            return reverse("explorer:experiment", args=[experiment_id])
        if head == "runs" and len(parts) >= 2:
            return reverse("explorer:run", args=[parts[1]])
        if head == "models":
            if len(parts) == 1:
                return reverse("explorer:models")
            if len(parts) >= 4 and parts[2] == "versions" and parts[3].isdigit():
                return reverse("explorer:version", args=[parts[1], int(parts[3])])
            return reverse("explorer:model", args=[parts[1]])
        if head in ("compare-runs", "metric"):
            # Runs compared or a metric plotted across runs: one run is its page, several are their experiment.
            runs, experiments = _ids(params.get("runs", [])), _ids(params.get("experiments", []))
            if len(runs) == 1 or (runs and not experiments):
                return reverse("explorer:run", args=[runs[0]])
            if experiments:
                return reverse("explorer:experiment", args=[experiments[0]])
            return reverse("explorer:experiments")
        if head == "compare-experiments":
            return reverse("explorer:experiments")
    except (NoReverseMatch, ValueError):
        raise Http404("Not an MLflow link to anything here.") from None
    return reverse("explorer:home")


@ui_view
def mlflow_link(request: HttpRequest) -> HttpResponse:
    fragment = request.GET.get("fragment", "")[:MAX_FRAGMENT]
    return HttpResponseRedirect(resolve_fragment(request.user, fragment))
