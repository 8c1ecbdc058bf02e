"""A trace's spans as a tree with a timing waterfall, flattened for rendering.

`build_span_tree` takes the light span rows of `Span.objects.tree_fields()` (no payloads) and
returns them in depth-first order, each with its depth, whether it has children, how many nested
levels close after it (so the template can write nested lists in one flat loop, which stays fast
at thousands of spans), and its position on the trace's timeline.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Protocol


class SpanRow(Protocol):
    span_id: str
    parent_id: str | None
    name: str
    span_type: str
    start_time_ns: int
    end_time_ns: int | None
    status_code: str


TYPE_LABELS = {
    "LLM": "LLM",
    "CHAT_MODEL": "Chat",
    "RETRIEVER": "Retriever",
    "TOOL": "Tool",
    "AGENT": "Agent",
    "CHAIN": "Chain",
    "EMBEDDING": "Embed",
    "RERANKER": "Rerank",
    "PARSER": "Parser",
    "MEMORY": "Memory",
    "UNKNOWN": "Span",
}


def format_duration_ns(duration_ns: int | None) -> str:
    """A short, human duration: "850 µs", "12 ms", "1.25 s", "2 min 5 s"."""
    if duration_ns is None:
        return "running"
    if duration_ns < 1_000_000:
        return f"{duration_ns / 1_000:.0f} µs"
    ms = duration_ns / 1_000_000
    if ms < 10:
        return f"{ms:.1f} ms"
    if ms < 1_000:
        return f"{ms:.0f} ms"
    seconds = ms / 1_000
    if seconds < 60:
        return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


@dataclass(slots=True)
class TreeNode:
    span_id: str
    parent_id: str | None
    name: str
    span_type: str
    start_ns: int
    end_ns: int | None
    status_code: str
    depth: int = 0
    has_children: bool = False
    closes: range = field(default_factory=lambda: range(0))
    offset_pct: float = 0.0
    width_pct: float = 0.0
    label_count: int = 0
    is_root: bool = False

    @property
    def type_label(self) -> str:
        label = TYPE_LABELS.get(self.span_type)
        return label or self.span_type.replace("_", " ").capitalize()[:10]

    @property
    def type_class(self) -> str:
        return self.span_type.lower() if self.span_type in TYPE_LABELS else "other"

    @property
    def is_error(self) -> bool:
        return self.status_code == "ERROR"

    @property
    def duration_ns(self) -> int | None:
        return None if self.end_ns is None else self.end_ns - self.start_ns

    @property
    def duration_label(self) -> str:
        return format_duration_ns(self.duration_ns)

    @property
    def bar_class(self) -> str:
        """The timing bar's offset and width as classes of static/css/sizes.css (whole
        percents): the Content-Security-Policy allows no style attributes."""
        offset = min(100, max(0, round(self.offset_pct)))
        width = min(100 - offset, max(0, round(self.width_pct)))
        return f"o-{offset} w-{width}"


@dataclass(slots=True)
class SpanTree:
    nodes: list[TreeNode]
    root_span_id: str | None
    start_ns: int = 0
    end_ns: int = 0
    by_id: dict[str, TreeNode] = field(default_factory=dict)

    @property
    def duration_ns(self) -> int:
        return self.end_ns - self.start_ns

    def __len__(self) -> int:
        return len(self.nodes)

    def get(self, span_id: str | None) -> TreeNode | None:
        return self.by_id.get(span_id) if span_id else None


def build_span_tree(
    spans: Iterable[SpanRow], *, label_counts: Mapping[str, int] | None = None
) -> SpanTree:
    """Depth-first order, children by start time. Spans whose parent is missing from the trace
    are shown as extra roots rather than dropped; a parent cycle cannot loop."""
    label_counts = label_counts or {}
    nodes = [
        TreeNode(
            span_id=span.span_id,
            parent_id=span.parent_id or None,
            name=span.name,
            span_type=span.span_type or "UNKNOWN",
            start_ns=span.start_time_ns,
            end_ns=span.end_time_ns,
            status_code=span.status_code,
            label_count=label_counts.get(span.span_id, 0),
        )
        for span in spans
    ]
    if not nodes:
        return SpanTree(nodes=[], root_span_id=None)
    by_id = {node.span_id: node for node in nodes}
    children: dict[str | None, list[TreeNode]] = {}
    for node in nodes:
        parent = (
            node.parent_id if node.parent_id in by_id and node.parent_id != node.span_id else None
        )
        children.setdefault(parent, []).append(node)
    for siblings in children.values():
        siblings.sort(key=lambda n: n.start_ns)

    start = min(node.start_ns for node in nodes)
    end = max((node.end_ns or node.start_ns) for node in nodes)
    total = max(end - start, 1)

    ordered: list[TreeNode] = []
    visited: set[str] = set()

    def walk(first: list[TreeNode]) -> None:
        stack = [(node, 0) for node in reversed(first)]
        while stack:
            node, depth = stack.pop()
            if node.span_id in visited:
                continue
            visited.add(node.span_id)
            node.depth = depth
            kids = [k for k in children.get(node.span_id, ()) if k.span_id not in visited]
            node.has_children = bool(kids)
            stack.extend((kid, depth + 1) for kid in reversed(kids))
            ordered.append(node)

    walk(children.get(None, []))
    if len(ordered) < len(nodes):
        # Spans caught in a parent cycle are reachable from no root: show them as roots too.
        for node in nodes:
            if node.span_id not in visited:
                walk([node])

    for index, node in enumerate(ordered):
        next_depth = ordered[index + 1].depth if index + 1 < len(ordered) else 0
        node.closes = range(max(0, node.depth - next_depth)) if not node.has_children else range(0)
        node.offset_pct = (node.start_ns - start) * 100 / total
        span_end = node.end_ns if node.end_ns is not None else end
        node.width_pct = max((span_end - node.start_ns) * 100 / total, 0.4)
        if node.offset_pct + node.width_pct > 100:
            node.width_pct = max(100 - node.offset_pct, 0.4)

    root = next((n for n in ordered if n.parent_id is None), ordered[0])
    root.is_root = True
    return SpanTree(
        nodes=ordered, root_span_id=root.span_id, start_ns=start, end_ns=end, by_id=by_id
    )
