"""Server-side drawing of a lineage graph: an SVG picture (no script, no external asset) in columns from tables
and datasets to runs, logged models, versions, copies and aliases, each node linking to its page, plus the same
content as table rows for reading and for screen readers. All text is escaped."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from html import escape
from typing import Callable, Iterator

from registry.lineage.graph import Graph, Node

UrlFor = Callable[[Node], "str | None"]

TYPE_LABELS = {
    "table": "Table", "dataset": "Dataset", "experiment": "Experiment", "run": "Run", "logged_model": "Logged model",
    "model_version": "Model version", "alias": "Alias", "restricted": "Restricted",
    "remote_run": "Run on another deployment",
}
_BASE_COLUMN = {"table": 0, "dataset": 0, "experiment": 0, "run": 1, "remote_run": 1, "logged_model": 2,
                "model_version": 3}
_FILL = {
    "table": "#e0f2fe", "dataset": "#ecfeff", "experiment": "#f5f3ff", "run": "#fef9c3", "logged_model": "#fae8ff",
    "model_version": "#dcfce7", "alias": "#ffedd5", "restricted": "#e5e7eb", "remote_run": "#fef9c3",
}
_STROKE = "#64748b"
WIDTH, HEIGHT, COLUMN_GAP, ROW_GAP, PAD = 210, 46, 110, 14, 20
_MAX_CHARS = 30


def node_label(node: Node) -> str:
    """The one-line name a person reads for a node (restricted nodes have none)."""
    if node.restricted:
        return "Restricted"
    name = node.name or node.id
    if node.type == "table" and node.attrs.get("versions"):
        name += " @ v" + ", v".join(node.attrs["versions"])
    return name + (" (deleted)" if node.deleted else "")


def _url(node: Node, url_for: UrlFor | None) -> str:
    # Restricted nodes must not link anywhere (a URL would name them); deleted ones have no page left.
    if url_for is None or node.restricted or node.deleted:
        return ""
    return url_for(node) or ""


def _short(text: str) -> str:
    return text if len(text) <= _MAX_CHARS else text[: _MAX_CHARS - 1] + "…"


def columns(graph: Graph) -> dict[str, int]:
    """Column of every node: tables/datasets/experiments, runs, logged models, versions, then one column per
    generation of copies, aliases last; restricted nodes sit next to the node they are linked to."""
    col: dict[str, int] = {}
    for key, node in graph.nodes.items():
        if node.type in _BASE_COLUMN:
            col[key] = _BASE_COLUMN[node.type]
    copies = [(e.source, e.target) for e in graph.edges if e.label == "copy"]
    for _ in range(min(len(copies), 50)):  # copy chains are short; the bound guards against a cycle
        changed = False
        for source, target in copies:
            if source in col and target in col and col[target] < col[source] + 1:
                col[target], changed = col[source] + 1, True
        if not changed:
            break
    for edge in graph.edges:
        for hidden, other, step in ((edge.source, edge.target, -1), (edge.target, edge.source, 1)):
            if graph.nodes[hidden].restricted and other in col and not graph.nodes[other].restricted:
                col[hidden] = min(col.get(hidden, 99), max(col[other] + step, 0))
    last = max(col.values(), default=0) + 1
    for key, node in graph.nodes.items():
        col.setdefault(key, last if node.type == "alias" else 0)
    return col


def layout(graph: Graph) -> dict[str, tuple[int, int]]:
    """(x, y) of every node. Each column is ordered by the mean row of its neighbours in earlier columns (one
    barycentre sweep), which keeps most edges short and uncrossed at linear cost."""
    col = columns(graph)
    by_col: dict[int, list[str]] = defaultdict(list)
    for key in graph.nodes:
        by_col[col[key]].append(key)
    neighbours: dict[str, list[str]] = defaultdict(list)
    for e in graph.edges:
        neighbours[e.source].append(e.target)
        neighbours[e.target].append(e.source)
    row: dict[str, int] = {}
    for c in sorted(by_col):
        def order(key: str, c=c):
            placed = [row[n] for n in neighbours[key] if n in row and col[n] < c]
            return (sum(placed) / len(placed) if placed else float("inf"), node_label(graph.nodes[key]), key)

        for i, key in enumerate(sorted(by_col[c], key=order)):
            row[key] = i
    return {k: (PAD + col[k] * (WIDTH + COLUMN_GAP), PAD + row[k] * (HEIGHT + ROW_GAP)) for k in graph.nodes}


def render_svg(graph: Graph, url_for: UrlFor | None = None, *, id_prefix: str = "lineage",
               title: str = "Lineage") -> str:
    pos = layout(graph)
    width = max((x for x, _ in pos.values()), default=PAD) + WIDTH + PAD
    height = max((y for _, y in pos.values()), default=PAD) + HEIGHT + PAD
    p = escape(id_prefix, quote=True)
    # role=group, not img: an image's children are presentational, and the nodes are links (axe: nested-interactive).
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="lineage-graph" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="group" aria-labelledby="{p}-title" '
        'font-family="system-ui, sans-serif" font-size="12">',
        f'<title id="{p}-title">{escape(title)}</title>',
        f'<defs><marker id="{p}-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        'orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" fill="#64748b"/></marker></defs>',
        '<g class="lineage-edges" fill="none" stroke="#94a3b8" stroke-width="1.5">',
    ]
    labels = []
    for e in graph.edges:
        (x1, y1), (x2, y2) = pos[e.source], pos[e.target]
        x1, y1, x2, y2 = x1 + WIDTH, y1 + HEIGHT // 2, x2, y2 + HEIGHT // 2
        bend = max(40, abs(x2 - x1) // 2)
        out.append(f'<path class="lineage-edge lineage-edge--{escape(e.label or "link", quote=True)}" '
                   f'd="M{x1},{y1} C{x1 + bend},{y1} {x2 - bend},{y2} {x2},{y2}" marker-end="url(#{p}-arrow)"/>')
        if e.label:
            labels.append(f'<text x="{(x1 + x2) // 2}" y="{(y1 + y2) // 2 - 4}" text-anchor="middle">'
                          f'{escape(e.label)}</text>')
    out.append("</g>")
    out.append('<g class="lineage-edge-labels" fill="#334155" stroke="#ffffff" stroke-width="3" '
               'paint-order="stroke">' + "".join(labels) + "</g>")
    out.append('<g class="lineage-nodes">')
    for key, node in graph.nodes.items():
        out.append(_node_svg(node, pos[key], _url(node, url_for), key == graph.root))
    out.append("</g></svg>")
    return "".join(out)


def _node_svg(node: Node, xy: tuple[int, int], url: str, is_root: bool) -> str:
    x, y = xy
    kind = TYPE_LABELS.get(node.type, node.type)
    label = node_label(node)
    dash = ' stroke-dasharray="5 3"' if node.deleted else ""
    stroke = ' stroke-width="3"' if is_root else ' stroke-width="1"'
    uri = "" if node.restricted else (node.attrs or {}).get("source_uri", "")
    # A dataset reads by where it came from (its recorded source URI), its name beside the kind.
    shown, kind_line = (uri, f"{kind.upper()} · {_short(label)}") if node.type == "dataset" and uri else (
        label, kind.upper())
    name_line = "" if node.restricted else (
        f'<text x="10" y="36" fill="#0f172a">{escape(_short(shown))}</text>')
    tooltip = kind if node.restricted else f"{kind}: {label}" + (f" (source {uri})" if uri and uri != label else "")
    root = " lineage-node--root" if is_root else ""
    body = (f'<g class="lineage-node lineage-node--{escape(node.type, quote=True)}{root}" '
            f'transform="translate({x},{y})" data-x="{x}" data-y="{y}">'
            f"<title>{escape(tooltip)}</title>"
            f'<rect width="{WIDTH}" height="{HEIGHT}" rx="6" fill="{_FILL.get(node.type, "#ffffff")}" '
            f'stroke="{"#9ca3af" if node.restricted else _STROKE}"{stroke}{dash}/>'
            f'<text x="10" y="17" fill="#475569" font-size="10" letter-spacing="0.5">{escape(kind_line)}</text>'
            f"{name_line}</g>")
    return f'<a href="{escape(url, quote=True)}">{body}</a>' if url else body


@dataclass(frozen=True)
class LineageRow:
    source_type: str
    source_label: str
    source_url: str
    relation: str
    target_type: str
    target_label: str
    target_url: str
    detail: str = ""


def table_rows(graph: Graph, url_for: UrlFor | None = None) -> Iterator[LineageRow]:
    """The picture's content as rows (one per edge, upstream first), for the table under the graph."""
    col = columns(graph)
    edges = sorted(graph.edges, key=lambda e: (col[e.source], col[e.target], node_label(graph.nodes[e.source]),
                                              node_label(graph.nodes[e.target])))
    if not edges and graph.root in graph.nodes:
        node = graph.nodes[graph.root]
        yield LineageRow(TYPE_LABELS.get(node.type, node.type), node_label(node), _url(node, url_for), "", "", "", "")
    for e in edges:
        s, t = graph.nodes[e.source], graph.nodes[e.target]
        details = [f"table version {e.attrs['table_version']}"] if e.attrs.get("table_version") else []
        if e.attrs.get("source_uri") and not s.restricted:
            details.insert(0, f"source {e.attrs['source_uri']}")
        if e.attrs.get("job_id"):
            details.append(f"job {e.attrs['job_id']} ({e.attrs.get('job_state', '').lower()})")
        yield LineageRow(TYPE_LABELS.get(s.type, s.type), node_label(s), _url(s, url_for), e.label,
                         TYPE_LABELS.get(t.type, t.type), node_label(t), _url(t, url_for), "; ".join(details))
