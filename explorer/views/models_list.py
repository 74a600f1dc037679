"""The models list: everything the user may see, with the registry filter grammar, sort and paging in the URL."""
from __future__ import annotations

import re

from django.db.models import prefetch_related_objects

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse

from explorer.views.common import page_size, ui_view
from registry import selectors
from registry.errors import InvalidParameter
from registry.search import UI_MODEL_ORDER_KEYS, search_registered_models
from registry.search.like import like_literal
from registry.search.pages import decode_page_token, encode_page_token

SORTS = {
    "name": ("Name A-Z", "name ASC"),
    "-name": ("Name Z-A", "name DESC"),
    "-updated": ("Last modified (newest)", "last_updated_timestamp DESC"),
    "updated": ("Last modified (oldest)", "last_updated_timestamp ASC"),
    "-created": ("Created (newest)", "creation_timestamp DESC"),
    "created": ("Created (oldest)", "creation_timestamp ASC"),
    "owner": ("Owner A-Z", "owner ASC"),
    "-owner": ("Owner Z-A", "owner DESC"),
}
DEFAULT_SORT = "name"
# Column headers that sort: ascending key -> the sort of a first click (newest first for dates).
SORTABLE_COLUMNS = {"name": "name", "owner": "owner", "updated": "-updated"}
# Expert syntax is recognised by a comparator or a tags./name key; anything else means "name contains".
_EXPERT = re.compile(r"(!=|=|<|>|\b(?:I?LIKE|IN|IS)\b|^\s*(?:tags?\.|name\b))", re.IGNORECASE)
ALIASES_SHOWN = 2


def filter_string(q: str) -> str:
    """The registry filter for the box's text: as-is when it is expert syntax, else `name ILIKE '%q%'`."""
    q = q.strip()
    if not q:
        return ""
    if _EXPERT.search(q):
        return q
    pattern = "%" + like_literal(q).replace("'", "''") + "%"
    return f"name ILIKE '{pattern}'"


def _headers(sort: str) -> dict[str, dict]:
    """For each sortable column: its aria-sort state and the sort a click on it asks for (the reverse when it
    is already the sort)."""
    headers = {}
    for ascending, first in SORTABLE_COLUMNS.items():
        state = "ascending" if sort == ascending else "descending" if sort == f"-{ascending}" else "none"
        following = {"ascending": f"-{ascending}", "descending": ascending}.get(state, first)
        headers[ascending] = {"aria_sort": state, "sort": following}
    return headers


@ui_view
def models_list(request: HttpRequest) -> HttpResponse:
    q = request.GET.get("q", "")[:1000]
    sort = request.GET.get("sort", DEFAULT_SORT)
    if sort not in SORTS:
        sort = DEFAULT_SORT
    size = page_size(request)
    token = request.GET.get("page_token", "")
    error, rows, page, offset = "", [], None, 0
    try:
        offset = decode_page_token(token)
        page = search_registered_models(actor=request.user, filter_string=filter_string(q) or None,
                                        order_by=[SORTS[sort][1]], order_keys=UI_MODEL_ORDER_KEYS, kind="model",
                                        max_results=size, page_token=token or None)
    except InvalidParameter as exc:
        error = exc.message
    if page is not None:
        prefetch_related_objects(page.items, "owner_user", "owner_group")
        for model in page.items:
            aliases = [(a.alias, a.version.version) for a in model.aliases.all()]
            latest = max((mv.version for mv in model.latest_versions), default=None)
            rows.append({"model": model, "latest": latest, "aliases": aliases[:ALIASES_SHOWN],
                         "more_aliases": max(0, len(aliases) - ALIASES_SHOWN), "tags": list(model.tags.all())[:5]})
    empty = ""
    if not error and not rows:
        if q or offset:
            empty = "no_results"
        else:
            empty = "no_models" if not selectors.model_list_visible(actor=request.user, kind="model").exists() else "no_results"
    base = {"q": q, "sort": sort, "page_size": size}
    return render(request, "explorer/models_list.html", {
        "headers": _headers(sort),
        "q": q, "sort": sort, "sorts": [(k, label) for k, (label, _) in SORTS.items()], "page_size": size,
        "page_sizes": (10, 25, 50, 100), "rows": rows, "error": error, "empty": empty, "base": base,
        "next_token": page.next_page_token if page else None,
        "prev_token": encode_page_token(max(0, offset - size)) if offset else None,
        "first": offset + 1, "last": offset + len(rows),
        "breadcrumbs": [("Models", reverse("explorer:models"))],
    })
