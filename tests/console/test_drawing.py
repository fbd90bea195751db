"""The console's server-drawn SVG and its filter helpers, without a browser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from corral.schemas.observability import GraphEdge, GraphNode, HandoffGraph
from corral.server.console.formatting import duration, time_window
from corral.server.console.svg import agent_graph, bar_chart, looping_edges


def edge(source: str, target: str, kind: str = "handoff", count: int = 1) -> GraphEdge:
    return GraphEdge(source=source, target=target, kind=kind, count=count)  # type: ignore[arg-type]


def test_only_handoffs_on_a_cycle_are_loops() -> None:
    edges = [
        edge("agent:a", "agent:b"),
        edge("agent:b", "agent:c"),
        edge("agent:c", "agent:a"),
        edge("agent:a", "agent:d"),
        edge("agent:a", "tool:t", "tool_call", 9),
    ]
    assert looping_edges(edges) == {
        ("agent:a", "agent:b"),
        ("agent:b", "agent:c"),
        ("agent:c", "agent:a"),
    }


def test_graph_escapes_names_and_marks_loops() -> None:
    graph = HandoffGraph(
        nodes=[
            GraphNode(id="agent:<b>", kind="agent", name="<b>", spans=2),
            GraphNode(id="agent:c", kind="agent", name="c", spans=1),
            GraphNode(
                id="tool:<script>x</script>", kind="tool", name="<script>x</script>", spans=4
            ),
        ],
        edges=[
            edge("agent:<b>", "agent:c", count=3),
            edge("agent:c", "agent:<b>", count=2),
            edge("agent:c", "tool:<script>x</script>", "tool_call", 4),
        ],
        spans_examined=10,
    )
    svg = str(agent_graph(graph))
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    assert "&lt;b&gt;" in svg
    assert svg.count('class="edge loop"') == 2
    assert svg.count('class="edge tool"') == 1
    assert "3 &#215;" in svg
    assert "4 &#215;" in svg


def test_bar_chart_scales_to_a_round_ceiling() -> None:
    svg = str(bar_chart([("<d1>", 3.0), ("d2", 7.5)], label="spend", fmt=lambda v: f"{v:g}"))
    assert ">10</text>" in svg  # 7.5 rounds up to an axis of 10
    assert svg.count("<rect") == 2
    assert "&lt;d1&gt;" in svg
    assert "<d1>" not in svg
    assert "<rect" not in str(bar_chart([], label="none", fmt=str))


def test_durations_read_naturally() -> None:
    assert [duration(v) for v in (None, 4.25, 850, 1240, 185_000, 7_500_000)] == [
        "—",
        "4.2 ms",
        "850 ms",
        "1.24 s",
        "3m 05s",
        "2h 05m",
    ]


def test_time_window_named_and_local() -> None:
    now = datetime(2026, 3, 1, 12, tzinfo=UTC)
    assert time_window({"range": "24h"}, now) == (now - timedelta(days=1), None)
    assert time_window({}, now) == (None, None)
    # Typed in Berlin winter time (UTC+1): 10:00 local is 09:00 UTC.
    since, until = time_window(
        {"range": "custom", "since": "2026-02-01T10:00", "tz": "60", "until": "nonsense"}, now
    )
    assert since == datetime(2026, 2, 1, 9, tzinfo=UTC)
    assert until is None


def test_waterfall_pages_follow_the_tree_and_find_a_focused_span() -> None:
    from types import SimpleNamespace

    from starlette.requests import Request

    from corral.server.console.trace_pages import WATERFALL_PAGE, _waterfall_window

    spans = [SimpleNamespace(span_id=f"{n:016x}") for n in range(2 * WATERFALL_PAGE + 500)]

    def window(query: str) -> tuple[int, int]:
        request = Request({"type": "http", "query_string": query.encode(), "headers": []})
        return _waterfall_window(request, spans)

    assert window("") == (0, WATERFALL_PAGE)
    assert window(f"from={WATERFALL_PAGE + 7}") == (WATERFALL_PAGE, 2 * WATERFALL_PAGE)
    assert window(f"focus={2 * WATERFALL_PAGE + 3:016x}") == (2 * WATERFALL_PAGE, len(spans))
    assert window("spans=all") == (0, len(spans))
    assert window("from=nonsense") == (0, WATERFALL_PAGE)
