"""The lineage graph as plain data: nodes keyed "<type>:<id>", directed edges (upstream -> downstream) with a
label (training, evaluation, logged, registered, copy, alias, run), and its JSON form."""
from __future__ import annotations

from dataclasses import dataclass, field

RESTRICTED = "restricted"


@dataclass
class Node:
    type: str
    id: str
    name: str = ""
    deleted: bool = False
    attrs: dict = field(default_factory=dict)

    @property
    def key(self) -> str:
        return f"{self.type}:{self.id}"

    @property
    def restricted(self) -> bool:
        return self.type == RESTRICTED

    def as_dict(self) -> dict:
        if self.restricted:
            # Nothing but an opaque id: not the name, the type, or whether it still exists.
            return {"key": self.key, "type": RESTRICTED, "id": self.id}
        return {"key": self.key, "type": self.type, "id": self.id, "name": self.name, "deleted": self.deleted,
                **({"attrs": self.attrs} if self.attrs else {})}


@dataclass
class Edge:
    source: str  # node key, upstream end
    target: str  # node key, downstream end
    label: str = ""
    attrs: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"source": self.source, "target": self.target, "label": self.label,
                **({"attrs": self.attrs} if self.attrs else {})}


@dataclass
class Graph:
    root: str
    direction: str = "both"
    depth: int = 1
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    truncated: bool = False

    def add_node(self, node: Node) -> Node:
        return self.nodes.setdefault(node.key, node)

    def add_edge(self, edge: Edge) -> None:
        self.edges.append(edge)

    def as_dict(self) -> dict:
        return {
            "root": self.root, "direction": self.direction, "depth": self.depth, "truncated": self.truncated,
            "nodes": [n.as_dict() for n in self.nodes.values()],
            "edges": [e.as_dict() for e in self.edges],
        }
