"""What differs between the provider APIs the gateway speaks: reading requests and answers,
applying an agent version, and parsing streams. Everything else is shared (core/gateway.py)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from corral.core.gateway import CallIntent, CallOutcome, PreparedCall, ToolCall, ToolResult
from corral.core.pricing import TokenUsage
from corral.errors import MalformedRequest


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, Mapping):
                if isinstance(part.get("text"), str):
                    parts.append(part["text"])
                elif part.get("type") == "tool_result":
                    parts.append(_text(part.get("content")))
                elif part.get("type") == "tool_use":
                    parts.append(json.dumps(part.get("input", {})))
        return "\n".join(parts)
    return "" if content is None else json.dumps(content)


def _require(body: Any, *fields: str) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise MalformedRequest("the request body must be a JSON object.", code="malformed_json")
    missing = [f for f in fields if f not in body]
    if missing:
        raise MalformedRequest(
            f"the request is missing {', '.join(missing)}.", code="invalid_request"
        )
    return body


class StreamParser(Protocol):
    def feed(self, event: bytes) -> None:
        """Read one server-sent event (its raw bytes, blank line included)."""

    @property
    def outcome(self) -> CallOutcome: ...

    def is_usage_only(self, event: bytes) -> bool:
        """An event that only carries usage (which Corral asked for, not the client)."""


@dataclass
class _ToolBuffer:
    id: str = ""
    name: str = ""
    arguments: str = ""


class ProviderApi(Protocol):
    """One provider API: how to read its requests, answers and streams."""

    api: str

    def intent(
        self, body: dict[str, Any], headers: Mapping[str, str], default_max: int
    ) -> CallIntent: ...
    def upstream_body(
        self, body: dict[str, Any], prepared: PreparedCall, default_max: int
    ) -> dict[str, Any]: ...
    def upstream_path(self) -> str: ...
    def upstream_headers(self, key: str | None, headers: Mapping[str, str]) -> dict[str, str]: ...
    def outcome(self, data: dict[str, Any]) -> CallOutcome: ...
    def tool_results(self, body: dict[str, Any]) -> list[ToolResult]: ...
    def input_text(self, body: dict[str, Any]) -> str: ...
    def stream_parser(self) -> StreamParser: ...
    def stream_error(self, code: str, message: str) -> bytes: ...
    def starts_tool_call(self, event: bytes) -> bool: ...
    def ends_message(self, event: bytes) -> bool: ...


def _event_data(event: bytes) -> Any:
    for line in event.split(b"\n"):
        if line.startswith(b"data:"):
            payload = line[5:].strip()
            if payload == b"[DONE]":
                return "[DONE]"
            try:
                return json.loads(payload)
            except ValueError:
                return None
    return None


# --- OpenAI chat completions ----------------------------------------------------------------


class OpenAIChat:
    api = "openai-chat"

    def intent(
        self, body: dict[str, Any], headers: Mapping[str, str], default_max: int
    ) -> CallIntent:
        _require(body, "model", "messages")
        messages = body["messages"]
        if not isinstance(messages, list):
            raise MalformedRequest("'messages' must be a list.", code="invalid_request")
        tools = [
            t.get("function", {}).get("name", "")
            for t in body.get("tools") or []
            if isinstance(t, dict)
        ]
        prompt = "\n".join(_text(m.get("content")) for m in messages if isinstance(m, dict))
        if body.get("tools"):
            prompt += "\n" + json.dumps(body["tools"])
        limit = body.get("max_completion_tokens") or body.get("max_tokens") or default_max
        return CallIntent(
            api=self.api,
            model=str(body["model"]),
            prompt_text=prompt,
            messages=len(messages),
            tool_names=[t for t in tools if t],
            max_output_tokens=int(limit),
            headers=headers,
        )

    def upstream_body(
        self, body: dict[str, Any], prepared: PreparedCall, default_max: int
    ) -> dict[str, Any]:
        out = dict(body)
        out["model"] = prepared.route.model
        version = prepared.version
        if version is not None:
            out.update(
                {
                    k: v
                    for k, v in version.config.parameters.items()
                    if k not in ("model", "messages", "stream", "tools")
                }
            )
            prompt = version.config.system_prompt
            if prompt:
                messages = list(out["messages"])
                first = messages[0] if messages else None
                if not (
                    isinstance(first, dict)
                    and first.get("role") in ("system", "developer")
                    and first.get("content") == prompt
                ):
                    messages.insert(0, {"role": "system", "content": prompt})
                out["messages"] = messages
        if prepared.removed_tools and out.get("tools"):
            removed = set(prepared.removed_tools)
            out["tools"] = [
                t for t in out["tools"] if t.get("function", {}).get("name") not in removed
            ]
            if not out["tools"]:
                out.pop("tools")
                out.pop("tool_choice", None)
        if "max_completion_tokens" not in out and "max_tokens" not in out:
            out["max_completion_tokens"] = default_max
        if out.get("stream"):
            out["stream_options"] = {**(out.get("stream_options") or {}), "include_usage": True}
        return out

    def upstream_path(self) -> str:
        return "/chat/completions"

    def upstream_headers(self, key: str | None, headers: Mapping[str, str]) -> dict[str, str]:
        out = {"content-type": "application/json"}
        if key:
            out["authorization"] = f"Bearer {key}"
        for name in ("openai-organization", "openai-project"):
            if headers.get(name):
                out[name] = headers[name]
        return out

    def outcome(self, data: dict[str, Any]) -> CallOutcome:
        usage = data.get("usage") or {}
        choice = (data.get("choices") or [{}])[0]
        message = choice.get("message") or {}
        calls = [
            ToolCall(
                c.get("id", ""),
                c.get("function", {}).get("name", ""),
                c.get("function", {}).get("arguments", ""),
            )
            for c in message.get("tool_calls") or []
        ]
        return CallOutcome(
            status=200,
            model=data.get("model"),
            usage=_openai_usage(usage),
            output_text=message.get("content") or "",
            tool_calls=calls,
        )

    def tool_results(self, body: dict[str, Any]) -> list[ToolResult]:
        calls: dict[str, tuple[str, str]] = {}
        results = []
        for message in body.get("messages") or []:
            if not isinstance(message, dict):
                continue
            for call in message.get("tool_calls") or []:
                function = call.get("function") or {}
                calls[call.get("id", "")] = (
                    function.get("name", ""),
                    function.get("arguments", ""),
                )
            if message.get("role") == "tool" and message.get("tool_call_id") in calls:
                name, arguments = calls[message["tool_call_id"]]
                results.append(
                    ToolResult(
                        message["tool_call_id"], name, arguments, _text(message.get("content"))
                    )
                )
        return results

    def input_text(self, body: dict[str, Any]) -> str:
        return json.dumps(body.get("messages"), ensure_ascii=False)

    def stream_parser(self) -> StreamParser:
        return OpenAIStream()

    def stream_error(self, code: str, message: str) -> bytes:
        payload = {"error": {"message": message, "type": code, "code": code}}
        return f"data: {json.dumps(payload)}\n\n".encode()

    def starts_tool_call(self, event: bytes) -> bool:
        data = _event_data(event)
        if not isinstance(data, dict):
            return False
        return any((c.get("delta") or {}).get("tool_calls") for c in data.get("choices") or [])

    def ends_message(self, event: bytes) -> bool:
        data = _event_data(event)
        return data == "[DONE]" or (
            isinstance(data, dict)
            and any(c.get("finish_reason") for c in data.get("choices") or [])
        )


def _openai_usage(usage: Mapping[str, Any]) -> TokenUsage | None:
    if not usage:
        return None
    prompt = usage.get("prompt_tokens_details") or {}
    completion = usage.get("completion_tokens_details") or {}
    return TokenUsage(
        input_tokens=int(usage.get("prompt_tokens") or 0),
        output_tokens=int(usage.get("completion_tokens") or 0),
        cache_read_tokens=int(prompt.get("cached_tokens") or 0),
        reasoning_tokens=int(completion.get("reasoning_tokens") or 0),
    )


@dataclass
class OpenAIStream:
    text: list[str] = field(default_factory=list)
    tools: dict[int, _ToolBuffer] = field(default_factory=dict)
    model: str | None = None
    usage: TokenUsage | None = None
    asked_usage: bool = False

    def feed(self, event: bytes) -> None:
        data = _event_data(event)
        if not isinstance(data, dict):
            return
        self.model = data.get("model") or self.model
        if data.get("usage"):
            self.usage = _openai_usage(data["usage"])
        for choice in data.get("choices") or []:
            delta = choice.get("delta") or {}
            if isinstance(delta.get("content"), str):
                self.text.append(delta["content"])
            for call in delta.get("tool_calls") or []:
                buffer = self.tools.setdefault(int(call.get("index", 0)), _ToolBuffer())
                buffer.id = call.get("id") or buffer.id
                function = call.get("function") or {}
                buffer.name = function.get("name") or buffer.name
                buffer.arguments += function.get("arguments") or ""

    @property
    def outcome(self) -> CallOutcome:
        calls = [ToolCall(b.id, b.name, b.arguments) for _, b in sorted(self.tools.items())]
        return CallOutcome(
            status=200,
            model=self.model,
            usage=self.usage,
            output_text="".join(self.text),
            tool_calls=calls,
        )

    def is_usage_only(self, event: bytes) -> bool:
        data = _event_data(event)
        return isinstance(data, dict) and not data.get("choices") and bool(data.get("usage"))


# --- OpenAI embeddings ----------------------------------------------------------------------


class OpenAIEmbeddings(OpenAIChat):
    api = "openai-embeddings"

    def intent(
        self, body: dict[str, Any], headers: Mapping[str, str], default_max: int
    ) -> CallIntent:
        _require(body, "model", "input")
        raw = body["input"]
        items = [raw] if isinstance(raw, str) else list(raw) if isinstance(raw, list) else []
        text = "\n".join(i if isinstance(i, str) else json.dumps(i) for i in items)
        return CallIntent(
            api=self.api,
            model=str(body["model"]),
            prompt_text=text,
            messages=len(items),
            tool_names=[],
            max_output_tokens=0,
            headers=headers,
        )

    def upstream_body(
        self, body: dict[str, Any], prepared: PreparedCall, default_max: int
    ) -> dict[str, Any]:
        return {**body, "model": prepared.route.model}

    def upstream_path(self) -> str:
        return "/embeddings"

    def outcome(self, data: dict[str, Any]) -> CallOutcome:
        usage = data.get("usage") or {}
        tokens = int(usage.get("prompt_tokens") or usage.get("total_tokens") or 0)
        return CallOutcome(
            status=200,
            model=data.get("model"),
            usage=TokenUsage(input_tokens=tokens),
            output_text=f"{len(data.get('data') or [])} embeddings",
        )

    def tool_results(self, body: dict[str, Any]) -> list[ToolResult]:
        return []

    def input_text(self, body: dict[str, Any]) -> str:
        raw = body.get("input")
        return raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)


# --- Anthropic messages ---------------------------------------------------------------------


ANTHROPIC_VERSION = "2023-06-01"


class AnthropicMessages:
    api = "anthropic-messages"

    def intent(
        self, body: dict[str, Any], headers: Mapping[str, str], default_max: int
    ) -> CallIntent:
        _require(body, "model", "messages")
        messages = body["messages"]
        if not isinstance(messages, list):
            raise MalformedRequest("'messages' must be a list.", code="invalid_request")
        tools = [t.get("name", "") for t in body.get("tools") or [] if isinstance(t, dict)]
        prompt = (
            _text(body.get("system"))
            + "\n"
            + "\n".join(_text(m.get("content")) for m in messages if isinstance(m, dict))
        )
        if body.get("tools"):
            prompt += "\n" + json.dumps(body["tools"])
        return CallIntent(
            api=self.api,
            model=str(body["model"]),
            prompt_text=prompt,
            messages=len(messages),
            tool_names=[t for t in tools if t],
            max_output_tokens=int(body.get("max_tokens") or default_max),
            headers=headers,
        )

    def upstream_body(
        self, body: dict[str, Any], prepared: PreparedCall, default_max: int
    ) -> dict[str, Any]:
        out = dict(body)
        out["model"] = prepared.route.model
        version = prepared.version
        if version is not None:
            out.update(
                {
                    k: v
                    for k, v in version.config.parameters.items()
                    if k not in ("model", "messages", "stream", "tools", "system")
                }
            )
            prompt = version.config.system_prompt
            if prompt:
                existing = out.get("system")
                if isinstance(existing, list):
                    out["system"] = [{"type": "text", "text": prompt}, *existing]
                elif existing and existing != prompt:
                    out["system"] = f"{prompt}\n\n{existing}"
                else:
                    out["system"] = prompt
        if prepared.removed_tools and out.get("tools"):
            removed = set(prepared.removed_tools)
            out["tools"] = [t for t in out["tools"] if t.get("name") not in removed]
            choice = out.get("tool_choice")
            if not out["tools"] or (isinstance(choice, dict) and choice.get("name") in removed):
                out.pop("tool_choice", None)
            if not out["tools"]:
                out.pop("tools")
        out.setdefault("max_tokens", default_max)
        return out

    def upstream_path(self) -> str:
        return "/v1/messages"

    def upstream_headers(self, key: str | None, headers: Mapping[str, str]) -> dict[str, str]:
        out = {
            "content-type": "application/json",
            "anthropic-version": headers.get("anthropic-version") or ANTHROPIC_VERSION,
        }
        if key:
            out["x-api-key"] = key
        if headers.get("anthropic-beta"):
            out["anthropic-beta"] = headers["anthropic-beta"]
        return out

    def outcome(self, data: dict[str, Any]) -> CallOutcome:
        text, calls = [], []
        for block in data.get("content") or []:
            if block.get("type") == "text":
                text.append(block.get("text", ""))
            elif block.get("type") == "tool_use":
                calls.append(
                    ToolCall(
                        block.get("id", ""),
                        block.get("name", ""),
                        json.dumps(block.get("input", {})),
                    )
                )
        return CallOutcome(
            status=200,
            model=data.get("model"),
            usage=_anthropic_usage(data.get("usage") or {}),
            output_text="".join(text),
            tool_calls=calls,
        )

    def tool_results(self, body: dict[str, Any]) -> list[ToolResult]:
        calls: dict[str, tuple[str, str]] = {}
        results = []
        for message in body.get("messages") or []:
            content = message.get("content") if isinstance(message, dict) else None
            if not isinstance(content, list):
                continue
            for block in content:
                if not isinstance(block, dict):
                    continue
                if block.get("type") == "tool_use":
                    calls[block.get("id", "")] = (
                        block.get("name", ""),
                        json.dumps(block.get("input", {})),
                    )
                elif block.get("type") == "tool_result" and block.get("tool_use_id") in calls:
                    name, arguments = calls[block["tool_use_id"]]
                    results.append(
                        ToolResult(
                            block["tool_use_id"],
                            name,
                            arguments,
                            _text(block.get("content")),
                            bool(block.get("is_error")),
                        )
                    )
        return results

    def input_text(self, body: dict[str, Any]) -> str:
        return json.dumps(
            {"system": body.get("system"), "messages": body.get("messages")}, ensure_ascii=False
        )

    def stream_parser(self) -> StreamParser:
        return AnthropicStream()

    def stream_error(self, code: str, message: str) -> bytes:
        payload = {
            "type": "error",
            "error": {"type": "permission_error", "message": message, "code": code},
        }
        return f"event: error\ndata: {json.dumps(payload)}\n\n".encode()

    def starts_tool_call(self, event: bytes) -> bool:
        data = _event_data(event)
        return (
            isinstance(data, dict)
            and data.get("type") == "content_block_start"
            and (data.get("content_block") or {}).get("type") == "tool_use"
        )

    def ends_message(self, event: bytes) -> bool:
        data = _event_data(event)
        return isinstance(data, dict) and data.get("type") in ("message_delta", "message_stop")


def _anthropic_usage(usage: Mapping[str, Any]) -> TokenUsage | None:
    if not usage:
        return None
    cache_read = int(usage.get("cache_read_input_tokens") or 0)
    cache_write = int(usage.get("cache_creation_input_tokens") or 0)
    # Anthropic reports input tokens without the cached ones; Corral counts every input token.
    return TokenUsage(
        input_tokens=int(usage.get("input_tokens") or 0) + cache_read + cache_write,
        output_tokens=int(usage.get("output_tokens") or 0),
        cache_read_tokens=cache_read,
        cache_write_tokens=cache_write,
    )


@dataclass
class AnthropicStream:
    text: list[str] = field(default_factory=list)
    tools: dict[int, _ToolBuffer] = field(default_factory=dict)
    model: str | None = None
    start_usage: dict[str, Any] = field(default_factory=dict)
    output_tokens: int = 0

    def feed(self, event: bytes) -> None:
        data = _event_data(event)
        if not isinstance(data, dict):
            return
        kind = data.get("type")
        if kind == "message_start":
            message = data.get("message") or {}
            self.model = message.get("model") or self.model
            self.start_usage = message.get("usage") or {}
        elif kind == "content_block_start":
            block = data.get("content_block") or {}
            if block.get("type") == "tool_use":
                self.tools[int(data.get("index", 0))] = _ToolBuffer(
                    block.get("id", ""), block.get("name", "")
                )
        elif kind == "content_block_delta":
            delta = data.get("delta") or {}
            if delta.get("type") == "text_delta":
                self.text.append(delta.get("text", ""))
            elif delta.get("type") == "input_json_delta":
                buffer = self.tools.get(int(data.get("index", 0)))
                if buffer is not None:
                    buffer.arguments += delta.get("partial_json", "")
        elif kind == "message_delta":
            self.output_tokens = int(
                (data.get("usage") or {}).get("output_tokens") or self.output_tokens
            )

    def is_usage_only(self, event: bytes) -> bool:
        return False

    @property
    def outcome(self) -> CallOutcome:
        usage = _anthropic_usage({**self.start_usage, "output_tokens": self.output_tokens})
        calls = [ToolCall(b.id, b.name, b.arguments or "{}") for _, b in sorted(self.tools.items())]
        return CallOutcome(
            status=200,
            model=self.model,
            usage=usage,
            output_text="".join(self.text),
            tool_calls=calls,
        )
