"""A serving endpoint's page: its state, served entities and routes, a small chart of each entity's requests per
minute over the last hour with its p50/p99, and (CAN_MANAGE) the traffic split editor, which sends a config
update with the same served entities and the new percentages (the service checks they sum to 100)."""
from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse

from explorer.views.common import ui_view
from registry.errors import PermissionDenied, RegistryError
from registry.serving.endpoint_access import Level, includes
from registry.serving.endpoint_selectors import endpoint_detail
from registry.serving.endpoint_services import endpoint_config_update

CHART_MINUTES, CHART_HEIGHT, BAR_WIDTH = 60, 40, 4


def _chart(per_minute: list[dict]) -> list[dict]:
    """Bars of requests per minute, oldest first, scaled to the busiest minute (SVG geometry, no script)."""
    counts = [m["request_count"] for m in per_minute][-CHART_MINUTES:]
    top = max(counts, default=0) or 1
    bars = []
    for index, count in enumerate(counts):
        height = max(1, round(count / top * CHART_HEIGHT)) if count else 0
        bars.append({"x": index * BAR_WIDTH, "y": CHART_HEIGHT - height, "height": height, "count": count})
    return bars


def _entities(endpoint: dict) -> list[dict]:
    config = endpoint.get("config") or {}
    routes = {r["served_entity_name"]: r["traffic_percentage"] for r in config.get("traffic_config", {}).get("routes", [])}
    metrics = endpoint.get("served_entity_metrics", {})
    rows = []
    for entity in config.get("served_entities", []):
        numbers = metrics.get(entity["name"], {})
        rows.append({**entity, "traffic_percentage": routes.get(entity["name"], 0),
                     "request_count": numbers.get("request_count", 0), "p50": numbers.get("latency_p50_ms"),
                     "p99": numbers.get("latency_p99_ms"), "bars": _chart(numbers.get("per_minute", []))})
    return rows


def _split_config(endpoint: dict, form) -> dict:
    entities, routes = [], []
    for entity in endpoint["config"]["served_entities"]:
        entities.append({key: entity[key] for key in ("name", "entity_name", "entity_version", "workload_size",
                                                      "scale_to_zero_enabled")})
        raw = form.get(f"traffic_{entity['name']}", "").strip()
        if not raw.isdigit():
            raise ValueError(f"The percentage of {entity['name']} must be a whole number from 0 to 100.")
        routes.append({"served_entity_name": entity["name"], "traffic_percentage": int(raw)})
    return {"served_entities": entities, "traffic_config": {"routes": routes}}


@ui_view
def endpoint_page(request: HttpRequest, name: str) -> HttpResponse:
    endpoint = endpoint_detail(actor=request.user, name=name)
    error, status = None, 200
    if request.method == "POST" and endpoint.get("config"):
        try:
            endpoint_config_update(actor=request.user, name=name, config=_split_config(endpoint, request.POST))
            return redirect(reverse("explorer:serving_endpoint", args=[name]))
        except ValueError as exc:
            error, status = str(exc), 400
        except PermissionDenied as exc:
            error, status = exc.message, 403
        except RegistryError as exc:
            error, status = exc.message, 400
    context = {"endpoint": endpoint, "entities": _entities(endpoint), "error": error,
               "may_manage": includes(endpoint["permission_level"], Level.CAN_MANAGE),
               "chart_width": CHART_MINUTES * BAR_WIDTH, "chart_height": CHART_HEIGHT, "bar_width": BAR_WIDTH - 1,
               "breadcrumbs": [(f"Serving endpoint {name}", reverse("explorer:serving_endpoint", args=[name]))]}
    return render(request, "explorer/serving_endpoint.html", context, status=status)
