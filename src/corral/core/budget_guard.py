"""Budget holds for agents that call providers themselves (the SDK's budget guard).

The same reservation as the gateway's — worst case held before the call, settled with the
provider's usage after — exposed over REST, for calls that do not go through the gateway.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from corral.core.access import Principal, resolve_project
from corral.core.agents import find_agent
from corral.core.budget_holds import reserve
from corral.core.budgets import (
    Amounts,
    CallContext,
    describe_reservation,
    settle,
    to_units,
)
from corral.core.prices import price_book_for
from corral.core.pricing import TokenUsage
from corral.core.runtime import Runtime
from corral.core.tokens import count_tokens
from corral.db.schema import BudgetReservationRow, ProjectRow
from corral.errors import Forbidden, NotFound
from corral.schemas.access import Permission
from corral.schemas.budgets import Reservation, ReservationRequest, UsageReport


def hold(rt: Runtime, actor: Principal, body: ReservationRequest) -> Reservation:
    """Hold the worst case of a call on every budget that applies, or refuse it (429)."""
    book = price_book_for(rt)
    now = rt.clock.now()
    prompt_tokens = (
        body.prompt_tokens if body.prompt_tokens is not None else count_tokens(body.prompt or "")
    )
    max_tokens = body.max_tokens or rt.settings.gateway_default_max_tokens
    priced = book.price_call(
        body.provider,
        body.model,
        TokenUsage(input_tokens=prompt_tokens, output_tokens=max_tokens),
        now,
    )
    estimate = Amounts(to_units("usd", priced.usd if priced else 0.0), prompt_tokens + max_tokens)
    with rt.db.write() as uow:
        project = resolve_project(uow, actor, body.project, Permission.GATEWAY_CALL)
        agent = actor.name if actor.kind == "agent" else body.agent
        if actor.kind == "agent" and body.agent not in (None, actor.name):
            raise Forbidden(
                "an agent key holds budget for its own calls.", code="permission_denied"
            )
        if actor.kind == "user" and body.agent is not None:
            find_agent(uow, actor, body.agent)
        context = CallContext(
            project_id=project.id,
            agent=agent,
            user=body.user or (actor.name if actor.kind == "user" else None),
            session=body.session,
            trace=body.trace,
        )
        row = reserve(
            uow,
            context,
            estimate,
            now=now,
            details={
                "model": body.model,
                "provider": body.provider,
                "holder": f"{actor.kind}:{actor.id}",
            },
        )
        return describe_reservation(row)


def _own_row(uow: Session, actor: Principal, reservation_id: str) -> BudgetReservationRow:
    row = uow.get(BudgetReservationRow, reservation_id)
    project = uow.get(ProjectRow, row.context.get("project_id")) if row else None
    if row is None or project is None or not actor.may(Permission.GATEWAY_CALL, project.id):
        raise NotFound(
            f"no budget hold {reservation_id!r} that you can settle.", code="reservation_not_found"
        )
    return row


def finish(
    rt: Runtime, actor: Principal, reservation_id: str, usage: UsageReport | None
) -> Reservation:
    """Settle a hold with the call's usage (priced at the model's price), or release it."""
    book = price_book_for(rt)
    now = rt.clock.now()
    with rt.db.write() as uow:
        row = _own_row(uow, actor, reservation_id)
        actual = None
        if usage is not None:
            tokens = TokenUsage(
                input_tokens=usage.input_tokens,
                output_tokens=usage.output_tokens,
                cache_read_tokens=usage.cache_read_tokens,
                cache_write_tokens=usage.cache_write_tokens,
                reasoning_tokens=usage.reasoning_tokens,
            )
            priced = book.price_call(
                row.context.get("provider"), str(row.context.get("model")), tokens, now
            )
            actual = Amounts(
                to_units("usd", priced.usd if priced else 0.0),
                usage.input_tokens + usage.output_tokens,
            )
        settled = settle(uow, reservation_id, actual, now=now)
        assert settled is not None
        return describe_reservation(settled)
