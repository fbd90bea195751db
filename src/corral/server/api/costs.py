from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query, Response

from corral.core import budget_guard, costs, prices
from corral.core.pricing import TokenUsage
from corral.schemas.budgets import Reservation, ReservationRequest, UsageReport
from corral.schemas.costs import CostDimension, CostReport
from corral.schemas.prices import PriceOverride, PriceOverrideCreate, PriceQuote
from corral.server.deps import Actor, RuntimeDep

router = APIRouter(tags=["costs"])


@router.get(
    "/costs", summary="Spend grouped by project, agent, user, model, provider, day or session"
)
def cost_report(
    rt: RuntimeDep,
    actor: Actor,
    group_by: Annotated[list[CostDimension], Query()] = ["agent"],  # noqa: B006
    project: Annotated[list[str] | None, Query()] = None,
    since: date | None = None,
    until: date | None = None,
    limit: Annotated[int, Query(ge=1, le=costs.MAX_ROWS)] = 200,
) -> CostReport:
    return costs.cost_report(
        rt, actor, group_by=group_by, projects=project, since=since, until=until, limit=limit
    )


@router.get("/prices/overrides", summary="Workspace price overrides")
def list_overrides(rt: RuntimeDep, actor: Actor) -> list[PriceOverride]:
    return prices.list_overrides(rt, actor)


@router.post("/prices/overrides", status_code=201, summary="Set your own price for some models")
def create_override(rt: RuntimeDep, actor: Actor, body: PriceOverrideCreate) -> PriceOverride:
    return prices.create_override(rt, actor, body)


@router.delete(
    "/prices/overrides/{override_id}", status_code=204, summary="Remove a price override"
)
def delete_override(rt: RuntimeDep, actor: Actor, override_id: int) -> Response:
    prices.delete_override(rt, actor, override_id)
    return Response(status_code=204)


@router.get("/prices/quote", summary="What a call would cost at today's prices")
def quote(
    rt: RuntimeDep,
    actor: Actor,
    model: str,
    input_tokens: Annotated[int, Query(ge=0)] = 0,
    output_tokens: Annotated[int, Query(ge=0)] = 0,
    provider: str | None = None,
) -> PriceQuote:
    usage = TokenUsage(input_tokens=input_tokens, output_tokens=output_tokens)
    return prices.quote(rt, model, usage, provider=provider)


@router.post(
    "/budgets/reservations",
    status_code=201,
    summary="Hold a call's worst case on every applicable budget before making it (429 if over)",
)
def hold(rt: RuntimeDep, actor: Actor, body: ReservationRequest) -> Reservation:
    return budget_guard.hold(rt, actor, body)


@router.post(
    "/budgets/reservations/{reservation_id}/settle", summary="Settle a hold with real usage"
)
def settle(rt: RuntimeDep, actor: Actor, reservation_id: str, body: UsageReport) -> Reservation:
    return budget_guard.finish(rt, actor, reservation_id, body)


@router.post(
    "/budgets/reservations/{reservation_id}/release", summary="Release a hold (the call failed)"
)
def release(rt: RuntimeDep, actor: Actor, reservation_id: str) -> Reservation:
    return budget_guard.finish(rt, actor, reservation_id, None)
