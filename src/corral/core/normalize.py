"""Normalization: the attribute dialects seen on the wire, mapped onto Corral's canonical columns.

Each canonical field is read from a list of attribute names, first match wins: Corral's own
``corral.*`` attributes, then the OpenTelemetry GenAI semantic conventions (``gen_ai.*``), their
deprecated spellings, OpenInference (``openinference.*``, ``llm.*``), and OpenLLMetry
(``traceloop.*``). A span that matches none of them is still stored, as a generic span of type
``other``, with all of its raw attributes. ``docs/observability.md`` prints this table.

OTLP spans are read from the parsed request and normalized in one pass (:func:`normalize_spans`),
which runs for every span ingested: it is written for speed, and ``bench/decode.py`` measures it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans

from corral.core.otlp import SCALARS, any_value, events_of
from corral.schemas.common import without_nul

SPAN_TYPES: Final = ("llm", "tool", "agent", "handoff", "retrieval", "embedding", "chain", "other")
TEXT_LIMIT: Final = 16_384
"""Canonical text columns keep this many characters; the raw attributes keep everything."""

TYPE_ATTRIBUTE: Final = "corral.span.type"

_OPENINFERENCE_KINDS: Final = {
    "llm": "llm",
    "tool": "tool",
    "agent": "agent",
    "chain": "chain",
    "retriever": "retrieval",
    "embedding": "embedding",
    "reranker": "retrieval",
    "guardrail": "chain",
    "evaluator": "chain",
}
_GENAI_OPERATIONS: Final = {
    "chat": "llm",
    "text_completion": "llm",
    "generate_content": "llm",
    "completion": "llm",
    "embeddings": "embedding",
    "embedding": "embedding",
    "execute_tool": "tool",
    "invoke_agent": "agent",
    "create_agent": "agent",
    "handoff": "handoff",
    "invoke_workflow": "chain",
    "retrieval": "retrieval",
}
_TRACELOOP_KINDS: Final = {
    "workflow": "chain",
    "task": "chain",
    "agent": "agent",
    "tool": "tool",
    "llm": "llm",
}

# The normalization table: canonical field -> attribute names, first match wins.
AGENT_ID: Final = ("corral.agent.id", "gen_ai.agent.id")
AGENT_NAME: Final = ("corral.agent.name", "gen_ai.agent.name", "agent.name")
AGENT_VERSION: Final = ("corral.agent.version", "gen_ai.agent.version", "agent.version")
SESSION: Final = ("corral.session.id", "gen_ai.conversation.id", "session.id")
USER: Final = ("corral.user.id", "user.id", "gen_ai.user.id", "enduser.id")
MODEL: Final = ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name")
PROVIDER: Final = ("gen_ai.provider.name", "gen_ai.system", "llm.provider", "llm.system")
INPUT_TOKENS: Final = (
    "gen_ai.usage.input_tokens",
    "gen_ai.usage.prompt_tokens",
    "llm.token_count.prompt",
)
OUTPUT_TOKENS: Final = (
    "gen_ai.usage.output_tokens",
    "gen_ai.usage.completion_tokens",
    "llm.token_count.completion",
)
CACHE_READ_TOKENS: Final = (
    "gen_ai.usage.cache_read.input_tokens",
    "gen_ai.usage.cache_read_input_tokens",
    "llm.token_count.prompt_details.cache_read",
)
CACHE_WRITE_TOKENS: Final = (
    "gen_ai.usage.cache_creation.input_tokens",
    "gen_ai.usage.cache_creation_input_tokens",
    "llm.token_count.prompt_details.cache_write",
)
REASONING_TOKENS: Final = (
    "gen_ai.usage.reasoning.output_tokens",
    "gen_ai.usage.reasoning_tokens",
    "llm.token_count.completion_details.reasoning",
)
TOOL_NAME: Final = ("gen_ai.tool.name", "tool.name")
TOOL_ARGUMENTS: Final = ("gen_ai.tool.call.arguments", "tool.parameters", "tool.arguments")
TOOL_RESULT: Final = ("gen_ai.tool.call.result", "tool.result")
INPUT_TEXT: Final = ("gen_ai.input.messages", "gen_ai.prompt", "input.value")
OUTPUT_TEXT: Final = ("gen_ai.output.messages", "gen_ai.completion", "output.value")
ERROR_TYPE: Final = ("error.type", "exception.type")

CANONICAL_TABLE: Final[dict[str, Sequence[str]]] = {
    "span_type": (
        TYPE_ATTRIBUTE,
        "openinference.span.kind",
        "gen_ai.operation.name",
        "traceloop.span.kind",
        "tool attributes (gen_ai.tool.name, tool.name)",
    ),
    "agent_id": AGENT_ID,
    "agent_name": AGENT_NAME,
    "agent_version": AGENT_VERSION,
    "session_id": SESSION,
    "user_id": USER,
    "model": MODEL,
    "provider": PROVIDER,
    "input_tokens": INPUT_TOKENS,
    "output_tokens": OUTPUT_TOKENS,
    "cache_read_tokens": CACHE_READ_TOKENS,
    "cache_write_tokens": CACHE_WRITE_TOKENS,
    "reasoning_tokens": REASONING_TOKENS,
    "tool_name": TOOL_NAME,
    "tool_arguments": (*TOOL_ARGUMENTS, "input.value (tool spans)"),
    "tool_result": (*TOOL_RESULT, "output.value (tool spans)"),
    "input_text": (*INPUT_TEXT, "llm.input_messages.*", "gen_ai.prompt.*"),
    "output_text": (*OUTPUT_TEXT, "llm.output_messages.*", "gen_ai.completion.*"),
}
"""What ``docs/observability.md`` documents, in the order each name is tried."""

# The fields normalize_spans reads with "first match wins", in slot order.
_LOOKED_UP: Final = (
    AGENT_ID,
    AGENT_NAME,
    AGENT_VERSION,
    SESSION,
    USER,
    MODEL,
    PROVIDER,
    INPUT_TOKENS,
    OUTPUT_TOKENS,
    CACHE_READ_TOKENS,
    CACHE_WRITE_TOKENS,
    REASONING_TOKENS,
    TOOL_NAME,
    TOOL_ARGUMENTS,
    TOOL_RESULT,
    INPUT_TEXT,
    OUTPUT_TEXT,
    ERROR_TYPE,
)
(
    _AGENT_ID,
    _AGENT_NAME,
    _AGENT_VERSION,
    _SESSION,
    _USER,
    _MODEL,
    _PROVIDER,
    _INPUT_TOKENS,
    _OUTPUT_TOKENS,
    _CACHE_READ_TOKENS,
    _CACHE_WRITE_TOKENS,
    _REASONING_TOKENS,
    _TOOL_NAME,
    _TOOL_ARGUMENTS,
    _TOOL_RESULT,
    _INPUT_TEXT,
    _OUTPUT_TEXT,
    _ERROR_TYPE,
) = range(len(_LOOKED_UP))


def _slots_by_name() -> dict[str, tuple[int, int]]:
    slots: dict[str, tuple[int, int]] = {}
    for slot, names in enumerate(_LOOKED_UP):
        for rank, name in enumerate(names):
            # One field per attribute name keeps the per-attribute lookup a single pair.
            if name in slots:
                raise ValueError(f"{name!r} is read for two canonical fields")
            slots[name] = (slot, rank)
    return slots


_SLOTS: Final = _slots_by_name()
"""Attribute name -> (slot, rank of the name in that slot's list)."""
_NO_MATCH: Final = len(max(_LOOKED_UP, key=len))
_SLOT_COUNT: Final = len(_LOOKED_UP)


@dataclass(slots=True)
class NormalizedSpan:
    """A span in Corral's canonical shape: what the store writes, whoever produced it.

    The OTLP ingest path builds these from the spans of a request; the gateway builds them
    directly for the calls it forwards. ``cost_usd`` and ``price_version`` may be left None: the
    store prices LLM spans that carry a model and token counts. :func:`normalize_spans` passes
    the fields in order, not by name: keep it in step when they change.
    """

    trace_id: str
    span_id: str
    parent_span_id: str | None
    name: str
    start_time: datetime
    end_time: datetime
    span_type: str = "other"
    kind: int = 0
    status: str = "ok"
    error_message: str | None = None
    service_name: str | None = None
    agent_id: str | None = None
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
    tool_result: str | None = None
    input_text: str | None = None
    output_text: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)
    events: list[dict[str, Any]] | None = None
    resource: dict[str, Any] | None = None

    @property
    def duration_ms(self) -> float:
        return (self.end_time - self.start_time).total_seconds() * 1000.0


def without_nul_text(span: NormalizedSpan) -> NormalizedSpan:
    """``span`` with NUL replaced by U+FFFD in all its text: for spans built from request
    bodies (the gateway's); OTLP spans are cleaned as they are decoded."""
    for name in _TEXT_FIELDS:
        value = getattr(span, name)
        if value:
            setattr(span, name, without_nul(value))
    return span


_TEXT_FIELDS = tuple(
    f.name for f in fields(NormalizedSpan) if f.type.startswith(("str", "dict", "list"))
)


def normalize_spans(
    resource_spans: ResourceSpans, resource: Mapping[str, Any]
) -> tuple[list[NormalizedSpan], int]:
    """The spans of one OTLP ``ResourceSpans`` in canonical shape, read in one pass.

    Args:
        resource_spans: The spans of one resource, as parsed by the OTLP classes.
        resource: That resource's attributes, as :func:`~corral.core.otlp.attributes_of` reads
            them.

    Returns:
        The canonical spans, and how many spans were left out for an invalid trace or span id
        (trace ids are 16 bytes and span ids 8, neither all zero; a parent id is 8 bytes).
    """
    # What the resource gives every span is worked out once.
    service_name = _str(resource.get("service.name"))
    resource_session = _first(resource, SESSION)
    resource_user = _first(resource, USER)
    resource_copy = dict(resource) or None
    slot_of = _SLOTS.get
    spans: list[NormalizedSpan] = []
    rejected = 0
    for scope_spans in resource_spans.scope_spans:
        for span in scope_spans.spans:
            trace_id = span.trace_id
            span_id = span.span_id
            parent = span.parent_span_id
            if (
                len(trace_id) != 16
                or trace_id == _NULL_TRACE
                or len(span_id) != 8
                or span_id == _NULL_SPAN
                or (parent and len(parent) != 8)
            ):
                rejected += 1
                continue

            # The attributes, read as attributes_of reads them and matched against the table in
            # the same loop.
            attrs: dict[str, Any] = {}
            found: list[Any] = [None] * _SLOT_COUNT
            ranks = [_NO_MATCH] * _SLOT_COUNT
            pairs = span.attributes
            for pair in pairs:
                value = pair.value
                key = pair.key
                hit = slot_of(key)
                if hit is None and "\x00" in key:  # the table's names hold no NUL
                    key = key.replace("\x00", "\ufffd")
                item: Any = value.string_value
                if item:
                    if "\x00" in item:
                        item = item.replace("\x00", "\ufffd")
                    attrs[key] = item
                else:
                    kind = value.WhichOneof("value")
                    attrs[key] = item = (
                        getattr(value, kind) if kind in SCALARS else any_value(value)
                    )
                    if item is None or item == "":
                        continue
                if hit is not None:
                    slot, rank = hit
                    if rank < ranks[slot]:
                        ranks[slot] = rank
                        found[slot] = item
            if len(attrs) != len(pairs):
                # A key given twice keeps its last value, which the loop may not have matched.
                found = _first_matches(attrs)

            (
                agent_id,
                agent_name,
                agent_version,
                session_id,
                user_id,
                model,
                provider,
                input_tokens,
                output_tokens,
                cache_read_tokens,
                cache_write_tokens,
                reasoning_tokens,
                tool_name,
                tool_arguments,
                tool_result,
                input_text,
                output_text,
                error_type,
            ) = found

            name = span.name
            if "\x00" in name:
                name = name.replace("\x00", "\ufffd")
            wire_events = span.events
            events = events_of(wire_events) if wire_events else None
            span_type = _span_type(name, attrs, tool_name, input_tokens)
            status = span.status
            if status.code == 2:  # STATUS_CODE_ERROR
                outcome = "error"
                error = _error_message(without_nul(status.message), events, error_type)
            else:
                outcome = "ok"
                error = None
            # Values are converted only when present: most are absent on any span.
            if tool_arguments is not None:
                tool_arguments = _text(tool_arguments)
            if tool_result is not None:
                tool_result = _text(tool_result)
            if span_type == "tool":
                if tool_arguments is None:
                    tool_arguments = _text(attrs.get("input.value"))
                if tool_result is None:
                    tool_result = _text(attrs.get("output.value"))
                if tool_name is None and attrs.get("traceloop.entity.name") is not None:
                    tool_name = attrs["traceloop.entity.name"]
            if input_text is not None:
                input_text = _text(input_text)
            if output_text is not None:
                output_text = _text(output_text)
            if (input_text is None or output_text is None) and not _INDEXED_FIRST.isdisjoint(attrs):
                if input_text is None and not _INPUT_FIRST.isdisjoint(attrs):
                    input_text = _indexed_messages(attrs, _INPUT_PREFIXES)
                if output_text is None and not _OUTPUT_FIRST.isdisjoint(attrs):
                    output_text = _indexed_messages(attrs, _OUTPUT_PREFIXES)
            if events and (input_text is None or output_text is None):
                event_input, event_output = _messages_from_events(events)
                input_text = input_text or event_input
                output_text = output_text or event_output
            session_id = session_id or resource_session
            user_id = user_id or resource_user
            start_ns = span.start_time_unix_nano
            end_ns = span.end_time_unix_nano
            start_time = _EPOCH + start_ns // 1000 * _MICROSECOND
            # Positional: a dataclass matches 33 keywords far more slowly than it takes them in
            # order, and this runs once per span.
            spans.append(
                NormalizedSpan(
                    trace_id.hex(),
                    span_id.hex(),
                    parent.hex() if parent else None,
                    name[:512],
                    start_time,
                    _EPOCH + end_ns // 1000 * _MICROSECOND if end_ns > start_ns else start_time,
                    span_type,
                    span.kind,
                    outcome,
                    error,
                    service_name,
                    None if agent_id is None else str(agent_id)[:_STR_LIMIT],
                    None if agent_name is None else str(agent_name)[:_STR_LIMIT],
                    None if agent_version is None else str(agent_version)[:_STR_LIMIT],
                    None if session_id is None else str(session_id)[:_STR_LIMIT],
                    None if user_id is None else str(user_id)[:_STR_LIMIT],
                    None if model is None else str(model)[:_STR_LIMIT],
                    None if provider is None else str(provider)[:_STR_LIMIT],
                    None if input_tokens is None else _int(input_tokens),
                    None if output_tokens is None else _int(output_tokens),
                    None if cache_read_tokens is None else _int(cache_read_tokens),
                    None if cache_write_tokens is None else _int(cache_write_tokens),
                    None if reasoning_tokens is None else _int(reasoning_tokens),
                    None,  # cost_usd and price_version: the store prices the span
                    None,
                    None if tool_name is None else str(tool_name)[:_STR_LIMIT],
                    tool_arguments,
                    tool_result,
                    input_text,
                    output_text,
                    attrs,
                    events,
                    resource_copy,
                )
            )
    return spans, rejected


def span_type_of(name: str, attrs: Mapping[str, Any]) -> str:
    """The span type, from the first dialect that names one."""
    found = _first_matches(attrs)
    return _span_type(name, attrs, found[_TOOL_NAME], found[_INPUT_TOKENS])


def _span_type(name: str, attrs: Mapping[str, Any], tool_name: Any, input_tokens: Any) -> str:
    explicit = attrs.get(TYPE_ATTRIBUTE)
    if isinstance(explicit, str) and explicit.lower() in SPAN_TYPES:
        return explicit.lower()
    # The dialects' kinds in order, unrolled: this runs for every span.
    value = attrs.get("openinference.span.kind")
    if isinstance(value, str) and (kind := _OPENINFERENCE_KINDS.get(value.lower())):
        return kind
    value = attrs.get("gen_ai.operation.name")
    if isinstance(value, str) and (kind := _GENAI_OPERATIONS.get(value.lower())):
        return kind
    value = attrs.get("traceloop.span.kind")
    if isinstance(value, str) and (kind := _TRACELOOP_KINDS.get(value.lower())):
        return kind
    if tool_name is not None:
        return "tool"
    if name.lower().startswith("handoff"):
        return "handoff"
    if input_tokens is not None or attrs.get("llm.request.type") is not None:
        return "llm"
    return "other"


def _error_message(
    message: str, events: Sequence[Mapping[str, Any]] | None, error_type: Any
) -> str | None:
    """An error span's message: the status message, else the ``exception`` event's, else the
    error type."""
    found_message = message or None
    if found_message is None and events:
        for event in events:
            if event.get("name") == "exception":
                found = event.get("attributes", {}).get("exception.message")
                if found:
                    found_message = str(found)
                    break
    if found_message is None:
        found_message = str(error_type) if error_type is not None else None
    return found_message[:TEXT_LIMIT] if found_message else None


def _first_matches(attrs: Mapping[str, Any]) -> list[Any]:
    """The value of each looked-up field (by slot): that of the first of its names the span
    carries with a value. One pass over the span's attributes instead of a probe per name."""
    found: list[Any] = [None] * _SLOT_COUNT
    ranks = [_NO_MATCH] * _SLOT_COUNT
    for key, value in attrs.items():
        hit = _SLOTS.get(key)
        if hit is None or value is None or value == "":
            continue
        slot, rank = hit
        if rank < ranks[slot]:
            ranks[slot] = rank
            found[slot] = value
    return found


def _first(attrs: Mapping[str, Any], names: Sequence[str]) -> Any:
    for name in names:
        value = attrs.get(name)
        if value is not None and value != "":
            return value
    return None


_STR_LIMIT: Final = 200
"""Canonical name and id columns keep this many characters."""


def _str(value: Any) -> str | None:
    if value is None:
        return None
    return str(value)[:_STR_LIMIT]


_INT64_MAX: Final = 2**63 - 1


def _int(value: Any) -> int | None:
    # Counts must fit the databases' 64-bit integers: a double such as 1e300 or infinity, or
    # text of many digits, is no count.
    if value is None or isinstance(value, bool):
        return None
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):
        return None
    return number if 0 <= number <= _INT64_MAX else None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value if isinstance(value, str) else json.dumps(value, default=str, ensure_ascii=False)
    return text[:TEXT_LIMIT]


_INPUT_FIRST: Final = frozenset(
    {
        "llm.input_messages.0.message.content",
        "llm.input_messages.0.message.role",
        "gen_ai.prompt.0.content",
        "gen_ai.prompt.0.role",
    }
)
_OUTPUT_FIRST: Final = frozenset(
    {
        "llm.output_messages.0.message.content",
        "llm.output_messages.0.message.role",
        "gen_ai.completion.0.content",
        "gen_ai.completion.0.role",
    }
)
_INDEXED_FIRST: Final = _INPUT_FIRST | _OUTPUT_FIRST
"""A flattened message list always has an element 0: checking for it spares a scan of every
attribute on the many spans that carry no messages."""
_INPUT_PREFIXES: Final = ("llm.input_messages.", "gen_ai.prompt.")
_OUTPUT_PREFIXES: Final = ("llm.output_messages.", "gen_ai.completion.")


def _indexed_messages(attrs: Mapping[str, Any], prefixes: tuple[str, ...]) -> str | None:
    """Flattened message lists (``llm.input_messages.0.message.content``,
    ``gen_ai.prompt.0.content``) joined in index order."""
    parts: list[tuple[int, str]] = []
    for key, value in attrs.items():
        if not key.startswith(prefixes) or not key.endswith("content"):
            continue
        for prefix in prefixes:
            if key.startswith(prefix):
                index = key[len(prefix) :].split(".", 1)[0]
                if index.isdigit() and isinstance(value, str):
                    parts.append((int(index), value))
                break
    if not parts:
        return None
    parts.sort(key=lambda item: item[0])
    return "\n".join(text for _, text in parts)[:TEXT_LIMIT]


def _messages_from_events(events: Sequence[Mapping[str, Any]]) -> tuple[str | None, str | None]:
    """Message content carried as GenAI events (``gen_ai.user.message``, ``gen_ai.choice`` …)."""
    inputs: list[str] = []
    outputs: list[str] = []
    for event in events:
        name = str(event.get("name", ""))
        if not name.startswith("gen_ai."):
            continue
        attributes = event.get("attributes") or {}
        content = attributes.get("content") or attributes.get("gen_ai.event.content")
        if content is None:
            message = attributes.get("message")
            content = message if message is not None else None
        if content is None:
            continue
        text = content if isinstance(content, str) else json.dumps(content, default=str)
        (outputs if name == "gen_ai.choice" else inputs).append(text)
    return (
        "\n".join(inputs)[:TEXT_LIMIT] if inputs else None,
        "\n".join(outputs)[:TEXT_LIMIT] if outputs else None,
    )


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
# Times are kept to the microsecond, as both databases keep them, with integer arithmetic (a
# float of nanoseconds since 1970 rounds). A multiple of one microsecond is built faster than
# a timedelta of microseconds.
_MICROSECOND: Final = timedelta(microseconds=1)
_NULL_TRACE: Final = bytes(16)
_NULL_SPAN: Final = bytes(8)
