"""The gateway's pipeline, independent of the provider API it speaks.

Before a call (:mod:`corral.core.gateway_prepare`): who it is for (project, agent, user, session,
trace), whether a detector halted the session, which agent version serves the session, which
tools the agent may use, which provider serves the model, and a hold of the call's worst-case cost
on every budget that applies — a refused call leaves nothing behind. After the call: the hold is
settled with the provider's reported usage (or released when the call failed) and the call is
recorded as an LLM span in the same store as ingested traces, with the tool results the agent
sent back recorded as tool spans.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from corral.core.access import Principal
from corral.core.budgets import (
    Amounts,
    from_units,
    settle,
    settle_before_commit,
    settle_many,
    to_units,
)
from corral.core.normalize import NormalizedSpan, without_nul_text
from corral.core.policies import decide_tool_call
from corral.core.prices import price_book_for
from corral.core.pricing import PriceBook, TokenUsage
from corral.core.providers import Route
from corral.core.runtime import Runtime
from corral.core.span_store import record_spans
from corral.db.schema import AgentRow, ProjectRow
from corral.schemas.lifecycle import ResolvedVersion
from corral.schemas.policies import AuthorizeDecision

PROMPT_MARGIN = 1.10
"""Prompt tokens are counted with one tokenizer; the hold adds a margin for others."""


@dataclass(frozen=True)
class CallIntent:
    """What a call asks for, read from the request by the protocol adapter."""

    api: str
    model: str
    prompt_text: str
    messages: int
    tool_names: Sequence[str]
    max_output_tokens: int
    headers: Mapping[str, str]


@dataclass(frozen=True)
class ToolCall:
    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class ToolResult:
    """A tool's result the agent sends back, with the call it answers."""

    call_id: str
    name: str
    arguments: str
    result: str
    is_error: bool = False


@dataclass
class PreparedCall:
    """Everything decided before forwarding a call."""

    intent: CallIntent
    project_id: int
    project_name: str
    agent: AgentRow | None
    user: str | None
    session: str | None
    trace_id: str
    parent_span_id: str | None
    version: ResolvedVersion | None
    route: Route
    reservation_id: str | None
    estimate: Amounts
    removed_tools: list[str] = field(default_factory=list)
    principal: Principal | None = None
    started_at: datetime | None = None


@dataclass
class CallOutcome:
    """What came back."""

    status: int
    model: str | None = None
    usage: TokenUsage | None = None
    output_text: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    error: str | None = None
    input_text: str | None = None
    tool_results: list[ToolResult] = field(default_factory=list)
    denied_tool: str | None = None


def decide_tool_calls(
    rt: Runtime, prepared: PreparedCall, calls: Sequence[ToolCall]
) -> AuthorizeDecision | None:
    """Check the tool calls a model returned; the first one refused, if any (each is audited)."""
    if prepared.agent is None or not calls or prepared.principal is None:
        return None
    import json

    with rt.db.write(urgent=True) as uow:  # the model's answer waits for it
        project = uow.get_one(ProjectRow, prepared.project_id)
        agent = uow.get_one(AgentRow, prepared.agent.id)
        for call in calls:
            if prepared.version is not None and prepared.version.config.tools is not None:
                if call.name not in prepared.version.config.tools:
                    return AuthorizeDecision(
                        allowed=False,
                        reason="not_permitted",
                        agent=agent.name,
                        tool=call.name,
                        policies=[],
                        policy_version=None,
                        message=f"{call.name!r} is not among the tools of version "
                        f"{prepared.version.version} of {agent.name!r}.",
                    )
                continue
            try:
                arguments = json.loads(call.arguments or "{}")
            except ValueError:
                arguments = {"_raw": call.arguments}
            if not isinstance(arguments, dict):
                arguments = {"_value": arguments}
            decision = decide_tool_call(
                uow,
                rt,
                actor=prepared.principal,
                agent=agent,
                project=project,
                tool=call.name,
                args=arguments,
                via="gateway",
            )
            if not decision.allowed:
                return decision
    return None


def _span_id(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class FinishedCall:
    """A call that came back, to be settled and recorded."""

    prepared: PreparedCall
    outcome: CallOutcome
    finished_at: datetime
    limit: int = 32_768
    """Content recorded on its spans, in characters of each text."""


def finish_call(
    rt: Runtime, prepared: PreparedCall, outcome: CallOutcome, *, limit: int = 32_768
) -> None:
    """Settle the hold and record the call (and the tool results it carried) as spans."""
    record_calls(rt, [FinishedCall(prepared, outcome, rt.clock.now(), limit)])


def record_calls(rt: Runtime, calls: Sequence[FinishedCall]) -> None:
    """Settle the holds of finished calls and record them as spans, in one transaction; if that
    fails the holds are still settled (the calls are paid for) and the error raised."""
    write_recorded(rt, recorded_calls(rt, calls))


def recorded_calls(rt: Runtime, calls: Sequence[FinishedCall]) -> list[RecordedCall]:
    """What finished calls leave behind: their spans, priced, and their settlements. Plain
    data, so another process can write it (see :mod:`corral.core.record_process`)."""
    book = price_book_for(rt)
    return [_recorded(call, book) for call in calls]


def write_recorded(rt: Runtime, recorded: Sequence[RecordedCall]) -> None:
    """Write :func:`recorded_calls`: the spans and the settlements in one transaction; if that
    fails the holds are still settled (the calls are paid for) and the error raised."""
    settlements = [(r.reservation, r.actual, r.at) for r in recorded if r.reservation is not None]

    def settle_holds(uow: Session, _at: datetime) -> None:
        for reservation, actual, at in settlements:
            settle_before_commit(uow, reservation, actual, at)

    # One batch of spans per project, however many calls: the batch's checks, insert and
    # rollups are then paid once for all the calls finishing together.
    by_project: dict[int, list[NormalizedSpan]] = {}
    for r in recorded:
        by_project.setdefault(r.project_id, []).extend(r.spans)
    try:
        record_spans(
            rt,
            list(by_project.items()),
            price_book=price_book_for(rt),
            along=settle_holds if settlements else None,
            durable=rt.settings.gateway_durable_writes,
        )
    except Exception:
        if not settlements:
            raise
        with rt.db.write() as uow:  # the calls are paid for even when their spans cannot be stored
            settle_many(
                uow,
                [(reservation, actual) for reservation, actual, _ in settlements],
                now=max(at for *_, at in settlements),
            )
        raise


@dataclass(frozen=True)
class RecordedCall:
    """A finished call's spans (its LLM span and the tool results it carried) and the
    settlement of its hold."""

    project_id: int
    spans: list[NormalizedSpan]
    reservation: str | None
    actual: Amounts | None
    at: datetime


def _recorded(call: FinishedCall, book: PriceBook) -> RecordedCall:
    prepared, outcome, now, limit = call.prepared, call.outcome, call.finished_at, call.limit
    started = prepared.started_at or now
    usage = outcome.usage
    cost = (
        book.price_call(None, outcome.model or prepared.route.model, usage, now) if usage else None
    )
    actual = (
        Amounts(to_units("usd", cost.usd) if cost else 0, usage.input_tokens + usage.output_tokens)
        if usage is not None and outcome.status < 400
        else None
    )
    agent = prepared.agent.name if prepared.agent else None
    version = str(prepared.version.version) if prepared.version else None
    llm_span_id = secrets.token_hex(8)
    attributes: dict[str, Any] = {
        "corral.gateway": True,
        "corral.api": prepared.intent.api,
        "corral.provider": prepared.route.provider.name,
        "gen_ai.request.model": prepared.intent.model,
        "corral.reservation": prepared.reservation_id,
        "corral.estimate_usd": from_units("usd", prepared.estimate.nano_usd),
    }
    if prepared.version is not None:
        attributes["corral.canary"] = prepared.version.canary
    if prepared.removed_tools:
        attributes["corral.tools_removed"] = prepared.removed_tools
    if outcome.tool_calls:
        attributes["gen_ai.response.tool_calls"] = [
            {"id": c.id, "name": c.name, "arguments": c.arguments} for c in outcome.tool_calls
        ]
    if outcome.denied_tool:
        attributes["corral.tool_call_denied"] = outcome.denied_tool
    common = {
        "agent_name": agent,
        "agent_version": version,
        "session_id": prepared.session,
        "user_id": prepared.user,
        "service_name": "corral-gateway",
    }
    spans = [
        NormalizedSpan(
            trace_id=prepared.trace_id,
            span_id=_span_id(prepared.trace_id, "result", r.call_id),
            parent_span_id=prepared.parent_span_id,
            name=f"execute_tool {r.name}",
            start_time=started,
            end_time=started,
            span_type="tool",
            status="error" if r.is_error else "ok",
            tool_name=r.name,
            tool_arguments=r.arguments[:limit],
            tool_result=r.result[:limit],
            attributes={"corral.gateway": True, "gen_ai.tool.call.id": r.call_id},
            **common,  # type: ignore[arg-type]
        )
        for r in outcome.tool_results
    ]
    spans.append(
        NormalizedSpan(
            trace_id=prepared.trace_id,
            span_id=llm_span_id,
            parent_span_id=prepared.parent_span_id,
            name=f"{'embeddings' if prepared.intent.api == 'openai-embeddings' else 'chat'} "
            f"{outcome.model or prepared.route.model}",
            start_time=started,
            end_time=max(now, started),
            span_type="embedding" if prepared.intent.api == "openai-embeddings" else "llm",
            status="error" if outcome.status >= 400 or outcome.denied_tool else "ok",
            error_message=outcome.error,
            model=outcome.model or prepared.route.model,
            provider=prepared.route.provider.name,
            input_tokens=usage.input_tokens if usage else None,
            output_tokens=usage.output_tokens if usage else None,
            cache_read_tokens=usage.cache_read_tokens if usage else None,
            cache_write_tokens=usage.cache_write_tokens if usage else None,
            reasoning_tokens=usage.reasoning_tokens if usage else None,
            cost_usd=cost.usd if cost else None,
            price_version=cost.price_version if cost else None,
            input_text=(outcome.input_text or "")[:limit] or None,
            output_text=(outcome.output_text or "")[:limit] or None,
            attributes=attributes,
            **common,  # type: ignore[arg-type]
        )
    )
    # Prompts and tool results come from the caller: kept, with NUL made storable.
    spans = [without_nul_text(span) for span in spans]
    return RecordedCall(prepared.project_id, spans, prepared.reservation_id, actual, now)


def release_call(rt: Runtime, prepared: PreparedCall) -> None:
    """The call never reached the provider: drop its hold."""
    if prepared.reservation_id is not None:
        with rt.db.write() as uow:
            settle(uow, prepared.reservation_id, None, now=rt.clock.now())
