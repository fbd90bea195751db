"""Normalization: the attribute dialects seen on the wire, mapped onto Corral's canonical columns.

Each canonical field is read from a list of attribute names, first match wins: Corral's own
``corral.*`` attributes, then the OpenTelemetry GenAI semantic conventions (``gen_ai.*``), their
deprecated spellings, OpenInference (``openinference.*``, ``llm.*``), and OpenLLMetry
(``traceloop.*``). A span that matches none of them is still stored, as a generic span of type
``other``, with all of its raw attributes. ``docs/observability.md`` prints this table.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from corral.core.otlp import DecodedSpan
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

# The fields normalize_span reads with "first match wins", in slot order.
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


def _slots_by_name() -> dict[str, tuple[tuple[int, int], ...]]:
    slots: dict[str, list[tuple[int, int]]] = {}
    for slot, names in enumerate(_LOOKED_UP):
        for rank, name in enumerate(names):
            slots.setdefault(name, []).append((slot, rank))
    return {name: tuple(found) for name, found in slots.items()}


_SLOTS: Final = _slots_by_name()
"""Attribute name -> (slot, rank of the name in that slot's list)."""
_NO_MATCH: Final = len(max(_LOOKED_UP, key=len))


@dataclass(slots=True)
class NormalizedSpan:
    """A span in Corral's canonical shape: what the store writes, whoever produced it.

    The OTLP ingest path builds these from decoded spans; the gateway builds them directly for
    the calls it forwards. ``cost_usd`` and ``price_version`` may be left None: the store prices
    LLM spans that carry a model and token counts.
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


def normalize_span(span: DecodedSpan, resource: Mapping[str, Any]) -> NormalizedSpan:
    """Map one decoded span (and its resource) onto the canonical columns."""
    attrs = span.attributes
    found = _first_matches(attrs)
    span_type = _span_type(span.name, attrs, found)
    status, error = _status_of(span, found[_ERROR_TYPE])
    tool_name = found[_TOOL_NAME]
    tool_arguments = _text(found[_TOOL_ARGUMENTS])
    tool_result = _text(found[_TOOL_RESULT])
    if span_type == "tool":
        if tool_arguments is None:
            tool_arguments = _text(attrs.get("input.value"))
        if tool_result is None:
            tool_result = _text(attrs.get("output.value"))
        if tool_name is None and attrs.get("traceloop.entity.name") is not None:
            tool_name = attrs["traceloop.entity.name"]
    input_text = _text(found[_INPUT_TEXT])
    if input_text is None and _has_indexed(attrs, _INPUT_FIRST):
        input_text = _indexed_messages(attrs, ("llm.input_messages.", "gen_ai.prompt."))
    output_text = _text(found[_OUTPUT_TEXT])
    if output_text is None and _has_indexed(attrs, _OUTPUT_FIRST):
        output_text = _indexed_messages(attrs, ("llm.output_messages.", "gen_ai.completion."))
    if (input_text is None or output_text is None) and span.events:
        event_input, event_output = _messages_from_events(span.events)
        input_text = input_text or event_input
        output_text = output_text or event_output
    return NormalizedSpan(
        trace_id=span.trace_id,
        span_id=span.span_id,
        parent_span_id=span.parent_span_id,
        name=span.name[:512],
        kind=span.kind,
        span_type=span_type,
        status=status,
        error_message=error,
        start_time=_time(span.start_ns),
        end_time=_time(max(span.end_ns, span.start_ns)),
        service_name=_str(resource.get("service.name")),
        agent_id=_str(found[_AGENT_ID]),
        agent_name=_str(found[_AGENT_NAME]),
        agent_version=_str(found[_AGENT_VERSION]),
        session_id=_str(found[_SESSION] or _first(resource, SESSION)),
        user_id=_str(found[_USER] or _first(resource, USER)),
        model=_str(found[_MODEL]),
        provider=_str(found[_PROVIDER]),
        input_tokens=_int(found[_INPUT_TOKENS]),
        output_tokens=_int(found[_OUTPUT_TOKENS]),
        cache_read_tokens=_int(found[_CACHE_READ_TOKENS]),
        cache_write_tokens=_int(found[_CACHE_WRITE_TOKENS]),
        reasoning_tokens=_int(found[_REASONING_TOKENS]),
        tool_name=_str(tool_name),
        tool_arguments=tool_arguments,
        tool_result=tool_result,
        input_text=input_text,
        output_text=output_text,
        attributes=attrs,
        events=span.events or None,
        resource=dict(resource) or None,
    )


def span_type_of(name: str, attrs: Mapping[str, Any]) -> str:
    """The span type, from the first dialect that names one."""
    return _span_type(name, attrs, _first_matches(attrs))


def _span_type(name: str, attrs: Mapping[str, Any], found: Sequence[Any]) -> str:
    explicit = attrs.get(TYPE_ATTRIBUTE)
    if isinstance(explicit, str) and explicit.lower() in SPAN_TYPES:
        return explicit.lower()
    for key, table in (
        ("openinference.span.kind", _OPENINFERENCE_KINDS),
        ("gen_ai.operation.name", _GENAI_OPERATIONS),
        ("traceloop.span.kind", _TRACELOOP_KINDS),
    ):
        value = attrs.get(key)
        if isinstance(value, str):
            found_type = table.get(value.lower())
            if found_type is not None:
                return found_type
    if found[_TOOL_NAME] is not None:
        return "tool"
    if name.lower().startswith("handoff"):
        return "handoff"
    if attrs.get("llm.request.type") is not None or found[_INPUT_TOKENS] is not None:
        return "llm"
    return "other"


def _status_of(span: DecodedSpan, error_type: Any) -> tuple[str, str | None]:
    if span.status_code != 2:  # STATUS_CODE_ERROR
        return "ok", None
    message = span.status_message or None
    if message is None:
        for event in span.events:
            if event.get("name") == "exception":
                found = event.get("attributes", {}).get("exception.message")
                if found:
                    message = str(found)
                    break
    if message is None:
        message = str(error_type) if error_type is not None else None
    return "error", message[:TEXT_LIMIT] if message else None


def _first_matches(attrs: Mapping[str, Any]) -> list[Any]:
    """The value of each looked-up field (by slot): that of the first of its names the span
    carries with a value. One pass over the span's attributes instead of a probe per name."""
    found: list[Any] = [None] * len(_LOOKED_UP)
    ranks = [_NO_MATCH] * len(_LOOKED_UP)
    for key, value in attrs.items():
        slots = _SLOTS.get(key)
        if slots is None or value is None or value == "":
            continue
        for slot, rank in slots:
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


def _str(value: Any) -> str | None:
    if value is None:
        return None
    return str(value)[:200]


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


_INPUT_FIRST: Final = (
    "llm.input_messages.0.message.content",
    "llm.input_messages.0.message.role",
    "gen_ai.prompt.0.content",
    "gen_ai.prompt.0.role",
)
_OUTPUT_FIRST: Final = (
    "llm.output_messages.0.message.content",
    "llm.output_messages.0.message.role",
    "gen_ai.completion.0.content",
    "gen_ai.completion.0.role",
)


def _has_indexed(attrs: Mapping[str, Any], first_keys: Sequence[str]) -> bool:
    # A flattened message list always has an element 0; checking for it spares a scan of
    # every attribute on the many spans that carry no messages.
    return not attrs.keys().isdisjoint(first_keys)


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


def _time(unix_nano: int) -> datetime:
    # Microseconds are what both databases keep; integer arithmetic avoids float rounding.
    return _EPOCH + timedelta(microseconds=unix_nano // 1000)
