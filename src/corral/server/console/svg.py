"""Charts and graphs drawn on the server as inline SVG: no script library, nothing fetched.

Every piece of text placed in the SVG goes through ``escape``: agent, tool and model names come
from whoever sends spans.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from markupsafe import Markup, escape

from corral.schemas.observability import GraphEdge, HandoffGraph

MAX_TOOLS = 30


def _nice_ceiling(value: float) -> float:
    """The smallest 1, 2 or 5 times a power of ten at or above ``value``: round axis labels."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    return float(next(step * power for step in (1, 2, 5, 10) if step * power >= value))


def bar_chart(
    bars: Sequence[tuple[str, float]],
    *,
    label: str,
    fmt: Callable[[float], str],
    width: int = 960,
    height: int = 240,
) -> Markup:
    """Vertical bars (label, value) with a y axis of round values; each bar has a tooltip."""
    left, right, top, bottom = 64, 12, 12, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    ceiling = _nice_ceiling(max((v for _, v in bars), default=0.0))
    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(label)}" xmlns="http://www.w3.org/2000/svg">'
    ]
    for tick in range(5):
        value = ceiling * tick / 4
        y = top + plot_h - plot_h * tick / 4
        parts.append(
            f'<line x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">'
            f"{escape(fmt(value))}</text>"
        )
    if bars:
        slot = plot_w / len(bars)
        every = max(1, math.ceil(len(bars) / 12))
        for index, (name, value) in enumerate(bars):
            bar_h = plot_h * value / ceiling
            x = left + index * slot
            parts.append(
                f'<rect x="{x + slot * 0.15:.1f}" y="{top + plot_h - bar_h:.1f}" '
                f'width="{max(1.0, slot * 0.7):.1f}" height="{bar_h:.1f}" class="bar">'
                f"<title>{escape(name)}: {escape(fmt(value))}</title></rect>"
            )
            if index % every == 0:
                parts.append(
                    f'<text x="{x + slot / 2:.1f}" y="{height - 8}" text-anchor="middle" '
                    f'class="axis">{escape(name)}</text>'
                )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text piece above is escaped


def looping_edges(edges: Sequence[GraphEdge]) -> set[tuple[str, str]]:
    """Handoff edges on a cycle (A→…→A): work that came back to an agent it left."""
    handoffs = [(e.source, e.target) for e in edges if e.kind == "handoff"]
    following: dict[str, set[str]] = {}
    for source, target in handoffs:
        following.setdefault(source, set()).add(target)

    def reaches(start: str, goal: str) -> bool:
        seen, pending = {start}, [start]
        while pending:
            node = pending.pop()
            if node == goal:
                return True
            for nxt in following.get(node, ()):
                if nxt not in seen:
                    seen.add(nxt)
                    pending.append(nxt)
        return False

    return {(s, t) for s, t in handoffs if reaches(t, s)}


def agent_graph(graph: HandoffGraph, *, width: int = 960) -> Markup:
    """Agents on a circle at the left, tools in a column at the right; handoffs curve between
    agents (A→B and B→A bend to opposite sides, so a back-and-forth shows as two arcs), tool
    calls run straight to the tools. Edges on a handoff cycle are drawn as loops (red)."""
    agents = [n for n in graph.nodes if n.kind == "agent"]
    tools = sorted((n for n in graph.nodes if n.kind == "tool"), key=lambda n: -n.spans)
    hidden_tools = tools[MAX_TOOLS:]
    tools = tools[:MAX_TOOLS]
    height = max(260, 44 * len(tools) + 40, 90 * len(agents) + 40)
    centre_x, centre_y = width * 0.3, height / 2
    radius = 0.0 if len(agents) == 1 else min(width * 0.22, height / 2 - 50)
    places: dict[str, tuple[float, float]] = {}
    for index, node in enumerate(agents):
        angle = 2 * math.pi * index / max(1, len(agents)) - math.pi / 2
        places[node.id] = (
            centre_x + radius * math.cos(angle),
            centre_y + radius * math.sin(angle),
        )
    tool_x = width - 150
    for index, node in enumerate(tools):
        places[node.id] = (tool_x, 30 + (height - 60) * (index + 0.5) / max(1, len(tools)))
    loops = looping_edges(graph.edges)
    parts = [
        f'<svg class="graph" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="Agents and tools of this session" xmlns="http://www.w3.org/2000/svg">',
        "<defs>",
        *(
            f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="10" refY="5" '
            f'markerWidth="7" markerHeight="7" orient="auto-start-reverse">'
            f'<path d="M0,0 L10,5 L0,10 z" class="head-{name}"/></marker>'
            for name in ("handoff", "tool", "loop")
        ),
        "</defs>",
    ]
    for edge in graph.edges:
        if edge.source not in places or edge.target not in places:
            continue
        (x1, y1), (x2, y2) = places[edge.source], places[edge.target]
        if edge.kind == "tool_call":
            x1, x2 = x1 + 60, x2 - 70
            parts.append(
                f'<line x1="{x1:.1f}" y1="{y1:.1f}" x2="{x2:.1f}" y2="{y2:.1f}" class="edge tool" '
                f'marker-end="url(#arrow-tool)"><title>{escape(_edge_title(edge))}</title></line>'
                # Near the agent's end: labels of several agents calling one tool stay apart.
                f'<text x="{x1 + (x2 - x1) * 0.3:.1f}" y="{y1 + (y2 - y1) * 0.3 - 5:.1f}" '
                'text-anchor="middle" class="count">'
                f"{edge.count} &#215;</text>"
            )
            continue
        kind = "loop" if (edge.source, edge.target) in loops else "handoff"
        length = math.hypot(x2 - x1, y2 - y1) or 1.0
        # Shorten to the node boxes, then bend to the right of the direction of travel.
        ux, uy = (x2 - x1) / length, (y2 - y1) / length
        sx, sy, ex, ey = x1 + ux * 34, y1 + uy * 22, x2 - ux * 34, y2 - uy * 22
        bend = min(60.0, length / 4)
        cx, cy = (sx + ex) / 2 - uy * bend, (sy + ey) / 2 + ux * bend
        parts.append(
            f'<path d="M{sx:.1f},{sy:.1f} Q{cx:.1f},{cy:.1f} {ex:.1f},{ey:.1f}" '
            f'class="edge {kind}" marker-end="url(#arrow-{kind})">'
            f"<title>{escape(_edge_title(edge))}</title></path>"
            f'<text x="{(sx + 2 * cx + ex) / 4:.1f}" y="{(sy + 2 * cy + ey) / 4:.1f}" '
            f'text-anchor="middle" class="count {kind}">{edge.count} &#215;</text>'
        )
    for node in agents:
        x, y = places[node.id]
        parts.append(
            f'<g class="node agent"><rect x="{x - 60:.1f}" y="{y - 20:.1f}" width="120" '
            f'height="40" rx="8"/><text x="{x:.1f}" y="{y - 2:.1f}" text-anchor="middle">'
            f"{escape(_short(node.name))}</text>"
            f'<text x="{x:.1f}" y="{y + 13:.1f}" text-anchor="middle" class="sub">'
            f"{node.spans} steps</text><title>agent {escape(node.name)}</title></g>"
        )
    for node in tools:
        x, y = places[node.id]
        parts.append(
            f'<g class="node tool"><rect x="{x - 70:.1f}" y="{y - 15:.1f}" width="140" '
            f'height="30" rx="3"/><text x="{x:.1f}" y="{y + 5:.1f}" text-anchor="middle">'
            f"{escape(_short(node.name, 18))}</text>"
            f"<title>tool {escape(node.name)}: {node.spans} calls</title></g>"
        )
    if hidden_tools:
        parts.append(
            f'<text x="{tool_x:.1f}" y="{height - 6}" text-anchor="middle" class="sub">'
            f"and {len(hidden_tools)} more tools</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text piece above is escaped


def _edge_title(edge: GraphEdge) -> str:
    source, target = edge.source.split(":", 1)[1], edge.target.split(":", 1)[1]
    verb = "handed off to" if edge.kind == "handoff" else "called"
    return f"{source} {verb} {target} {edge.count} times"


def _short(name: str, length: int = 16) -> str:
    return name if len(name) <= length else name[: length - 1] + "…"
