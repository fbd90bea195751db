"""Calls for budgets and providers."""

from __future__ import annotations

from datetime import date
from typing import Any

from corral.schemas.budgets import Budget, BudgetAlert, BudgetUsage, Reservation
from corral.schemas.costs import CostReport
from corral.schemas.prices import PriceOverride, PriceQuote
from corral.schemas.providers import Provider
from corral.sdk._calls import Call, body_of, no_content, parser, segment

_budget = parser(Budget)
_provider = parser(Provider)


def list_budgets(project: str | None) -> Call[list[Budget]]:
    return Call("GET", "/v1/budgets", parser(list[Budget]), params=body_of(project=project))


def create_budget(body: dict[str, Any]) -> Call[Budget]:
    return Call("POST", "/v1/budgets", _budget, json=body)


def get_budget(budget_id: int) -> Call[Budget]:
    return Call("GET", f"/v1/budgets/{segment(budget_id)}", _budget)


def update_budget(budget_id: int, body: dict[str, Any]) -> Call[Budget]:
    return Call("PATCH", f"/v1/budgets/{segment(budget_id)}", _budget, json=body)


def delete_budget(budget_id: int) -> Call[None]:
    return Call("DELETE", f"/v1/budgets/{segment(budget_id)}", no_content)


def budget_usage(budget_id: int) -> Call[list[BudgetUsage]]:
    return Call("GET", f"/v1/budgets/{segment(budget_id)}/usage", parser(list[BudgetUsage]))


def budget_alerts() -> Call[list[BudgetAlert]]:
    return Call("GET", "/v1/budgets/alerts", parser(list[BudgetAlert]))


def list_providers() -> Call[list[Provider]]:
    return Call("GET", "/v1/providers", parser(list[Provider]))


def create_provider(body: dict[str, Any]) -> Call[Provider]:
    return Call("POST", "/v1/providers", _provider, json=body)


def update_provider(name: str, body: dict[str, Any]) -> Call[Provider]:
    return Call("PATCH", f"/v1/providers/{segment(name)}", _provider, json=body)


def delete_provider(name: str) -> Call[None]:
    return Call("DELETE", f"/v1/providers/{segment(name)}", no_content)


def cost_report(
    group_by: list[str],
    projects: list[str] | None,
    since: date | None,
    until: date | None,
    limit: int,
) -> Call[CostReport]:
    params: dict[str, Any] = {"group_by": group_by, "limit": limit}
    params.update(
        body_of(
            project=projects,
            since=since.isoformat() if since else None,
            until=until.isoformat() if until else None,
        )
    )
    return Call("GET", "/v1/costs", parser(CostReport), params=params)


def list_overrides() -> Call[list[PriceOverride]]:
    return Call("GET", "/v1/prices/overrides", parser(list[PriceOverride]))


def create_override(body: dict[str, Any]) -> Call[PriceOverride]:
    return Call("POST", "/v1/prices/overrides", parser(PriceOverride), json=body)


def delete_override(override_id: int) -> Call[None]:
    return Call("DELETE", f"/v1/prices/overrides/{segment(override_id)}", no_content)


def quote(
    model: str, input_tokens: int, output_tokens: int, provider: str | None
) -> Call[PriceQuote]:
    params = body_of(
        model=model, input_tokens=input_tokens, output_tokens=output_tokens, provider=provider
    )
    return Call("GET", "/v1/prices/quote", parser(PriceQuote), params=params)


def hold(body: dict[str, Any]) -> Call[Reservation]:
    return Call("POST", "/v1/budgets/reservations", parser(Reservation), json=body)


def settle(reservation_id: str, usage: dict[str, int]) -> Call[Reservation]:
    path = f"/v1/budgets/reservations/{segment(reservation_id)}/settle"
    return Call("POST", path, parser(Reservation), json=usage)


def release(reservation_id: str) -> Call[Reservation]:
    return Call(
        "POST", f"/v1/budgets/reservations/{segment(reservation_id)}/release", parser(Reservation)
    )
