"""SDK resources for budgets and providers."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from corral.schemas.budgets import Budget, BudgetAlert, BudgetUsage
from corral.schemas.providers import Provider
from corral.sdk import _cost_operations as ops
from corral.sdk._calls import body_of

if TYPE_CHECKING:
    from corral.sdk.client import AsyncClient, Client


def _budget_body(name: str, scope: str, limit: float, options: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "scope": scope, "limit": limit, **body_of(**options)}


class Budgets:
    """Spending limits, enforced before each call."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def list(self, *, project: str | None = None) -> builtins.list[Budget]:
        return self._client.call(ops.list_budgets(project))

    def create(
        self,
        name: str,
        *,
        scope: str,
        limit: float,
        subject: str | None = None,
        project: str | None = None,
        unit: str | None = None,
        window: str | None = None,
        rolling_hours: int | None = None,
        thresholds: builtins.list[int] | None = None,
        enforce: bool | None = None,
    ) -> Budget:
        """Create a budget; leave ``subject`` out on agent/user/session/trace scopes to limit
        each of them separately."""
        options = {
            "subject": subject,
            "project": project,
            "unit": unit,
            "window": window,
            "rolling_hours": rolling_hours,
            "thresholds": thresholds,
            "enforce": enforce,
        }
        return self._client.call(ops.create_budget(_budget_body(name, scope, limit, options)))

    def get(self, budget_id: int) -> Budget:
        return self._client.call(ops.get_budget(budget_id))

    def update(self, budget_id: int, **changes: Any) -> Budget:
        return self._client.call(ops.update_budget(budget_id, changes))

    def delete(self, budget_id: int) -> None:
        self._client.call(ops.delete_budget(budget_id))

    def usage(self, budget_id: int) -> builtins.list[BudgetUsage]:
        return self._client.call(ops.budget_usage(budget_id))

    def alerts(self) -> builtins.list[BudgetAlert]:
        return self._client.call(ops.budget_alerts())


class AsyncBudgets:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def list(self, *, project: str | None = None) -> builtins.list[Budget]:
        return await self._client.call(ops.list_budgets(project))

    async def create(
        self,
        name: str,
        *,
        scope: str,
        limit: float,
        subject: str | None = None,
        project: str | None = None,
        unit: str | None = None,
        window: str | None = None,
        rolling_hours: int | None = None,
        thresholds: builtins.list[int] | None = None,
        enforce: bool | None = None,
    ) -> Budget:
        options = {
            "subject": subject,
            "project": project,
            "unit": unit,
            "window": window,
            "rolling_hours": rolling_hours,
            "thresholds": thresholds,
            "enforce": enforce,
        }
        return await self._client.call(ops.create_budget(_budget_body(name, scope, limit, options)))

    async def get(self, budget_id: int) -> Budget:
        return await self._client.call(ops.get_budget(budget_id))

    async def update(self, budget_id: int, **changes: Any) -> Budget:
        return await self._client.call(ops.update_budget(budget_id, changes))

    async def delete(self, budget_id: int) -> None:
        await self._client.call(ops.delete_budget(budget_id))

    async def usage(self, budget_id: int) -> builtins.list[BudgetUsage]:
        return await self._client.call(ops.budget_usage(budget_id))

    async def alerts(self) -> builtins.list[BudgetAlert]:
        return await self._client.call(ops.budget_alerts())


def _provider_body(name: str, kind: str, base_url: str, options: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "kind": kind, "base_url": base_url, **body_of(**options)}


class Providers:
    """Upstream providers the gateway forwards to (workspace administrators)."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def list(self) -> builtins.list[Provider]:
        return self._client.call(ops.list_providers())

    def add(
        self,
        name: str,
        *,
        kind: str,
        base_url: str,
        api_key: str | None = None,
        models: builtins.list[str] | None = None,
        priority: int | None = None,
        timeout_seconds: float | None = None,
    ) -> Provider:
        options = {
            "api_key": api_key,
            "models": models,
            "priority": priority,
            "timeout_seconds": timeout_seconds,
        }
        return self._client.call(ops.create_provider(_provider_body(name, kind, base_url, options)))

    def update(self, name: str, **changes: Any) -> Provider:
        return self._client.call(ops.update_provider(name, changes))

    def remove(self, name: str) -> None:
        self._client.call(ops.delete_provider(name))


class AsyncProviders:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def list(self) -> builtins.list[Provider]:
        return await self._client.call(ops.list_providers())

    async def add(
        self,
        name: str,
        *,
        kind: str,
        base_url: str,
        api_key: str | None = None,
        models: builtins.list[str] | None = None,
        priority: int | None = None,
        timeout_seconds: float | None = None,
    ) -> Provider:
        options = {
            "api_key": api_key,
            "models": models,
            "priority": priority,
            "timeout_seconds": timeout_seconds,
        }
        return await self._client.call(
            ops.create_provider(_provider_body(name, kind, base_url, options))
        )

    async def update(self, name: str, **changes: Any) -> Provider:
        return await self._client.call(ops.update_provider(name, changes))

    async def remove(self, name: str) -> None:
        await self._client.call(ops.delete_provider(name))
