"""The LLM gateway: OpenAI- and Anthropic-compatible endpoints that enforce budgets, tool
policies, agent versions and circuit breakers before forwarding, and record every call.

Agents point their client's ``base_url`` at Corral (``http://corral:8600/v1`` for OpenAI,
``http://corral:8600`` for Anthropic) and use a Corral key.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from typing import Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from corral.core.background import start_in_thread
from corral.core.gateway import (
    CallOutcome,
    FinishedCall,
    PreparedCall,
    decide_tool_calls,
    finish_call,
    release_call,
)
from corral.core.gateway_prepare import prepare_call
from corral.core.gateway_recorder import running_recorder
from corral.core.providers import Route
from corral.core.runtime import Runtime
from corral.errors import CorralError, MalformedRequest
from corral.schemas.policies import AuthorizeDecision
from corral.server.deps import Actor, RuntimeDep
from corral.server.gateway.protocols import (
    AnthropicMessages,
    OpenAIChat,
    OpenAIEmbeddings,
    ProviderApi,
)
from corral.server.gateway.upstream import (
    Upstream,
    UpstreamAnswer,
    UpstreamError,
    UpstreamTimeout,
)

log = logging.getLogger("corral.gateway")
router = APIRouter(tags=["gateway"])

NO_RETRY = {"x-should-retry": "false"}
"""OpenAI and Anthropic clients retry 429s by themselves; a refusal by policy must not be."""


def upstream_of(state: Any) -> Upstream:
    """The providers' client kept in an app's ``state`` (made on first use)."""
    client: Upstream | None = getattr(state, "gateway_upstream", None)
    if client is None:
        client = state.gateway_upstream = Upstream()
    return client


def gateway_error(api: ProviderApi, error: CorralError) -> JSONResponse:
    """Corral's error body, with the ``type`` field the provider clients read."""
    body = error.to_body()
    body["error"]["type"] = error.code
    if isinstance(api, AnthropicMessages):
        body["type"] = "error"
    headers = dict(NO_RETRY) if error.status in (403, 409, 429) else {}
    return JSONResponse(body, status_code=error.status, headers=headers)


def _denied(decision: AuthorizeDecision) -> CorralError:
    return CorralError(
        f"the model asked to call {decision.tool!r}, which agent {decision.agent!r} may not call "
        f"here: {decision.message}",
        code="tool_call_denied",
        status=403,
        details={
            "tool": decision.tool,
            "reason": decision.reason,
            "policies": decision.policies,
            "policy_version": decision.policy_version,
        },
    )


async def _read_json(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise MalformedRequest(
            f"the request body is not valid JSON: {exc}", code="malformed_json"
        ) from exc
    if not isinstance(body, dict):
        raise MalformedRequest("the request body must be a JSON object.", code="malformed_json")
    return body


async def forward(request: Request, rt: Runtime, actor: Actor, api: ProviderApi) -> Response:
    """Prepare, forward, check and record one call."""
    settings = rt.settings
    try:
        body = await _read_json(request)
        intent = api.intent(body, request.headers, settings.gateway_default_max_tokens)
        prepared = await prepare_call(rt, actor, intent, run_in_threadpool)
    except CorralError as error:
        return gateway_error(api, error)
    upstream = api.upstream_body(body, prepared, settings.gateway_default_max_tokens)
    route = prepared.route
    url = route.provider.base_url + api.upstream_path()
    headers = api.upstream_headers(route.api_key, request.headers)
    limit = settings.gateway_record_content_bytes
    tool_results = api.tool_results(body)
    input_text = api.input_text(body) if limit else None
    streaming = bool(upstream.get("stream"))
    try:
        response = await upstream_of(request.app.state).post(
            url, orjson.dumps(upstream), headers, timeout_seconds=route.provider.timeout_seconds
        )
        if streaming and response.status < 400:
            return _stream(rt, api, prepared, response, body, tool_results, input_text, limit)
        content = await response.read()
    except UpstreamError as exc:
        await run_in_threadpool(release_call, rt, prepared)
        return gateway_error(api, _unreachable(route, exc))
    if response.status >= 400:
        # The provider's own error, with its status, so clients handle it as they would directly.
        outcome = CallOutcome(
            status=response.status,
            error=content[:2000].decode("utf-8", "replace"),
            input_text=input_text,
            tool_results=tool_results,
        )
        task = _recording(rt, prepared, outcome, limit)
        return Response(
            content, status_code=response.status, background=task, media_type=response.content_type
        )
    try:
        data = orjson.loads(content)
    except orjson.JSONDecodeError:
        data = {}
    outcome = api.outcome(data)
    outcome.input_text, outcome.tool_results = input_text, tool_results
    if not limit:
        outcome.output_text = None
    # Most answers call no tool: no need for a worker thread to decide nothing.
    denied = (
        await run_in_threadpool(decide_tool_calls, rt, prepared, outcome.tool_calls)
        if outcome.tool_calls
        else None
    )
    if denied is not None:
        outcome.denied_tool = denied.tool
        response_error = gateway_error(api, _denied(denied))
        response_error.background = _recording(rt, prepared, outcome, limit)
        return response_error
    return Response(
        content,
        status_code=response.status,
        media_type=response.content_type,
        background=_recording(rt, prepared, outcome, limit),
    )


def _unreachable(route: Route, error: UpstreamError) -> CorralError:
    name = route.provider.name
    if isinstance(error, UpstreamTimeout):
        return CorralError(
            f"provider {name!r} did not answer within {route.provider.timeout_seconds:g} s.",
            code="upstream_timeout",
            status=504,
        )
    return CorralError(
        f"provider {name!r} cannot be reached: {error}.", code="upstream_unreachable", status=502
    )


def _recording(
    rt: Runtime, prepared: PreparedCall, outcome: CallOutcome, limit: int
) -> BackgroundTask | None:
    """Settle and record the call: handed to the recorder now, or, when no recorder runs, a task
    run right after the response is sent."""
    if _to_recorder(rt, prepared, outcome, limit):
        return None
    return BackgroundTask(finish_call, rt, prepared, outcome, limit=limit)


def _to_recorder(rt: Runtime, prepared: PreparedCall, outcome: CallOutcome, limit: int) -> bool:
    """Hand the call to the recorder, if one runs: it writes a moment later, so nothing waits
    for it, and a client hanging up cannot cancel it."""
    recorder = running_recorder(rt)
    if recorder is None:
        return False
    recorder.submit(FinishedCall(prepared, outcome, rt.clock.now(), limit))
    return True


def _split_events(buffer: bytearray) -> list[bytes]:
    events: list[bytes] = []
    while True:
        end = buffer.find(b"\n\n")
        if end < 0:
            return events
        events.append(bytes(buffer[: end + 2]))
        del buffer[: end + 2]


def _stream(
    rt: Runtime,
    api: ProviderApi,
    prepared: PreparedCall,
    response: UpstreamAnswer,
    body: dict[str, Any],
    tool_results: list[Any],
    input_text: str | None,
    limit: int,
) -> StreamingResponse:
    """Pass events through as they come, except tool calls: those are held until complete and
    decided, then passed on — or replaced by an error event if refused."""
    parser = api.stream_parser()
    asked_usage = bool((body.get("stream_options") or {}).get("include_usage"))
    denied: list[str] = []

    async def events() -> AsyncIterator[bytes]:
        buffer = bytearray()
        held: list[bytes] = []
        holding = False
        try:
            async for chunk in response.chunks():
                buffer.extend(chunk.replace(b"\r\n", b"\n"))
                for event in _split_events(buffer):
                    parser.feed(event)
                    if not asked_usage and parser.is_usage_only(event):
                        continue  # Corral asked for usage; the client did not
                    if not holding and api.starts_tool_call(event):
                        holding = True
                    if holding:
                        held.append(event)
                        if api.ends_message(event):
                            decision = await run_in_threadpool(
                                decide_tool_calls, rt, prepared, parser.outcome.tool_calls
                            )
                            if decision is not None:
                                denied.append(decision.tool)
                                refusal = _denied(decision)
                                yield api.stream_error(refusal.code, refusal.message)
                                return
                            for kept in held:
                                yield kept
                            held.clear()
                            holding = False
                        continue
                    yield event
            for kept in held:
                yield kept
            if buffer.strip():
                yield bytes(buffer)
        finally:
            response.close()
            outcome = parser.outcome
            outcome.input_text, outcome.tool_results = input_text, tool_results
            outcome.denied_tool = denied[0] if denied else None
            if not limit:
                outcome.output_text = None
            # Clients often hang up right after the last event, which cancels anything that
            # would run after the response: the settlement is handed to a worker thread here.
            if not _to_recorder(rt, prepared, outcome, limit):
                start_in_thread(functools.partial(finish_call, rt, prepared, outcome, limit=limit))

    return StreamingResponse(
        events(), media_type="text/event-stream", headers={"cache-control": "no-cache"}
    )


@router.post("/chat/completions", summary="OpenAI-compatible chat completions through Corral")
async def chat_completions(request: Request, rt: RuntimeDep, actor: Actor) -> Response:
    return await forward(request, rt, actor, OpenAIChat())


@router.post("/embeddings", summary="OpenAI-compatible embeddings through Corral")
async def embeddings(request: Request, rt: RuntimeDep, actor: Actor) -> Response:
    return await forward(request, rt, actor, OpenAIEmbeddings())


@router.post("/messages", summary="Anthropic-compatible messages through Corral")
async def messages(request: Request, rt: RuntimeDep, actor: Actor) -> Response:
    return await forward(request, rt, actor, AnthropicMessages())
