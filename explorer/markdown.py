"""Markdown descriptions rendered to HTML that is safe to show: Markdown's output passes through nh3 (an
allow-list sanitiser), so no script, event handler, style or `javascript:` URL survives."""
from __future__ import annotations

import markdown as _markdown
import nh3
from django.utils.safestring import SafeString, mark_safe

_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "dd", "del", "div", "dl", "dt", "em", "h1", "h2", "h3", "h4",
    "h5", "h6", "hr", "i", "img", "li", "ol", "p", "pre", "s", "span", "strong", "sub", "sup", "table", "tbody",
    "td", "th", "thead", "tr", "ul",
}
_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title"},
    "td": {"align"},
    "th": {"align"},
    "code": {"class"},
}
_URL_SCHEMES = {"http", "https", "mailto"}
# Descriptions may be up to 64 KiB; rendering is linear, but keep a hard stop for pathological input.
MAX_SOURCE = 200_000


def render_markdown(source: str | None) -> SafeString:
    """`source` as sanitised HTML (empty for empty input)."""
    if not source:
        return mark_safe("")
    html = _markdown.markdown(source[:MAX_SOURCE], extensions=["fenced_code", "tables", "sane_lists"],
                              output_format="html")
    clean = nh3.clean(html, tags=_TAGS, attributes=_ATTRIBUTES, url_schemes=_URL_SCHEMES,
                      link_rel="noopener noreferrer nofollow", strip_comments=True)
    return mark_safe(clean)


def first_line(source: str | None, limit: int = 120) -> str:
    """The first non-empty line of a description, as plain text, for tables."""
    for line in (source or "").splitlines():
        line = line.strip().lstrip("#").strip()
        if line:
            return line if len(line) <= limit else line[: limit - 1] + "…"
    return ""
