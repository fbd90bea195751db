"""Calls for budgets and providers."""

from __future__ import annotations

from typing import Any

from corral.schemas.budgets import Budget, BudgetAlert, BudgetUsage
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
