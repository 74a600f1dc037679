"""Template helpers of the browser UI: URLs of objects, sanitised Markdown, status icons, paging links and
the navigation tree's first level."""
from __future__ import annotations

from datetime import datetime, timezone as dt_timezone
from urllib.parse import urlencode

from django import template
from django.utils.html import conditional_escape
from django.utils.safestring import mark_safe
from django.urls import reverse

from explorer.markdown import first_line, plain_excerpt, render_markdown
from registry.models import Catalog, ModelVersion, RegisteredModel, Schema

register = template.Library()
NAV_CATALOGS = 200

STATUS = {
    "READY": ("✓", "ok", "Ready"),
    "PENDING_REGISTRATION": ("…", "pending", "Pending registration"),
    "FAILED_REGISTRATION": ("✕", "failed", "Registration failed"),
}


def object_url(obj) -> str:
    if isinstance(obj, Catalog):
        return reverse("explorer:catalog", args=[obj.name])
    if isinstance(obj, Schema):
        return reverse("explorer:schema", args=[obj.full_name])
    if isinstance(obj, RegisteredModel):
        return reverse("explorer:model", args=[obj.full_name])
    if isinstance(obj, ModelVersion):
        return reverse("explorer:version", kwargs={"name": obj.model.full_name, "version": obj.version})
    return reverse("explorer:home")


@register.simple_tag(name="object_url")
def object_url_tag(obj) -> str:
    return object_url(obj)


@register.filter(name="markdown")
def markdown_filter(source):
    return render_markdown(source)


@register.filter(name="plain_excerpt")
def plain_excerpt_filter(source, limit=200):
    """Markdown as one line of plain text (no `**`, backticks or link syntax), for search results."""
    return plain_excerpt(source, int(limit))


@register.filter(name="break_at_dots")
def break_at_dots(name) -> str:
    """A dotted full name (`catalog.schema.model`) that a narrow box breaks after a dot rather than mid-word: the
    name escaped, with a word-break opportunity after each dot."""
    return mark_safe("<wbr>".join(conditional_escape(part) + "." for part in str(name).split("."))[:-1]) \
        if "." in str(name) else conditional_escape(name)


@register.filter(name="first_line")
def first_line_filter(source, limit=120):
    return first_line(source, int(limit))


@register.inclusion_tag("explorer/partials/status.html")
def status_icon(mv):
    symbol, css, label = STATUS.get(mv.status, ("?", "unknown", mv.status))
    return {"symbol": symbol, "css": css, "label": label, "message": mv.status_message}


@register.filter
def ms_datetime(value):
    """MLflow's millisecond timestamps as aware datetimes."""
    try:
        return datetime.fromtimestamp(int(value) / 1000, tz=dt_timezone.utc)
    except (TypeError, ValueError, OverflowError, OSError):
        return None


@register.simple_tag
def query(base: dict, **changes) -> str:
    """`?a=1&b=2` from `base` with `changes` applied (None or "" drops a key)."""
    params = {**base, **changes}
    params = {k: v for k, v in params.items() if v not in (None, "")}
    return "?" + urlencode(params) if params else "?"


@register.simple_tag(takes_context=True)
def page_query(context, number) -> str:
    """The current URL's query with `page` set to `number`."""
    params = context["request"].GET.copy()
    params["page"] = number
    return "?" + params.urlencode()


@register.inclusion_tag("explorer/partials/nav_tree.html", takes_context=True)
def nav_tree(context):
    from registry.selectors import catalog_list_visible

    request = context["request"]
    catalogs = list(catalog_list_visible(actor=request.user).order_by("name")[:NAV_CATALOGS + 1])
    crumbs = context.get("breadcrumbs") or []
    open_names = {label for label, _ in crumbs}
    return {"catalogs": catalogs[:NAV_CATALOGS], "more": len(catalogs) > NAV_CATALOGS, "open_names": open_names,
            "request": request}
