"""Synthetic OTLP trace exports shaped like an agent at work.

Each trace is one ``invoke_agent`` root span with children alternating ``chat`` (model, tokens,
agent, conversation id and a ~300-character input-messages attribute) and ``execute_tool``
(tool name and arguments), in the GenAI semantic conventions. Benchmarks and tests use the
same generator, so what is measured is what is tested.
"""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from corral.core.normalize import NormalizedSpan
from corral.core.otlp import encode_key_values

_PROMPT = (
    "You are a support agent for Acme. The customer writes: my order 4417 arrived damaged and "
    "I would like a refund or a replacement, whichever is faster. Look up the order, check the "
    "refund policy for damaged goods, and answer politely in two sentences at most, quoting the "
    "order number and the expected date of the refund."
)


@dataclass
class TraceShape:
    children: int = 10
    project: str | None = None
    agent: str = "support-bot"
    model: str = "gpt-4o-mini"
    provider: str = "openai"
    user: str | None = None
    sessions: int = 1000


def agent_trace_request(
    traces: int, *, shape: TraceShape | None = None, seed: int | None = None, start_ns: int = 0
) -> ExportTraceServiceRequest:
    """One export request holding ``traces`` agent traces of ``1 + shape.children`` spans."""
    shape = shape or TraceShape()
    rng = random.Random(seed)
    request = ExportTraceServiceRequest()
    resource_spans = request.resource_spans.add()
    resource = {"service.name": "bench-agent"}
    if shape.project:
        resource["corral.project"] = shape.project
    resource_spans.resource.attributes.extend(encode_key_values(resource))
    scope = resource_spans.scope_spans.add()
    scope.scope.name = "corral.bench"
    base = start_ns or 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
    for _ in range(traces):
        scope.spans.extend(_trace(rng, shape, base + rng.randrange(10**12)))
    return request


def long_trace_steps(first: int, count: int, *, trace_id: str = "ab" * 16) -> list[NormalizedSpan]:
    """Steps ``first`` to ``first + count - 1`` of one long-running agent trace, as the span
    store receives them: step 1 is the root, every other step its child, one millisecond each.
    An agent's exporter sends such a trace in many batches as its steps end."""
    start = datetime(2026, 1, 1, tzinfo=UTC)
    return [
        NormalizedSpan(
            trace_id=trace_id,
            span_id=f"{step:016x}",
            parent_span_id=None if step == 1 else f"{1:016x}",
            name="step",
            start_time=start + timedelta(milliseconds=step),
            end_time=start + timedelta(milliseconds=step + 1),
            session_id="long-run",
            span_type="tool",
        )
        for step in range(first, first + count)
    ]


def _trace(rng: random.Random, shape: TraceShape, start: int) -> Iterator[Span]:
    trace_id = rng.randbytes(16)
    root_id = rng.randbytes(8)
    session = f"session-{rng.randrange(shape.sessions)}"
    step = 50_000_000
    root_attrs: dict[str, object] = {
        "gen_ai.operation.name": "invoke_agent",
        "gen_ai.agent.name": shape.agent,
        "gen_ai.conversation.id": session,
    }
    if shape.user:
        root_attrs["user.id"] = shape.user
    yield Span(
        trace_id=trace_id,
        span_id=root_id,
        name=f"invoke_agent {shape.agent}",
        kind=Span.SPAN_KIND_INTERNAL,
        start_time_unix_nano=start,
        end_time_unix_nano=start + step * (shape.children + 1),
        attributes=encode_key_values(root_attrs),
        status=Status(code=Status.STATUS_CODE_OK),
    )
    for index in range(shape.children):
        begin = start + step * index + 1000
        if index % 2 == 0:
            attrs: dict[str, object] = {
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": shape.model,
                "gen_ai.provider.name": shape.provider,
                "gen_ai.agent.name": shape.agent,
                "gen_ai.conversation.id": session,
                "gen_ai.usage.input_tokens": rng.randrange(200, 4000),
                "gen_ai.usage.output_tokens": rng.randrange(20, 800),
                "gen_ai.input.messages": json.dumps(
                    [{"role": "user", "parts": [{"type": "text", "content": _PROMPT}]}]
                ),
            }
            name = f"chat {shape.model}"
        else:
            attrs = {
                "gen_ai.operation.name": "execute_tool",
                "gen_ai.tool.name": "lookup_order",
                "gen_ai.tool.call.arguments": json.dumps({"order_id": rng.randrange(10**6)}),
            }
            name = "execute_tool lookup_order"
        yield Span(
            trace_id=trace_id,
            span_id=rng.randbytes(8),
            parent_span_id=root_id,
            name=name,
            kind=Span.SPAN_KIND_CLIENT,
            start_time_unix_nano=begin,
            end_time_unix_nano=begin + step - 2000,
            attributes=encode_key_values(attrs),
        )
