"""Markdown descriptions rendered to HTML that is safe to show: Markdown's output passes through nh3 (an
allow-list sanitiser), so no script, event handler, style or `javascript:` URL survives."""
from __future__ import annotations

from html import unescape

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


def render_markdown(source: str | None, *, images: bool = True) -> SafeString:
    """`source` as sanitised HTML (empty for empty input). `images=False` drops images (comments: anyone who may
    read a model writes them, and an image there would be a tracking pixel or an image without a text)."""
    if not source:
        return mark_safe("")
    html = _markdown.markdown(source[:MAX_SOURCE], extensions=["fenced_code", "tables", "sane_lists"],
                              output_format="html")
    clean = nh3.clean(html, tags=_TAGS if images else _TAGS - {"img"}, attributes=_ATTRIBUTES,
                      url_schemes=_URL_SCHEMES, link_rel="noopener noreferrer nofollow", strip_comments=True)
    return mark_safe(clean)


def _as_plain_text(markdown_source: str) -> str:
    """Markdown rendered, then every tag dropped: `**b**`, backticks, links and list markers become their text."""
    html = _markdown.markdown(markdown_source[:MAX_SOURCE], extensions=["fenced_code", "tables", "sane_lists"],
                              output_format="html")
    return " ".join(unescape(nh3.clean(html, tags=set(), strip_comments=True)).split())


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def first_line(source: str | None, limit: int = 120) -> str:
    """The first line of a description that has text, as plain text (no Markdown syntax), for tables."""
    fenced = False
    for line in (source or "").splitlines():
        line = line.strip()
        if line.startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if fenced or not line or set(line) <= set("-=*_|: "):
            continue  # code, rules, setext underlines and table separators are not the text to show
        text = _as_plain_text(line.lstrip("#").strip().strip("|").replace(" | ", " · "))
        if text:
            return _cut(text, limit)
    return ""


def plain_excerpt(source: str | None, limit: int = 200) -> str:
    """The whole description as one line of plain text (no Markdown syntax), cut to `limit`, for search results."""
    if not source:
        return ""
    return _cut(_as_plain_text(source[: limit * 20]), limit)
