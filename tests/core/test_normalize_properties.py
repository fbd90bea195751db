"""Random OTLP exports mixing every dialect, normalized in one pass: what must always hold.

The exports mix GenAI attributes and their deprecated spellings, OpenInference (with flattened
message lists), OpenLLMetry, unknown keys, events, error statuses, NUL characters and values of
every OTLP kind, keys given twice included.
"""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from corral.core.normalize import (
    AGENT_ID,
    AGENT_NAME,
    AGENT_VERSION,
    CACHE_READ_TOKENS,
    CACHE_WRITE_TOKENS,
    CANONICAL_TABLE,
    ERROR_TYPE,
    INPUT_TEXT,
    INPUT_TOKENS,
    MODEL,
    OUTPUT_TEXT,
    OUTPUT_TOKENS,
    PROVIDER,
    REASONING_TOKENS,
    SESSION,
    SPAN_TYPES,
    TEXT_LIMIT,
    TOOL_ARGUMENTS,
    TOOL_NAME,
    TOOL_RESULT,
    TYPE_ATTRIBUTE,
    USER,
    NormalizedSpan,
    normalize_spans,
    span_type_of,
)
from corral.core.otlp import attributes_of, encode_key_values

Pairs = list[tuple[str, Any]]

_INDEXED = [
    f"{prefix}{index}{suffix}"
    for index in range(3)
    for prefix, suffix in (
        ("llm.input_messages.", ".message.content"),
        ("llm.input_messages.", ".message.role"),
        ("llm.output_messages.", ".message.content"),
        ("gen_ai.prompt.", ".content"),
        ("gen_ai.prompt.", ".role"),
        ("gen_ai.completion.", ".content"),
    )
]
KEYS = sorted(
    {
        name.split(" ")[0]
        for names in CANONICAL_TABLE.values()
        for name in names
        if not name.endswith(".*")
    }
    | set(ERROR_TYPE)
    | set(_INDEXED)
    | {
        "llm.request.type",
        "traceloop.entity.name",
        "http.method",
        "odd\x00key",
        "odd\ufffdkey",
    }
)
WORDS = [
    "",
    "chat",
    "CHAT",
    "Embeddings",
    "LLM",
    "TOOL",
    "tool",
    "agent",
    "retriever",
    "workflow",
    "execute_tool",
    "invoke_agent",
    "handoff",
    "other",
    "12",
    "-3",
    "gpt-4o",
    "a\x00b",
    "\x00",
    "x" * 300,
    "y" * (TEXT_LIMIT + 5),
]


def mostly(usual: st.SearchStrategy[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """``usual`` three times in four, else ``other``."""
    return st.integers(min_value=0, max_value=3).flatmap(lambda n: other if n == 0 else usual)


texts = st.sampled_from(WORDS) | st.text(max_size=12)
scalars = (
    texts
    | st.integers(min_value=-(2**63), max_value=2**63 - 1)
    | st.sampled_from([0, 1, 250, 2**63 - 1])
    | st.booleans()
    | st.floats()
    | st.binary(max_size=6)
    | st.none()
)
values = (
    scalars
    | st.lists(scalars | st.lists(scalars, max_size=2), max_size=3)
    | st.dictionaries(
        st.sampled_from(["content", "a", "b\x00", "b\ufffd"]),
        scalars | st.lists(scalars, max_size=2),
    )
)
KINDS = ["chat", "execute_tool", "invoke_agent", "embeddings", "handoff", "invoke_workflow"]
KINDS += ["LLM", "TOOL", "AGENT", "CHAIN", "RETRIEVER", "RERANKER", "EMBEDDING", "GUARDRAIL"]
KINDS += ["workflow", "task", "tool", "llm", "agent", "retrieval", "other", "nonsense"]
TYPE_KEYS = (TYPE_ATTRIBUTE, "openinference.span.kind", "gen_ai.operation.name")
TYPE_KEYS += ("traceloop.span.kind",)
COUNT_KEYS = {*INPUT_TOKENS, *OUTPUT_TOKENS, *CACHE_READ_TOKENS, *CACHE_WRITE_TOKENS}
COUNT_KEYS |= set(REASONING_TOKENS)


def value_for(key: str) -> st.SearchStrategy[Any]:
    """Mostly what the key usually holds, so that the dialects are seen at work."""
    if key in TYPE_KEYS:
        return mostly(st.sampled_from(KINDS), values)
    if key in COUNT_KEYS:
        return mostly(st.integers(min_value=0, max_value=10**6), values)
    return mostly(texts, values)


def indexed(prefix: str, suffixes: tuple[str, ...]) -> list[str]:
    return [f"{prefix}{i}{suffix}" for i in range(3) for suffix in suffixes]


# The keys each dialect writes, its kind first; a span takes some of one dialect's, then anything.
DIALECTS = [
    [
        "gen_ai.operation.name",
        *(n for names in (AGENT_ID, AGENT_NAME, MODEL, PROVIDER, INPUT_TOKENS) for n in names[:2]),
        "gen_ai.conversation.id",
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.reasoning.output_tokens",
        "gen_ai.input.messages",
        "gen_ai.output.messages",
        "gen_ai.tool.name",
        "gen_ai.tool.call.arguments",
        "gen_ai.tool.call.result",
        "error.type",
    ],
    [
        "gen_ai.operation.name",
        "gen_ai.system",
        "gen_ai.usage.prompt_tokens",
        "gen_ai.usage.completion_tokens",
        "gen_ai.usage.cache_creation_input_tokens",
        "gen_ai.prompt",
        "gen_ai.completion",
        "gen_ai.user.id",
        *indexed("gen_ai.prompt.", (".content", ".role")),
        *indexed("gen_ai.completion.", (".content",)),
    ],
    [
        "openinference.span.kind",
        "llm.model_name",
        "llm.provider",
        "llm.system",
        "llm.token_count.prompt",
        "llm.token_count.completion",
        "llm.token_count.prompt_details.cache_read",
        "input.value",
        "output.value",
        "tool.name",
        "tool.parameters",
        "tool.result",
        "session.id",
        "user.id",
        "agent.name",
        "exception.type",
        *indexed("llm.input_messages.", (".message.content", ".message.role")),
        *indexed("llm.output_messages.", (".message.content",)),
    ],
    [
        "traceloop.span.kind",
        "traceloop.entity.name",
        "llm.request.type",
        "gen_ai.system",
        "gen_ai.request.model",
        "gen_ai.usage.prompt_tokens",
        "input.value",
        "output.value",
    ],
    [TYPE_ATTRIBUTE, "corral.agent.name", "corral.session.id", "corral.user.id", "enduser.id"],
]


def keyed(keys: list[str]) -> st.SearchStrategy[tuple[str, Any]]:
    return st.sampled_from(keys).flatmap(lambda key: st.tuples(st.just(key), value_for(key)))


def dialect(keys: list[str]) -> st.SearchStrategy[Pairs]:
    """Some of a dialect's keys, mostly with its kind (the first key) among them."""
    kind = keyed(keys[:1]).map(lambda p: [p])
    return st.tuples(mostly(kind, st.just([])), st.lists(keyed(keys), max_size=8)).map(
        lambda parts: parts[0] + parts[1]
    )


pairs = st.tuples(
    st.sampled_from(DIALECTS).flatmap(dialect),
    st.lists(keyed(KEYS) | st.tuples(st.text(max_size=8), values), max_size=3),
).flatmap(lambda parts: st.permutations(parts[0] + parts[1]))


def ids(size: int) -> st.SearchStrategy[bytes]:
    return st.binary(min_size=size, max_size=size).map(lambda b: b"\x01" + b[1:])


# Trace and span ids: mostly valid, sometimes all zero or of the wrong length.
trace_ids = mostly(ids(16), st.sampled_from([b"", bytes(16), b"\x01" * 15]))
span_ids = mostly(ids(8), st.sampled_from([b"", bytes(8), b"\x01" * 9]))
parent_ids = mostly(st.just(b"") | ids(8), st.sampled_from([bytes(8), b"\x02" * 7]))
times = st.integers(min_value=0, max_value=2**64 - 1) | st.sampled_from([0, 1_767_225_600 * 10**9])


@dataclass
class EventSpec:
    name: str
    time: int
    attributes: Pairs


@dataclass
class SpanSpec:
    trace_id: bytes
    span_id: bytes
    parent_id: bytes
    name: str
    kind: int
    start: int
    end: int
    attributes: Pairs
    events: list[EventSpec] = field(default_factory=list)
    status_code: int = 0
    status_message: str = ""

    @property
    def valid(self) -> bool:
        return (
            len(self.trace_id) == 16
            and any(self.trace_id)
            and len(self.span_id) == 8
            and any(self.span_id)
            and len(self.parent_id) in (0, 8)
        )


EVENT_NAMES = ["exception", "gen_ai.user.message", "gen_ai.system.message", "gen_ai.choice"]
EVENT_KEYS = ["exception.message", "content", "gen_ai.event.content", "message"]
events = st.builds(
    EventSpec,
    name=mostly(st.sampled_from(EVENT_NAMES), st.sampled_from(["retry\x00", "gen_ai."]) | texts),
    time=times,
    attributes=st.lists(
        st.tuples(mostly(st.sampled_from(EVENT_KEYS), st.text(max_size=6)), mostly(texts, values)),
        max_size=3,
    ),
)
spans = st.builds(
    SpanSpec,
    trace_id=trace_ids,
    span_id=span_ids,
    parent_id=parent_ids,
    name=st.sampled_from(["chat gpt-4o", "Handoff to writer", "a\x00b", "n" * 600]) | texts,
    kind=st.integers(min_value=0, max_value=5),
    start=times,
    end=times,
    attributes=pairs,
    events=st.lists(events, max_size=3),
    status_code=st.integers(min_value=0, max_value=2),
    status_message=mostly(st.just(""), texts),
)
resources = st.lists(
    st.tuples(st.sampled_from(["service.name", "corral.project", *SESSION, *USER, "host"]), values),
    max_size=5,
)
groups = st.lists(
    st.tuples(resources, st.lists(st.lists(spans, max_size=3), min_size=1, max_size=2)),
    min_size=1,
    max_size=2,
)


def key_values(items: Pairs) -> list[KeyValue]:
    """Pairs as OTLP attributes, in order and keys given twice kept."""
    return [encode_key_values({key: value})[0] for key, value in items]


def export_request(spec: list[tuple[Pairs, list[list[SpanSpec]]]]) -> ExportTraceServiceRequest:
    request = ExportTraceServiceRequest()
    for resource, scopes in spec:
        group = request.resource_spans.add()
        group.resource.attributes.extend(key_values(resource))
        for scope in scopes:
            group.scope_spans.add().spans.extend(
                Span(
                    trace_id=s.trace_id,
                    span_id=s.span_id,
                    parent_span_id=s.parent_id,
                    name=s.name,
                    kind=s.kind,  # type: ignore[arg-type]
                    start_time_unix_nano=s.start,
                    end_time_unix_nano=s.end,
                    attributes=key_values(s.attributes),
                    events=[
                        Span.Event(
                            name=e.name,
                            time_unix_nano=e.time,
                            attributes=key_values(e.attributes),
                        )
                        for e in s.events
                    ],
                    status=Status(code=s.status_code, message=s.status_message),  # type: ignore[arg-type]
                )
                for s in scope
            )
    return request


def normalize_request(request: ExportTraceServiceRequest) -> list[tuple[list[NormalizedSpan], int]]:
    return [
        normalize_spans(group, attributes_of(group.resource.attributes))
        for group in request.resource_spans
    ]


# What the wire should give, computed here without the decoder.


def clean(text: str) -> str:
    return text.replace("\x00", "\ufffd")


def plain(value: Any) -> Any:
    if isinstance(value, str):
        return clean(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {clean(k): plain(v) for k, v in value.items()}
    return value


def as_dict(items: Pairs) -> dict[str, Any]:
    """Attributes as stored: NUL replaced, and a key given twice keeps its last value."""
    result: dict[str, Any] = {}
    for key, value in items:
        result[clean(key)] = plain(value)
    return result


def first(attrs: dict[str, Any], names: tuple[str, ...]) -> Any:
    return next((attrs[n] for n in names if attrs.get(n) is not None and attrs[n] != ""), None)


def same(actual: Any, expected: Any) -> bool:
    """Equal, with NaN equal to itself and types compared too."""
    if isinstance(expected, float) and math.isnan(expected):
        return isinstance(actual, float) and math.isnan(actual)
    if isinstance(expected, dict):
        return (
            isinstance(actual, dict)
            and list(actual) == list(expected)
            and all(same(actual[k], v) for k, v in expected.items())
        )
    if isinstance(expected, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(expected)
            and all(same(a, e) for a, e in zip(actual, expected, strict=True))
        )
    return type(actual) is type(expected) and actual == expected


def holds_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(holds_nul(k) or holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(holds_nul(v) for v in value)
    return False


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def check(spec: SpanSpec, span: NormalizedSpan, resource: dict[str, Any]) -> None:
    attrs = as_dict(spec.attributes)
    # Identity, timing, raw values.
    assert span.trace_id == spec.trace_id.hex()
    assert span.span_id == spec.span_id.hex()
    assert span.parent_span_id == (spec.parent_id.hex() if spec.parent_id else None)
    assert span.name == clean(spec.name)[:512]
    assert span.kind == spec.kind
    assert span.start_time == EPOCH + timedelta(microseconds=spec.start // 1000)
    assert span.end_time == EPOCH + timedelta(microseconds=max(spec.start, spec.end) // 1000)
    assert span.start_time.tzinfo is UTC
    assert span.end_time.tzinfo is UTC
    assert same(span.attributes, attrs)
    expected_events = [
        {"name": clean(e.name), "time_unix_nano": e.time, "attributes": as_dict(e.attributes)}
        for e in spec.events
    ]
    assert same(span.events, expected_events) if spec.events else span.events is None
    assert same(span.resource, resource) if resource else span.resource is None
    assert span.cost_usd is None
    assert span.price_version is None
    assert not any(holds_nul(getattr(span, f.name)) for f in fields(span))

    # Status: the message, else the first exception event's, else the error type.
    if spec.status_code == 2:
        assert span.status == "error"
        thrown = [
            as_dict(e.attributes).get("exception.message")
            for e in spec.events
            if e.name == "exception"
        ]
        message = next((str(m) for m in thrown if m), None)
        if spec.status_message:
            assert span.error_message == clean(spec.status_message)[:TEXT_LIMIT]
        elif message is not None:
            assert span.error_message == (message[:TEXT_LIMIT] or None)
        else:
            error_type = first(attrs, ERROR_TYPE)
            assert span.error_message == (
                None if error_type is None else str(error_type)[:TEXT_LIMIT]
            )
    else:
        assert (span.status, span.error_message) == ("ok", None)

    # The type, and the canonical fields: first match wins.
    assert span.span_type in SPAN_TYPES
    assert span.span_type == span_type_of(clean(spec.name), attrs)
    explicit = attrs.get(TYPE_ATTRIBUTE)
    if isinstance(explicit, str) and explicit.lower() in SPAN_TYPES:
        assert span.span_type == explicit.lower()
    for column, names in (
        ("agent_id", AGENT_ID),
        ("agent_name", AGENT_NAME),
        ("agent_version", AGENT_VERSION),
        ("model", MODEL),
        ("provider", PROVIDER),
    ):
        value = first(attrs, names)
        assert getattr(span, column) == (None if value is None else str(value)[:200]), column
    for column, names in (("session_id", SESSION), ("user_id", USER)):
        value = first(attrs, names) or first(resource, names)
        assert getattr(span, column) == (None if value is None else str(value)[:200]), column
    assert span.service_name == (
        None if resource.get("service.name") is None else str(resource["service.name"])[:200]
    )
    for column, names in (
        ("input_tokens", INPUT_TOKENS),
        ("output_tokens", OUTPUT_TOKENS),
        ("cache_read_tokens", CACHE_READ_TOKENS),
        ("cache_write_tokens", CACHE_WRITE_TOKENS),
        ("reasoning_tokens", REASONING_TOKENS),
    ):
        count, value = getattr(span, column), first(attrs, names)
        assert count is None or (type(count) is int and 0 <= count < 2**63), column
        if type(value) is int:
            assert count == (value if value >= 0 else None), column
        elif value is None or isinstance(value, bool | list | dict):
            assert count is None, column
    tool_name = first(attrs, TOOL_NAME)
    if tool_name is not None:
        assert span.tool_name == str(tool_name)[:200]
    elif span.span_type != "tool":
        assert span.tool_name is None
    for column, names in (
        ("tool_arguments", TOOL_ARGUMENTS),
        ("tool_result", TOOL_RESULT),
        ("input_text", INPUT_TEXT),
        ("output_text", OUTPUT_TEXT),
    ):
        text, value = getattr(span, column), first(attrs, names)
        assert text is None or (isinstance(text, str) and len(text) <= TEXT_LIMIT), column
        if isinstance(value, str):
            assert text == value[:TEXT_LIMIT], column
    value = attrs.get("input.value")
    if span.span_type == "tool" and first(attrs, TOOL_ARGUMENTS) is None and isinstance(value, str):
        assert span.tool_arguments == value[:TEXT_LIMIT]
    # A flattened OpenInference message list, when nothing else names the input.
    prefix = "llm.input_messages."
    if (
        first(attrs, INPUT_TEXT) is None
        and "llm.input_messages.0.message.content" in attrs
        and not any(k.startswith("gen_ai.prompt.") for k in attrs)
    ):
        contents = sorted(
            (
                (int(k[len(prefix) :].split(".")[0]), v)
                for k, v in attrs.items()
                if k.startswith(prefix)
                and k.endswith("content")
                and k[len(prefix) :].split(".")[0].isdigit()
                and isinstance(v, str)
            ),
            key=lambda item: item[0],
        )
        joined = "\n".join(v for _, v in contents)
        if joined:
            assert span.input_text == joined[:TEXT_LIMIT]
    # GenAI message events, when no attribute gives the input.
    if first(attrs, INPUT_TEXT) is None and not any(
        k.startswith(("llm.input_messages.", "gen_ai.prompt.")) for k in attrs
    ):
        said = [
            content
            for e in spec.events
            if clean(e.name) == "gen_ai.user.message"
            and isinstance(content := as_dict(e.attributes).get("content"), str)
            and content
        ]
        if said:
            assert span.input_text is not None
            assert said[0] in span.input_text or len(span.input_text) == TEXT_LIMIT


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(groups)
def test_random_exports_normalize_as_the_table_says(
    spec: list[tuple[Pairs, list[list[SpanSpec]]]],
) -> None:
    results = normalize_request(export_request(spec))
    assert len(results) == len(spec)
    for (resource_pairs, scopes), (normalized, rejected) in zip(spec, results, strict=True):
        sent = [s for scope in scopes for s in scope]
        valid = [s for s in sent if s.valid]
        assert rejected == len(sent) - len(valid)
        assert len(normalized) == len(valid)
        resource = as_dict(resource_pairs)
        for span_spec, span in zip(valid, normalized, strict=True):
            check(span_spec, span, resource)
