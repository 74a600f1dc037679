"""Lineage in the browser: the graph drawn server-side as SVG (registry/lineage/svg.py) with the same content
as a table underneath, on model, version and table pages; the table page shows what used a table."""
from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.safestring import mark_safe

from explorer.views.common import ui_view
from registry.errors import InvalidParameter, NotFound
from registry.lineage.graph import Node
from registry.lineage.selectors import lineage_graph, table_usage
from registry.lineage.svg import render_svg, table_rows

DIRECTIONS = ("both", "upstream", "downstream")


def node_url(node: Node) -> str | None:
    """The page of a lineage node, when the explorer has one."""
    attrs = node.attrs or {}
    if node.type in ("model_version", "alias") and attrs.get("model") and attrs.get("version"):
        return reverse("explorer:version", kwargs={"name": attrs["model"], "version": attrs["version"]})
    if node.type == "table":
        return reverse("explorer:table", kwargs={"name": node.id})
    if node.type == "run":
        return reverse("explorer:run", args=[node.id])
    if node.type == "experiment":
        return reverse("explorer:experiment", args=[node.id])
    if node.type == "logged_model" and attrs.get("run_id"):
        return reverse("explorer:run", args=[attrs["run_id"]]) + f"#logged-model-{node.id}"
    if node.type in ("logged_model", "dataset") and attrs.get("experiment_id"):
        return reverse("explorer:experiment", args=[attrs["experiment_id"]])
    if node.type == "remote_run":
        return attrs.get("link")  # a web link only (registry.upload_area.web_link)
    return None


def lineage_context(request: HttpRequest, node_key: str, title: str) -> dict:
    """Graph, rows and the depth/direction controls for the lineage around `node_key`."""
    direction = request.GET.get("direction", "both")
    direction = direction if direction in DIRECTIONS else "both"
    try:
        depth = min(max(int(request.GET.get("depth", "3")), 1), 10)
    except ValueError:
        depth = 3
    try:
        graph = lineage_graph(actor=request.user, node=node_key, direction=direction, depth=depth)
    except InvalidParameter as exc:
        raise Http404(exc.message) from None
    return {
        # The renderer escapes every text it draws; restricted nodes carry no name and no link.
        "lineage_svg": mark_safe(render_svg(graph, node_url, title=title)),
        "lineage_rows": list(table_rows(graph, node_url)),
        "lineage_truncated": graph.truncated,
        "lineage_direction": direction, "lineage_depth": depth, "directions": DIRECTIONS, "lineage_title": title,
    }


@ui_view
def table_page(request: HttpRequest, name: str) -> HttpResponse:
    try:
        usage = table_usage(actor=request.user, name=name)
    except InvalidParameter as exc:
        raise NotFound(exc.message) from None
    context = {
        "usage": usage, "kind": "Table",
        "breadcrumbs": [("Tables", ""), (usage.name, reverse("explorer:table", kwargs={"name": usage.name}))],
    }
    context.update(lineage_context(request, f"table:{usage.name}", f"Lineage of table {usage.name}"))
    return render(request, "explorer/table.html", context)
