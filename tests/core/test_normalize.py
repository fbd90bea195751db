"""The dialect table: first match wins, unknown dialects land as generic spans."""

from __future__ import annotations

from typing import Any

import pytest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, Span, Status

from corral.core.normalize import NormalizedSpan, normalize_spans, span_type_of
from corral.core.otlp import attributes_of, encode_key_values


def normalized(
    attributes: dict[str, Any],
    *,
    name: str = "op",
    events: list[dict[str, Any]] | None = None,
    status: int = 0,
    message: str = "",
    resource: dict[str, Any] | None = None,
) -> NormalizedSpan:
    """One span with these attributes, sent as OTLP and normalized."""
    group = ResourceSpans()
    group.resource.attributes.extend(encode_key_values(resource or {}))
    group.scope_spans.add().spans.append(
        Span(
            trace_id=bytes.fromhex("a" * 32),
            span_id=bytes.fromhex("b" * 16),
            name=name,
            start_time_unix_nano=1_767_225_600_000_000_000,
            end_time_unix_nano=1_767_225_600_250_000_000,
            attributes=encode_key_values(attributes),
            events=[
                Span.Event(name=e["name"], attributes=encode_key_values(e.get("attributes", {})))
                for e in events or []
            ],
            status=Status(code=status, message=message),  # type: ignore[arg-type]
        )
    )
    spans, rejected = normalize_spans(group, attributes_of(group.resource.attributes))
    assert rejected == 0
    (span,) = spans
    return span


@pytest.mark.parametrize(
    ("attributes", "name", "expected"),
    [
        ({"corral.span.type": "handoff", "openinference.span.kind": "LLM"}, "x", "handoff"),
        (
            {"openinference.span.kind": "RETRIEVER", "gen_ai.operation.name": "chat"},
            "x",
            "retrieval",
        ),
        ({"openinference.span.kind": "AGENT"}, "x", "agent"),
        ({"gen_ai.operation.name": "chat", "traceloop.span.kind": "tool"}, "x", "llm"),
        ({"gen_ai.operation.name": "embeddings"}, "x", "embedding"),
        ({"gen_ai.operation.name": "execute_tool"}, "x", "tool"),
        ({"gen_ai.operation.name": "invoke_agent"}, "x", "agent"),
        ({"traceloop.span.kind": "workflow"}, "x", "chain"),
        ({"tool.name": "search"}, "x", "tool"),
        ({}, "handoff to writer", "handoff"),
        ({"llm.token_count.prompt": 3}, "x", "llm"),
        ({"http.method": "GET"}, "GET /", "other"),
        ({"openinference.span.kind": "UNKNOWN-KIND"}, "x", "other"),
    ],
)
def test_span_type_first_match_wins(attributes: dict[str, Any], name: str, expected: str) -> None:
    assert span_type_of(name, attributes) == expected


def test_genai_attributes_win_over_deprecated_and_openinference() -> None:
    span = normalized(
        {
            "gen_ai.operation.name": "chat",
            "gen_ai.response.model": "gpt-4o-2024-08-06",
            "gen_ai.request.model": "gpt-4o",
            "llm.model_name": "other",
            "gen_ai.usage.input_tokens": 100,
            "gen_ai.usage.prompt_tokens": 7,
            "llm.token_count.prompt": 9,
            "gen_ai.usage.completion_tokens": 20,
            "gen_ai.usage.cache_read.input_tokens": 40,
            "gen_ai.usage.cache_creation_input_tokens": 5,
            "gen_ai.usage.reasoning_tokens": 3,
            "gen_ai.system": "openai",
            "gen_ai.agent.id": "agt-1",
            "gen_ai.agent.name": "planner",
            "agent.name": "ignored",
            "gen_ai.conversation.id": "c-1",
            "session.id": "ignored",
            "user.id": "u-1",
        },
        resource={"service.name": "svc"},
    )
    assert span.span_type == "llm"
    assert span.model == "gpt-4o-2024-08-06"
    assert (span.input_tokens, span.output_tokens) == (100, 20)
    assert (span.cache_read_tokens, span.cache_write_tokens, span.reasoning_tokens) == (40, 5, 3)
    assert (span.provider, span.agent_id, span.agent_name) == ("openai", "agt-1", "planner")
    assert (span.session_id, span.user_id, span.service_name) == ("c-1", "u-1", "svc")
    assert span.duration_ms == pytest.approx(250)


def test_openinference_dialect() -> None:
    span = normalized(
        {
            "openinference.span.kind": "LLM",
            "llm.model_name": "claude-sonnet-4-5",
            "llm.provider": "anthropic",
            "llm.token_count.prompt": 50,
            "llm.token_count.completion": 10,
            "llm.token_count.prompt_details.cache_write": 30,
            "llm.input_messages.1.message.content": "second",
            "llm.input_messages.0.message.content": "first",
            "llm.output_messages.0.message.content": "answer",
            "session.id": "s-9",
            "agent.name": "writer",
        }
    )
    assert (span.span_type, span.model, span.provider) == ("llm", "claude-sonnet-4-5", "anthropic")
    assert (span.input_tokens, span.output_tokens, span.cache_write_tokens) == (50, 10, 30)
    assert span.input_text == "first\nsecond"
    assert span.output_text == "answer"
    assert (span.session_id, span.agent_name) == ("s-9", "writer")


def test_tool_spans_take_payloads_from_input_and_output_values() -> None:
    span = normalized(
        {
            "openinference.span.kind": "TOOL",
            "tool.name": "search",
            "input.value": '{"q": 1}',
            "output.value": "3 results",
        }
    )
    assert (span.tool_name, span.tool_arguments, span.tool_result) == (
        "search",
        '{"q": 1}',
        "3 results",
    )
    traceloop = normalized({"traceloop.span.kind": "tool", "traceloop.entity.name": "fetch"})
    assert (traceloop.span_type, traceloop.tool_name) == ("tool", "fetch")


def test_errors_and_event_messages() -> None:
    span = normalized(
        {"gen_ai.operation.name": "chat"},
        status=2,
        events=[
            {"name": "gen_ai.user.message", "attributes": {"content": "hello"}},
            {"name": "gen_ai.choice", "attributes": {"message": {"content": "hi!"}}},
            {"name": "exception", "attributes": {"exception.message": "rate limited"}},
        ],
    )
    assert (span.status, span.error_message) == ("error", "rate limited")
    assert span.input_text == "hello"
    assert span.output_text == '{"content": "hi!"}'
    typed = normalized({"error.type": "TimeoutError"}, status=2)
    assert typed.error_message == "TimeoutError"
    ok = normalized({}, status=1, message="fine")
    assert (ok.status, ok.error_message) == ("ok", None)


def test_unknown_dialect_lands_as_a_generic_span_with_raw_attributes() -> None:
    raw = {"http.method": "GET", "weird.count": -3, "nested": {"a": [1, 2]}}
    span = normalized(raw, name="GET /health", resource={"corral.project": "p"})
    assert (span.span_type, span.model, span.input_tokens, span.agent_name) == (
        "other",
        None,
        None,
        None,
    )
    assert span.attributes == raw
    assert span.resource == {"corral.project": "p"}


def test_bad_values_do_not_break_normalization() -> None:
    span = normalized(
        {
            "gen_ai.usage.input_tokens": "many",
            "gen_ai.usage.output_tokens": True,
            "gen_ai.usage.cache_read.input_tokens": float("inf"),
            "gen_ai.usage.cache_creation.input_tokens": 1e300,
            "gen_ai.usage.reasoning.output_tokens": float("nan"),
            "gen_ai.input.messages": [{"role": "user"}],
            "gen_ai.agent.name": "x" * 500,
        }
    )
    assert (span.input_tokens, span.output_tokens) == (None, None)
    assert (span.cache_read_tokens, span.cache_write_tokens, span.reasoning_tokens) == (None,) * 3
    assert span.input_text == '[{"role": "user"}]'
    assert span.agent_name == "x" * 200
