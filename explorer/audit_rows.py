"""The audit log's rows as an admin reads them: the object's type in words ("registered model", "personal access
token"), a link to the object's page while it exists (under its current name: a renamed model is still found),
and each parameter with its whole value (the page shows a long one folded, not cut)."""
from __future__ import annotations

from dataclasses import dataclass

from django.apps import apps
from django.urls import reverse

from registry.models import AuditEvent, Catalog, Experiment, ModelVersion, RegisteredModel, Run, Schema

# A value longer than this is shown folded (<details>): its start, and the rest on demand.
FOLD_AFTER = 60


@dataclass(frozen=True)
class Parameter:
    key: str
    value: str

    @property
    def folded(self) -> bool:
        return len(self.value) > FOLD_AFTER

    @property
    def start(self) -> str:
        return self.value[:FOLD_AFTER] + "…"


@dataclass(frozen=True)
class Row:
    event: AuditEvent
    type_label: str
    url: str | None
    parameters: list[Parameter]


def _type_label(object_type: str) -> str:
    if not object_type:
        return ""
    try:
        return str(apps.get_model("registry", object_type)._meta.verbose_name)
    except LookupError:
        return object_type


def _links(events: list[AuditEvent]) -> dict[tuple[str, str], str]:
    """(object type, id) -> the page of each object of `events` that still exists: one query per kind."""
    ids: dict[str, set[int]] = {}
    for event in events:
        if (event.object_id or "").isdigit():
            ids.setdefault(event.object_type, set()).add(int(event.object_id))
    links: dict[tuple[str, str], str] = {}

    def add(kind: str, rows, url_of) -> None:
        for row in rows:
            links[(kind, str(row.pk))] = url_of(row)

    if "catalog" in ids:
        add("catalog", Catalog.objects.filter(pk__in=ids["catalog"]),
            lambda c: reverse("explorer:catalog", args=[c.name]))
    if "schema" in ids:
        add("schema", Schema.objects.select_related("catalog").filter(pk__in=ids["schema"]),
            lambda s: reverse("explorer:schema", args=[s.full_name]))
    if "registeredmodel" in ids:
        add("registeredmodel", RegisteredModel.objects.select_related("schema__catalog").filter(
            pk__in=ids["registeredmodel"]), lambda m: reverse("explorer:model", args=[m.full_name]))
    if "modelversion" in ids:
        add("modelversion", ModelVersion.objects.select_related("model__schema__catalog").filter(
            pk__in=ids["modelversion"]), lambda v: reverse("explorer:version", args=[v.model.full_name, v.version]))
    if "experiment" in ids:
        add("experiment", Experiment.objects.filter(pk__in=ids["experiment"]),
            lambda e: reverse("explorer:experiment", args=[str(e.pk)]))
    if "run" in ids:
        add("run", Run.objects.filter(pk__in=ids["run"]), lambda r: reverse("explorer:run", args=[r.run_id]))
    return links


def _parameters(event: AuditEvent) -> list[Parameter]:
    return [Parameter(str(key), value if isinstance(value, str) else _compact(value))
            for key, value in (event.parameters or {}).items() if value is not None and value != ""]


def _compact(value) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={v}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(str(v) for v in value)
    return str(value)


def audit_rows(events) -> list[Row]:
    events = list(events)
    links = _links(events)
    return [Row(event, _type_label(event.object_type), links.get((event.object_type, event.object_id)),
                _parameters(event)) for event in events]
