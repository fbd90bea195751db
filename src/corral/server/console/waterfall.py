"""A trace's (or a session's) spans on a time axis, as table rows.

Built in Python rather than with a template macro: a trace can hold thousands of spans and the
per-row cost of template calls dominated the page's time. Every value placed in the HTML is
escaped (``html.escape``: the same result as markupsafe's, at a fraction of the cost per call).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from html import escape
from urllib.parse import quote

from markupsafe import Markup

from corral.schemas.detection import Finding
from corral.schemas.observability import SpanSummary
from corral.server.console.formatting import duration
from corral.server.console.rendering import _number, _usd

MAX_INDENT = 24


@dataclass
class WaterfallRow:
    """A span placed on the time axis (percentages of the whole's duration)."""

    span: SpanSummary
    """Or a row with the same fields (see :func:`corral.core.traces.trace_spans`)."""
    offset: float
    width: float
    findings: list[Finding]


def place(
    spans: list[SpanSummary], start: datetime, total_ms: float, marks: dict[str, list[Finding]]
) -> list[WaterfallRow]:
    total = max(total_ms, 0.001)
    rows = []
    for span in spans:
        offset = min(100.0, max(0.0, (span.start_time - start).total_seconds() * 1e5 / total))
        width = min(100.0 - offset, max(0.3, span.duration_ms * 100 / total))
        rows.append(WaterfallRow(span, offset, width, marks.get(span.span_id, [])))
    return rows


def render_rows(rows: list[WaterfallRow], project: str, *, indent: bool = True) -> Markup:
    base = f"/console/traces/{quote(project, safe='')}"
    findings_base = f"/console/findings/{quote(project, safe='')}"
    out: list[str] = []
    for row in rows:
        s = row.span
        error = s.status == "error"
        pad = (
            f' style="padding-left:{min(s.depth, MAX_INDENT) * 14 + 8}px"'
            if indent and s.depth
            else ""
        )
        marks = "".join(
            f'<a class="finding-mark" href="{findings_base}/{f.id}" '
            f'title="{escape(f.explanation)}">&#9873; {escape(f.type)}</a>'
            for f in row.findings
        )
        badge = (
            f'<span class="badge badge-error" title="{escape(s.error_message or "")}">error</span>'
            if error
            else ""
        )
        tokens = (
            f"{_number(s.input_tokens or 0)} &#8594; {_number(s.output_tokens or 0)}"
            if s.input_tokens or s.output_tokens
            else ""
        )
        out.append(
            f'<tr id="span-{escape(s.span_id)}"{" class=error-row" if error else ""}>'
            f'<td class="name"{pad}>'
            f'<a href="{base}/{escape(s.trace_id)}/spans/{escape(s.span_id)}">{escape(s.name)}</a>'
            f' <span class="badge">{escape(s.span_type)}</span>{badge}{marks}</td>'
            f"<td>{escape(s.agent_name or '')}</td><td>{escape(s.model or s.tool_name or '')}</td>"
            f'<td class="num">{tokens}</td>'
            f'<td class="num">{_usd(s.cost_usd) if s.cost_usd else ""}</td>'
            f'<td class="num">{duration(s.duration_ms)}</td>'
            f'<td class="track"><div class="bar {escape(s.span_type)}{" error" if error else ""}" '
            f'style="margin-left:{row.offset:.2f}%;width:{row.width:.2f}%"></div></td></tr>'
        )
    return Markup("".join(out))  # noqa: S704 - every value above is escaped
