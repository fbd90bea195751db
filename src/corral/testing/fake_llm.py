"""A local OpenAI- and Anthropic-compatible LLM server with scripted answers.

It stands in for the providers we cannot reach in tests, benchmarks and demos: chat completions
(streaming or not, with tool calls and usage figures), embeddings, and Anthropic messages
(streaming or not, with tool use). What it answers is decided, in order, by

1. responses queued with ``POST /_fake/responses`` (consumed first in, first out),
2. the first rule of the script whose ``match`` (a regular expression) finds the text of the last
   message, whose ``context`` (a regular expression) finds the whole conversation (system prompt
   and every message), and whose ``model`` (a glob) fits,
3. an echo of the last message.

``context`` lets a script key behaviours to a marker anywhere in the conversation (say
``[demo:loop]`` in the task), and ``{turn}`` in an answer's content or tool-call arguments is
replaced by the assistant turn being answered (1 for the first), so a scripted agent can make
progress — or loop — over several calls.

Every request is recorded (``GET /_fake/requests``), so a test can see exactly what reached the
"provider". Run it with ``corral fake-llm`` or build the app with :func:`create_fake_llm`.
"""

from __future__ import annotations

import asyncio
import fnmatch
import hashlib
import json
import math
import re
import secrets
import time
from collections import deque
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from corral.core.tokens import count_tokens


@dataclass
class FakeResponse:
    """What the fake model answers. Unset usage is computed by counting tokens."""

    content: str | None = None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    finish_reason: str | None = None
    usage: dict[str, int] | None = None
    latency_ms: float | None = None
    error: dict[str, Any] | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FakeResponse:
        known = {k: data[k] for k in cls.__dataclass_fields__ if k in data}
        unknown = set(data) - set(known)
        if unknown:
            raise ValueError(f"unknown fake response fields: {sorted(unknown)}")
        return cls(**known)

    def for_turn(self, turn: int) -> FakeResponse:
        """This answer with ``{turn}`` replaced by ``turn`` in its content and tool arguments."""
        mark = "{turn}"
        if mark not in (self.content or "") and mark not in json.dumps(self.tool_calls):
            return self
        calls = json.loads(json.dumps(self.tool_calls).replace(mark, str(turn)))
        content = None if self.content is None else self.content.replace(mark, str(turn))
        return replace(self, content=content, tool_calls=calls)


@dataclass
class FakeRule:
    respond: FakeResponse
    match: str | None = None
    model: str | None = None
    context: str | None = None

    def applies(self, text: str, model: str, conversation: str = "") -> bool:
        if self.model and not fnmatch.fnmatch(model, self.model):
            return False
        if self.context is not None and re.search(self.context, conversation) is None:
            return False
        return self.match is None or re.search(self.match, text) is not None


@dataclass
class FakeScript:
    rules: list[FakeRule] = field(default_factory=list)
    latency_ms: float = 0.0
    stream_chunk_delay_ms: float = 0.0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FakeScript:
        rules = [
            FakeRule(
                respond=FakeResponse.from_dict(rule["respond"]),
                match=rule.get("match"),
                model=rule.get("model"),
                context=rule.get("context"),
            )
            for rule in data.get("rules", [])
        ]
        return cls(
            rules=rules,
            latency_ms=float(data.get("latency_ms", 0)),
            stream_chunk_delay_ms=float(data.get("stream_chunk_delay_ms", 0)),
        )


class FakeLLM:
    """The state of one fake provider: its script, its queue and what it has received."""

    def __init__(self, script: FakeScript | None = None, *, record_limit: int = 1000) -> None:
        self.script = script or FakeScript()
        self.queue: deque[FakeResponse] = deque()
        self.requests: deque[dict[str, Any]] = deque(maxlen=record_limit)

    def choose(
        self, text: str, model: str, *, conversation: str = "", turn: int = 1
    ) -> FakeResponse:
        """The answer to a request whose last message is ``text``.

        Args:
            text: The last message's text.
            model: The model asked for.
            conversation: The whole conversation's text, for the rules' ``context``.
            turn: The assistant turn being answered (1 + assistant messages so far).
        """
        if self.queue:
            return self.queue.popleft().for_turn(turn)
        for rule in self.script.rules:
            if rule.applies(text, model, conversation):
                return rule.respond.for_turn(turn)
        return FakeResponse(content=f"Echo: {text[:500]}" if text else "Hello from the fake model.")

    def record(self, request: Request, body: Any) -> None:
        self.requests.append(
            {
                "path": request.url.path,
                "headers": {k: v for k, v in request.headers.items() if k != "content-length"},
                "body": body,
            }
        )


def _text_of(content: Any) -> str:
    """Plain text of an OpenAI or Anthropic message content (string or list of parts)."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict):
                if "text" in part:
                    parts.append(str(part["text"]))
                elif part.get("type") == "tool_result":
                    parts.append(_text_of(part.get("content")))
        return "\n".join(parts)
    return "" if content is None else str(content)


def _turn(messages: list[Any]) -> int:
    """The assistant turn a request asks for: one more than the assistant messages in it."""
    return 1 + sum(1 for m in messages if isinstance(m, dict) and m.get("role") == "assistant")


def _usage(response: FakeResponse, prompt_text: str) -> dict[str, int]:
    completion = (response.content or "") + "".join(
        json.dumps(call.get("arguments", {})) for call in response.tool_calls
    )
    usage = {
        "input_tokens": count_tokens(prompt_text) + 4,
        "output_tokens": max(1, count_tokens(completion)),
        "cached_tokens": 0,
        "cache_write_tokens": 0,
        "reasoning_tokens": 0,
    }
    usage.update(response.usage or {})
    return usage


def _chunks(text: str, size: int = 12) -> list[str]:
    return [text[i : i + size] for i in range(0, len(text), size)] or [""]


async def _pause(milliseconds: float) -> None:
    if milliseconds > 0:
        await asyncio.sleep(milliseconds / 1000)


def _sse(data: Any, event: str | None = None) -> bytes:
    prefix = f"event: {event}\n" if event else ""
    payload = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    return f"{prefix}data: {payload}\n\n".encode()


def create_fake_llm(fake: FakeLLM | None = None) -> Starlette:
    """The ASGI app of a fake provider (``app.state.fake`` holds its :class:`FakeLLM`)."""
    fake = fake or FakeLLM()

    async def read_json(request: Request) -> dict[str, Any]:
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        fake.record(request, body)
        return body

    def openai_error(status: int, message: str, kind: str = "invalid_request_error") -> Response:
        return JSONResponse({"error": {"message": message, "type": kind, "code": None}}, status)

    def anthropic_error(status: int, message: str, kind: str = "invalid_request_error") -> Response:
        return JSONResponse({"type": "error", "error": {"type": kind, "message": message}}, status)

    async def chat_completions(request: Request) -> Response:
        try:
            body = await read_json(request)
            messages = body["messages"]
            model = str(body["model"])
        except (ValueError, KeyError, TypeError) as exc:
            return openai_error(400, f"bad request: {exc}")
        last = _text_of(messages[-1].get("content")) if messages else ""
        prompt = "\n".join(_text_of(m.get("content")) for m in messages)
        response = fake.choose(last, model, conversation=prompt, turn=_turn(messages))
        await _pause(
            response.latency_ms if response.latency_ms is not None else fake.script.latency_ms
        )
        if response.error:
            return openai_error(
                int(response.error.get("status", 500)),
                str(response.error.get("message", "fake upstream error")),
                str(response.error.get("type", "server_error")),
            )
        usage = _usage(response, prompt)
        created, completion_id = int(time.time()), f"chatcmpl-{secrets.token_hex(8)}"
        calls: list[dict[str, Any]] = [
            {
                "id": f"call_{secrets.token_hex(6)}",
                "type": "function",
                "function": {"name": c["name"], "arguments": json.dumps(c.get("arguments", {}))},
            }
            for c in response.tool_calls
        ]
        finish = response.finish_reason or ("tool_calls" if calls else "stop")
        usage_body = {
            "prompt_tokens": usage["input_tokens"],
            "completion_tokens": usage["output_tokens"],
            "total_tokens": usage["input_tokens"] + usage["output_tokens"],
            "prompt_tokens_details": {"cached_tokens": usage["cached_tokens"]},
            "completion_tokens_details": {"reasoning_tokens": usage["reasoning_tokens"]},
        }
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": response.content}
            if calls:
                message["tool_calls"] = calls
            return JSONResponse(
                {
                    "id": completion_id,
                    "object": "chat.completion",
                    "created": created,
                    "model": model,
                    "choices": [{"index": 0, "message": message, "finish_reason": finish}],
                    "usage": usage_body,
                }
            )
        include_usage = bool((body.get("stream_options") or {}).get("include_usage"))

        async def events() -> AsyncIterator[bytes]:
            def chunk(delta: dict[str, Any], finish_reason: str | None = None) -> bytes:
                return _sse(
                    {
                        "id": completion_id,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
                    }
                )

            yield chunk({"role": "assistant", "content": ""})
            for piece in _chunks(response.content or "") if response.content else []:
                await _pause(fake.script.stream_chunk_delay_ms)
                yield chunk({"content": piece})
            for index, call in enumerate(calls):
                head = {
                    "index": index,
                    "id": call["id"],
                    "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": ""},
                }
                yield chunk({"tool_calls": [head]})
                for piece in _chunks(call["function"]["arguments"]):
                    yield chunk(
                        {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
                    )
            yield chunk({}, finish)
            if include_usage:
                yield _sse(
                    {
                        "id": completion_id,
                        "object": "chat.completion.chunk",
                        "created": created,
                        "model": model,
                        "choices": [],
                        "usage": usage_body,
                    }
                )
            yield _sse("[DONE]")

        return StreamingResponse(events(), media_type="text/event-stream")

    async def embeddings(request: Request) -> Response:
        try:
            body = await read_json(request)
            raw = body["input"]
            model = str(body["model"])
        except (ValueError, KeyError, TypeError) as exc:
            return openai_error(400, f"bad request: {exc}")
        inputs = [raw] if isinstance(raw, str) else list(raw)
        dimensions = int(body.get("dimensions") or 256)
        await _pause(fake.script.latency_ms)
        data = []
        tokens = 0
        for index, item in enumerate(inputs):
            text = item if isinstance(item, str) else json.dumps(item)
            tokens += count_tokens(text)
            data.append(
                {"object": "embedding", "index": index, "embedding": _vector(text, dimensions)}
            )
        return JSONResponse(
            {
                "object": "list",
                "data": data,
                "model": model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            }
        )

    async def messages(request: Request) -> Response:
        try:
            body = await read_json(request)
            conversation = body["messages"]
            model = str(body["model"])
        except (ValueError, KeyError, TypeError) as exc:
            return anthropic_error(400, f"bad request: {exc}")
        last = _text_of(conversation[-1].get("content")) if conversation else ""
        prompt = (
            _text_of(body.get("system"))
            + "\n"
            + "\n".join(_text_of(m.get("content")) for m in conversation)
        )
        response = fake.choose(last, model, conversation=prompt, turn=_turn(conversation))
        await _pause(
            response.latency_ms if response.latency_ms is not None else fake.script.latency_ms
        )
        if response.error:
            return anthropic_error(
                int(response.error.get("status", 500)),
                str(response.error.get("message", "fake upstream error")),
                str(response.error.get("type", "api_error")),
            )
        usage = _usage(response, prompt)
        message_id = f"msg_{secrets.token_hex(8)}"
        blocks: list[dict[str, Any]] = []
        if response.content:
            blocks.append({"type": "text", "text": response.content})
        for call in response.tool_calls:
            blocks.append(
                {
                    "type": "tool_use",
                    "id": f"toolu_{secrets.token_hex(6)}",
                    "name": call["name"],
                    "input": call.get("arguments", {}),
                }
            )
        stop = response.finish_reason or ("tool_use" if response.tool_calls else "end_turn")
        usage_body = {
            "input_tokens": usage["input_tokens"],
            "output_tokens": usage["output_tokens"],
            "cache_read_input_tokens": usage["cached_tokens"],
            "cache_creation_input_tokens": usage["cache_write_tokens"],
        }
        if not body.get("stream"):
            return JSONResponse(
                {
                    "id": message_id,
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": blocks,
                    "stop_reason": stop,
                    "stop_sequence": None,
                    "usage": usage_body,
                }
            )

        async def events() -> AsyncIterator[bytes]:
            start: dict[str, Any] = {
                "id": message_id,
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {**usage_body, "output_tokens": 1},
            }
            yield _sse({"type": "message_start", "message": start}, "message_start")
            for index, block in enumerate(blocks):
                empty = (
                    {"type": "text", "text": ""}
                    if block["type"] == "text"
                    else {**block, "input": {}}
                )
                yield _sse(
                    {"type": "content_block_start", "index": index, "content_block": empty},
                    "content_block_start",
                )
                if block["type"] == "text":
                    for piece in _chunks(block["text"]):
                        await _pause(fake.script.stream_chunk_delay_ms)
                        delta = {"type": "text_delta", "text": piece}
                        yield _sse(
                            {"type": "content_block_delta", "index": index, "delta": delta},
                            "content_block_delta",
                        )
                else:
                    for piece in _chunks(json.dumps(block["input"])):
                        delta = {"type": "input_json_delta", "partial_json": piece}
                        yield _sse(
                            {"type": "content_block_delta", "index": index, "delta": delta},
                            "content_block_delta",
                        )
                yield _sse({"type": "content_block_stop", "index": index}, "content_block_stop")
            yield _sse(
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": stop, "stop_sequence": None},
                    "usage": {"output_tokens": usage["output_tokens"]},
                },
                "message_delta",
            )
            yield _sse({"type": "message_stop"}, "message_stop")

        return StreamingResponse(events(), media_type="text/event-stream")

    async def enqueue(request: Request) -> Response:
        body = await request.json()
        items = body if isinstance(body, list) else [body]
        try:
            fake.queue.extend(FakeResponse.from_dict(item) for item in items)
        except (TypeError, ValueError) as exc:
            return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse({"queued": len(fake.queue)})

    async def set_script(request: Request) -> Response:
        try:
            fake.script = FakeScript.from_dict(await request.json())
        except (TypeError, ValueError, KeyError) as exc:
            return JSONResponse({"error": str(exc)}, 400)
        return JSONResponse({"rules": len(fake.script.rules)})

    async def recorded(request: Request) -> Response:
        if request.method == "DELETE":
            fake.requests.clear()
            fake.queue.clear()
            return JSONResponse({"cleared": True})
        return JSONResponse(list(fake.requests))

    async def health(_request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    app = Starlette(
        routes=[
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/embeddings", embeddings, methods=["POST"]),
            Route("/v1/messages", messages, methods=["POST"]),
            Route("/_fake/responses", enqueue, methods=["POST"]),
            Route("/_fake/script", set_script, methods=["PUT"]),
            Route("/_fake/requests", recorded, methods=["GET", "DELETE"]),
            Route("/healthz", health, methods=["GET"]),
        ]
    )
    app.state.fake = fake
    return app


def _vector(text: str, dimensions: int) -> list[float]:
    """A deterministic unit vector for ``text`` (equal texts, equal vectors)."""
    values: list[float] = []
    counter = 0
    while len(values) < dimensions:
        digest = hashlib.sha256(f"{counter}:{text}".encode()).digest()
        values.extend((b - 127.5) / 127.5 for b in digest)
        counter += 1
    values = values[:dimensions]
    norm = math.sqrt(sum(v * v for v in values)) or 1.0
    return [round(v / norm, 6) for v in values]
