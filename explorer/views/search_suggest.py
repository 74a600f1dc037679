"""The header search's type-ahead: JSON suggestions (catalogs, schemas, models, versions by alias, experiments and
runs by name) from registry.search.site, which sees only what the signed-in user may read."""
from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.urls import reverse
from django.views.decorators.http import require_GET

from registry.search import site

KIND_LABELS = {"catalog": "Catalog", "schema": "Schema", "model": "Model", "alias": "Version",
               "experiment": "Experiment", "run": "Run"}


def hit_url(hit: site.Hit) -> str:
    obj = hit.obj
    if hit.kind == "catalog":
        return reverse("explorer:catalog", args=[obj.name])
    if hit.kind == "schema":
        return reverse("explorer:schema", args=[obj.full_name])
    if hit.kind == "model":
        return reverse("explorer:model", args=[obj.full_name])
    if hit.kind == "alias":
        return reverse("explorer:version", args=[obj.model.full_name, obj.version.version])
    if hit.kind == "experiment":
        return reverse("explorer:experiment", args=[str(obj.pk)])
    return reverse("explorer:run", args=[obj.run_id])


@require_GET
def suggest(request: HttpRequest) -> JsonResponse:
    if not request.user.is_authenticated:
        return JsonResponse({"error_code": "UNAUTHENTICATED", "message": "Sign in to search."}, status=401)
    q = request.GET.get("q", "")
    if not isinstance(q, str):
        q = ""
    hits = site.suggestions(actor=request.user, text=q.replace("\x00", ""))
    return JsonResponse({"query": q[:site.MAX_QUERY], "suggestions": [
        {"kind": h.kind, "kind_label": KIND_LABELS[h.kind], "label": h.label, "detail": h.detail, "url": hit_url(h)}
        for h in hits]})
