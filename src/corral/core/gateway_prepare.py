"""Everything decided before a gateway call is forwarded.

Who the call is for (project, agent, user, session, trace), which agent version serves it, which
tools the agent may be offered, which provider serves the model, and a hold of the call's worst
case on every budget that applies, refused if the session is halted.

What this needs from the database is either kept between calls (:mod:`corral.core.gateway_cache`)
or read and locked by the hold itself, so for most calls the event loop decides everything in
memory and only the hold goes to a thread (:mod:`corral.core.gateway_holds`), where it is taken
together with the holds of concurrent calls. What the cache does not hold yet is read in a worker
thread first. A call of an agent with a deployment resolves its version (and may pin its session
to one) in the same transaction as its hold, in a worker thread, so that a refused call leaves
nothing behind.
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from sqlalchemy import select
from sqlalchemy.orm import Session

from corral.core.access import Principal, authorize, resolve_project
from corral.core.agents import find_agent
from corral.core.background import START_DELAY_SECONDS, start_in_thread
from corral.core.budget_holds import Guard, GuardFound, HoldRequest, reserve
from corral.core.budgets import Amounts, CallContext, project_budgets, to_units
from corral.core.cedar import evaluate, parse_policy
from corral.core.deployments import deployment_row, resolve_for_agent
from corral.core.detection.breaker import HALTED_SESSIONS, check_session_not_halted
from corral.core.gateway import PROMPT_MARGIN, CallIntent, PreparedCall
from corral.core.gateway_cache import GatewayCache, NotKept, gateway_cache
from corral.core.gateway_holds import hold_writer
from corral.core.group_commit import write_shared
from corral.core.policies import active_policy
from corral.core.prices import OverridingPriceBook, price_book_for
from corral.core.pricing import TokenUsage
from corral.core.providers import Route, choose_route, enabled_providers
from corral.core.runtime import Runtime
from corral.core.tokens import count_tokens
from corral.core.versions import version_row
from corral.db.schema import AgentRow, BudgetRow, ProjectMemberRow, ProjectRow, ProviderRow
from corral.errors import Conflict, Forbidden, InvalidRequest
from corral.schemas.access import Permission
from corral.schemas.lifecycle import ResolvedVersion

T = TypeVar("T")
log = logging.getLogger("corral.gateway")

_TRACEPARENT = re.compile(r"^[0-9a-f]{2}-([0-9a-f]{32})-([0-9a-f]{16})-[0-9a-f]{2}$")
COUNT_ON_LOOP_CHARS = 16_384
"""Prompts up to this size are counted on the event loop (tens of microseconds); longer ones in
a worker thread, where counting does not hold up other calls."""
HOLD_TRIES = 3


class InThread(Protocol):
    """Runs a function in a worker thread and awaits it (Starlette's ``run_in_threadpool``)."""

    def __call__(self, func: Callable[[], T], /) -> Awaitable[T]: ...


async def prepare_call(
    rt: Runtime, actor: Principal, intent: CallIntent, in_thread: InThread
) -> PreparedCall:
    """Resolve, authorize and route a call, and hold its worst case on its budgets.

    Args:
        rt: The runtime.
        actor: Who calls (the key's principal).
        intent: What the call asks for.
        in_thread: How to run what reads the database without holding up the event loop.

    Raises:
        CorralError: The call is refused (budget exceeded, session halted, no route, …).
    """
    reads = _kept_reads(rt, actor, intent)
    if reads is None:
        reads = await in_thread(lambda: _call_reads(rt, actor, intent))
    else:
        _refresh_ahead(rt, reads.book)
    if reads.known.deployed:
        return await in_thread(lambda: _prepare_versioned(rt, actor, intent, reads))
    for _ in range(HOLD_TRIES):
        plan = _plan(rt, actor, intent, reads, rt.clock.now(), version=None)
        try:
            held = await hold_writer(rt).hold(plan.request(guarded=True))
        except GuardFound:
            # Halted: read the halt for the error (resumed meanwhile: try again).
            await in_thread(functools.partial(_refuse_if_halted, rt, plan))
            continue
        return plan.prepared(held.id)
    raise Conflict("the session's halt changed while the call was held; retry.")


@dataclass(frozen=True)
class _Known:
    """What a call reads through the gateway cache."""

    project: ProjectRow
    agent: AgentRow | None
    environment: str
    deployed: bool
    policy: str | None
    """The agent's tool policy (its Cedar source), if it has one."""
    providers: list[tuple[ProviderRow, str | None]]
    budgets: list[BudgetRow]


@dataclass(frozen=True)
class _Reads:
    known: _Known
    book: OverridingPriceBook
    prompt_tokens: int


def _kept_reads(rt: Runtime, actor: Principal, intent: CallIntent) -> _Reads | None:
    """What the call needs, if it is all in memory; None if something must be read (or the
    prompt is long to count)."""
    if len(intent.prompt_text) > COUNT_ON_LOOP_CHARS:
        return None
    book = price_book_for(rt, read=False)
    if book is None:
        return None
    try:
        known = _known(rt, actor, intent.headers, may_read=False)
    except NotKept:
        return None
    return _Reads(known, book, _prompt_tokens(intent))


def _refresh_ahead(rt: Runtime, book: OverridingPriceBook) -> None:
    """Load again, in a worker thread once the call is on its way, what calls read on the event
    loop and is past half its time; one reload at a time."""
    cache = gateway_cache(rt)
    if not (cache.due or book.due):
        return

    def refresh() -> None:
        try:
            if book.due:
                book.reload()
        except Exception:  # the next call that finds the prices stale reads them itself
            log.exception("reloading the price overrides failed")
        cache.refresh_due(rt.clock.now())

    start_in_thread(refresh, key=cache, delay=START_DELAY_SECONDS)


def _call_reads(rt: Runtime, actor: Principal, intent: CallIntent) -> _Reads:
    """What the call needs, reading what is not kept (in a worker thread)."""
    book = price_book_for(rt)
    return _Reads(_known(rt, actor, intent.headers), book, _prompt_tokens(intent))


def _prompt_tokens(intent: CallIntent) -> int:
    return round((count_tokens(intent.prompt_text) + 4 * intent.messages) * PROMPT_MARGIN) + 16


def _known(
    rt: Runtime, actor: Principal, headers: Mapping[str, str], *, may_read: bool = True
) -> _Known:
    cache = gateway_cache(rt)
    now = rt.clock.now()
    project = _project(cache, actor, headers, now, may_read)
    agent = _agent(cache, actor, headers, project, now, may_read)
    environment = _header(headers, "x-corral-environment") or "production"
    deployed = agent is not None and cache.get(
        ("deployed", agent.id, environment),
        lambda read: deployment_row(read, agent, environment) is not None,
        now,
        may_read=may_read,
    )
    policy = None
    if agent is not None:
        policy = cache.get(
            ("policy", agent.id),
            lambda read: getattr(active_policy(read, agent.id), "source", None),
            now,
            may_read=may_read,
        )
    return _Known(
        project=project,
        agent=agent,
        environment=environment,
        deployed=deployed,
        policy=policy,
        providers=cache.get(
            "providers", lambda read: enabled_providers(rt, read), now, may_read=may_read
        ),
        budgets=cache.get(
            ("budgets", project.id),
            lambda read: project_budgets(read, project.id),
            now,
            may_read=may_read,
        ),
    )


def _header(headers: Mapping[str, str], name: str) -> str | None:
    value = headers.get(name)
    return value.strip() if value and value.strip() else None


def _baggage(headers: Mapping[str, str], key: str) -> str | None:
    for item in (headers.get("baggage") or "").split(","):
        name, _, value = item.strip().partition("=")
        if name.strip() == key and value.strip():
            return value.strip().split(";")[0]
    return None


def _project(
    cache: GatewayCache,
    actor: Principal,
    headers: Mapping[str, str],
    now: datetime,
    may_read: bool,
) -> ProjectRow:
    name = _header(headers, "x-corral-project")
    if name is not None:
        # A miss raises (and keeps nothing); a kept row is authorized for each caller anew.
        row = cache.get(
            ("project", name),
            lambda read: resolve_project(read, actor, name, Permission.GATEWAY_CALL),
            now,
            may_read=may_read,
        )
        authorize(actor, Permission.GATEWAY_CALL, row)
        return row
    scope = actor.project_scope()
    if scope is None or len(scope) != 1:
        raise InvalidRequest(
            "say which project this call is for: send the header 'X-Corral-Project: <name>', or "
            "use a key limited to one project.",
            code="project_required",
        )
    (project_id,) = scope
    row = cache.get(
        ("project_id", project_id),
        lambda read: read.get_one(ProjectRow, project_id),
        now,
        may_read=may_read,
    )
    authorize(actor, Permission.GATEWAY_CALL, row)
    return row


def _agent(
    cache: GatewayCache,
    actor: Principal,
    headers: Mapping[str, str],
    project: ProjectRow,
    now: datetime,
    may_read: bool,
) -> AgentRow | None:
    named = _header(headers, "x-corral-agent")
    if actor.kind == "agent":
        if named is not None and named != actor.name:
            raise Forbidden("an agent key calls as its own agent.", code="permission_denied")
        return cache.get(
            ("agent", actor.id),
            lambda read: read.get_one(AgentRow, actor.id),
            now,
            may_read=may_read,
        )
    if named is None:
        return None
    # Kept only once granted: any caller allowed in the project may then name it.
    return cache.get(
        ("granted_agent", project.id, named),
        lambda read: _granted_agent(read, actor, named, project),
        now,
        may_read=may_read,
    )


def _granted_agent(uow: Session, actor: Principal, named: str, project: ProjectRow) -> AgentRow:
    agent = find_agent(uow, actor, named)
    granted = uow.scalars(
        select(ProjectMemberRow.id).where(
            ProjectMemberRow.agent_id == agent.id, ProjectMemberRow.project_id == project.id
        )
    ).first()
    if granted is None:
        raise Forbidden(
            f"agent {agent.name!r} is not granted project {project.name!r}.",
            code="agent_not_in_project",
        )
    return agent


def tool_allowed(
    policy: str | None,
    agent: AgentRow | None,
    version: ResolvedVersion | None,
    project: str,
    tool: str,
) -> bool:
    """Whether a tool may be offered to the model: not denied for every possible argument.

    A tool allowed only under conditions on its arguments stays offered; the call the model then
    makes is decided with its real arguments.

    Args:
        policy: The agent's tool policy (Cedar source), None if it has none.
        agent: The agent calling, if any.
        version: The agent version serving the call, if any (its tool list decides alone).
        project: The project's name.
        tool: The tool's name.
    """
    if version is not None and version.config.tools is not None:
        return tool in version.config.tools
    if agent is None or policy is None:
        return True
    return _offered(agent.name, policy, project, tool)


@functools.lru_cache(maxsize=4096)
def _offered(agent: str, policy: str, project: str, tool: str) -> bool:
    """:func:`tool_allowed` for an agent with a policy: decided once per policy text, since a
    decision without arguments depends on nothing else."""
    result = evaluate(parse_policy(agent, policy), agent, project, tool, {})
    if result.allowed:
        return True
    if result.reason == "forbidden":
        return False
    # Not permitted without arguments: is there a permit naming this tool (or any tool)?
    return (
        f'Tool::"{tool}"' in policy
        or re.search(r"permit\s*\([^)]*resource\s*\)", policy) is not None
    )


@dataclass(frozen=True)
class _Plan:
    """A call decided, but for its hold."""

    actor: Principal
    intent: CallIntent
    known: _Known
    context: CallContext
    parent_span_id: str | None
    version: ResolvedVersion | None
    route: Route
    estimate: Amounts
    removed_tools: list[str]
    now: datetime

    def request(self, *, guarded: bool) -> HoldRequest:
        """The hold to take; ``guarded``: refused if the session is halted."""
        session = self.context.session
        guard = None
        if guarded and session is not None:
            guard = Guard(HALTED_SESSIONS, {"project_id": self.context.project_id}, session)
        details = {"model": self.route.model, "api": self.intent.api}
        return HoldRequest(self.context, self.estimate, self.known.budgets, details, guard)

    def prepared(self, reservation_id: str) -> PreparedCall:
        """The call prepared, once held."""
        return PreparedCall(
            intent=self.intent,
            project_id=self.known.project.id,
            project_name=self.known.project.name,
            agent=self.known.agent,
            user=self.context.user,
            session=self.context.session,
            trace_id=self.context.trace or "",
            parent_span_id=self.parent_span_id,
            version=self.version,
            route=self.route,
            reservation_id=reservation_id,
            estimate=self.estimate,
            removed_tools=self.removed_tools,
            principal=self.actor,
            started_at=self.now,
        )


def _session_of(headers: Mapping[str, str]) -> str | None:
    return _header(headers, "x-corral-session") or _baggage(headers, "session.id")


def _plan(
    rt: Runtime,
    actor: Principal,
    intent: CallIntent,
    reads: _Reads,
    now: datetime,
    *,
    version: ResolvedVersion | None,
    version_id: int | None = None,
) -> _Plan:
    """Everything decided in memory: who, where to, which tools, and the worst case."""
    headers, known = intent.headers, reads.known
    user = _header(headers, "x-corral-user") or _baggage(headers, "user.id")
    if user is None and actor.kind == "user":
        user = actor.name
    traceparent = _TRACEPARENT.match((headers.get("traceparent") or "").strip().lower())
    model = intent.model
    if version is not None:
        model = version.config.model
        if version.config.provider:
            model = f"{version.config.provider}/{model}"
    api_kind = "anthropic" if intent.api == "anthropic-messages" else "openai"
    route = choose_route(known.providers, api_kind, model)
    project, agent = known.project, known.agent
    removed = [
        tool
        for tool in intent.tool_names
        if not tool_allowed(known.policy, agent, version, project.name, tool)
    ]
    prompt_tokens = reads.prompt_tokens
    usage = TokenUsage(input_tokens=prompt_tokens, output_tokens=intent.max_output_tokens)
    priced = reads.book.price_call(None, route.model, usage, now)
    return _Plan(
        actor=actor,
        intent=intent,
        known=known,
        context=CallContext(
            project_id=project.id,
            agent=agent.name if agent else None,
            user=user,
            session=_session_of(headers),
            trace=traceparent.group(1) if traceparent else secrets.token_hex(16),
            version_id=version_id,
        ),
        parent_span_id=traceparent.group(2) if traceparent else None,
        version=version,
        route=route,
        estimate=Amounts(
            nano_usd=to_units("usd", priced.usd if priced else 0.0),
            tokens=prompt_tokens + intent.max_output_tokens,
        ),
        removed_tools=removed,
        now=now,
    )


def _refuse_if_halted(rt: Runtime, plan: _Plan) -> None:
    """Raise the halted session's error, naming its finding (a worker thread reads it)."""
    assert plan.context.session is not None
    with rt.db.read() as uow:
        check_session_not_halted(uow, plan.context.project_id, plan.context.session)


def _prepare_versioned(
    rt: Runtime, actor: Principal, intent: CallIntent, reads: _Reads
) -> PreparedCall:
    """A call of an agent with a deployment: its version resolved (its session pinned to one on
    first use) and its hold taken in one transaction, so a refused call pins nothing."""
    known = reads.known
    agent = known.agent
    assert agent is not None

    def work(uow: Session, now: datetime) -> PreparedCall:
        session = _session_of(intent.headers)
        if session is not None:
            check_session_not_halted(uow, known.project.id, session)
        version = resolve_for_agent(uow, rt, agent, known.environment, session)
        version_id = version_row(uow, agent, version.version).id
        plan = _plan(rt, actor, intent, reads, now, version=version, version_id=version_id)
        request = plan.request(guarded=False)
        held = reserve(
            uow,
            request.context,
            request.estimate,
            now=now,
            details=dict(request.details),
            budgets=request.budgets,
        )
        return plan.prepared(held.id)

    return write_shared(rt, work, durable=rt.settings.gateway_durable_writes)
