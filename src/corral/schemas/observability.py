"""Traces, spans, sessions, handoff graphs, metrics and purges."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from corral.schemas.common import Model, ResponseModel

SpanType = Literal["llm", "tool", "agent", "handoff", "retrieval", "embedding", "chain", "other"]
SpanStatus = Literal["ok", "error"]
MetricsGroup = Literal["agent", "project", "user", "model"]
MetricsInterval = Literal["minute", "hour", "day"]


class SpanSummary(ResponseModel):
    """A span's canonical fields (what lists and trees show)."""

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    span_type: SpanType
    status: SpanStatus
    error_message: str | None = None
    start_time: datetime
    end_time: datetime
    duration_ms: float
    agent_name: str | None = None
    agent_version: str | None = None
    session_id: str | None = None
    user_id: str | None = None
    model: str | None = None
    provider: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cache_read_tokens: int | None = None
    cache_write_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost_usd: float | None = None
    price_version: str | None = None
    tool_name: str | None = None
    tool_arguments: str | None = None
    depth: int | None = Field(default=None, description="Depth in the trace tree (root is 0).")


class SpanDetail(SpanSummary):
    """Everything stored for a span, raw attributes and events included."""

    kind: int
    service_name: str | None = None
    agent_id: str | None = None
    tool_result: str | None = None
    input_text: str | None = None
    output_text: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)
    events: list[dict[str, Any]] | None = None
    resource: dict[str, Any] | None = None


class TraceSummary(ResponseModel):
    """One trace, from its rollup: kept up to date as its spans arrive."""

    trace_id: str
    name: str | None
    root_span_id: str | None
    start_time: datetime
    end_time: datetime
    duration_ms: float
    status: SpanStatus
    agent_name: str | None
    session_id: str | None
    user_id: str | None
    span_count: int
    error_count: int
    llm_calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


class TraceTree(ResponseModel):
    """A trace and its spans in depth-first order (each with its ``depth``)."""

    trace: TraceSummary
    spans: list[SpanSummary]


class SessionSummary(ResponseModel):
    session_id: str
    first_seen: datetime
    last_seen: datetime
    status: SpanStatus
    agent_name: str | None
    user_id: str | None
    span_count: int
    error_count: int
    llm_calls: int
    input_tokens: int
    output_tokens: int
    cost_usd: float


class GraphNode(ResponseModel):
    id: str = Field(description="'agent:<name>' or 'tool:<name>'.")
    kind: Literal["agent", "tool"]
    name: str
    spans: int = Field(description="Spans of this agent, or calls of this tool.")


class GraphEdge(ResponseModel):
    source: str
    target: str
    kind: Literal["handoff", "tool_call"]
    count: int


class HandoffGraph(ResponseModel):
    """Who handed work to whom, and which tools each agent called, with counts."""

    nodes: list[GraphNode]
    edges: list[GraphEdge]
    spans_examined: int


class MetricPoint(ResponseModel):
    bucket: datetime
    group: str | None
    calls: int
    errors: int
    input_tokens: int
    output_tokens: int
    cost_usd: float
    latency_p50_ms: float
    latency_p95_ms: float


class TraceMetrics(ResponseModel):
    group_by: MetricsGroup
    interval: MetricsInterval
    span_type: SpanType | None
    since: datetime
    until: datetime
    points: list[MetricPoint]


class TracePurge(Model):
    """Which traces to delete. Give at least one condition; they combine with AND."""

    before: datetime | None = Field(
        default=None, description="Delete traces that started before this moment."
    )
    session_id: str | None = Field(default=None, max_length=200)
    user_id: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def _needs_a_condition(self) -> TracePurge:
        if self.before is None and self.session_id is None and self.user_id is None:
            raise ValueError("give before, session_id or user_id (purging everything is refused)")
        return self


class PurgeResult(ResponseModel):
    traces_deleted: int
    spans_deleted: int
    sessions_deleted: int
