"""SDK resources for budgets and providers."""

from __future__ import annotations

import builtins
from datetime import date
from typing import TYPE_CHECKING, Any

from corral.schemas.budgets import Budget, BudgetAlert, BudgetUsage, Reservation
from corral.schemas.costs import CostReport
from corral.schemas.prices import PriceOverride, PriceQuote
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

    def hold(
        self,
        *,
        project: str,
        model: str,
        prompt: str | None = None,
        prompt_tokens: int | None = None,
        max_tokens: int | None = None,
        provider: str | None = None,
        agent: str | None = None,
        user: str | None = None,
        session: str | None = None,
        trace: str | None = None,
    ) -> Reservation:
        """Hold a call's worst case on every budget that applies; raises
        :class:`corral.RateLimited` (code ``budget_exceeded``) when a limit would be crossed."""
        body = {
            "project": project,
            "model": model,
            **body_of(
                prompt=prompt,
                prompt_tokens=prompt_tokens,
                max_tokens=max_tokens,
                provider=provider,
                agent=agent,
                user=user,
                session=session,
                trace=trace,
            ),
        }
        return self._client.call(ops.hold(body))

    def settle(
        self,
        reservation_id: str,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        reasoning_tokens: int = 0,
    ) -> Reservation:
        usage = {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_read_tokens": cache_read_tokens,
            "cache_write_tokens": cache_write_tokens,
            "reasoning_tokens": reasoning_tokens,
        }
        return self._client.call(ops.settle(reservation_id, usage))

    def release(self, reservation_id: str) -> Reservation:
        return self._client.call(ops.release(reservation_id))

    def guard(self, **hold_options: Any) -> BudgetGuard:
        """``with client.budgets.guard(project=..., model=..., prompt=...) as g:`` holds before
        the block; call ``g.settle(input_tokens=..., output_tokens=...)`` with the provider's
        usage; leaving the block without settling releases the hold."""
        return BudgetGuard(self, self.hold(**hold_options))


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

    async def hold(
        self,
        *,
        project: str,
        model: str,
        prompt: str | None = None,
        prompt_tokens: int | None = None,
        max_tokens: int | None = None,
        provider: str | None = None,
        agent: str | None = None,
        user: str | None = None,
        session: str | None = None,
        trace: str | None = None,
    ) -> Reservation:
        """Hold a call's worst case on every budget that applies; raises
        :class:`corral.RateLimited` (code ``budget_exceeded``) when a limit would be crossed."""
        body = {
            "project": project,
            "model": model,
            **body_of(
                prompt=prompt,
                prompt_tokens=prompt_tokens,
                max_tokens=max_tokens,
                provider=provider,
                agent=agent,
                user=user,
                session=session,
                trace=trace,
            ),
        }
        return await self._client.call(ops.hold(body))

    async def settle(
        self,
        reservation_id: str,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        cache_read_tokens: int = 0,
        cache_write_tokens: int = 0,
        reasoning_tokens: int = 0,
    ) -> Reservation:
        usage = {
            "input_tokens": input_tokens,
            "output_tokens": output_tokens,
            "cache_read_tokens": cache_read_tokens,
            "cache_write_tokens": cache_write_tokens,
            "reasoning_tokens": reasoning_tokens,
        }
        return await self._client.call(ops.settle(reservation_id, usage))

    async def release(self, reservation_id: str) -> Reservation:
        return await self._client.call(ops.release(reservation_id))


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


class BudgetGuard:
    """A budget hold for the duration of a ``with`` block (see :meth:`Budgets.guard`)."""

    def __init__(self, budgets: Budgets, reservation: Reservation) -> None:
        self._budgets = budgets
        self.reservation = reservation
        self.settled: Reservation | None = None

    def settle(self, **usage: int) -> Reservation:
        self.settled = self._budgets.settle(self.reservation.id, **usage)
        return self.settled

    def __enter__(self) -> BudgetGuard:
        return self

    def __exit__(self, *exc: object) -> None:
        if self.settled is None:
            self.settled = self._budgets.release(self.reservation.id)


class Costs:
    """Who spent what."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def report(
        self,
        *,
        group_by: builtins.list[str] | None = None,
        projects: builtins.list[str] | None = None,
        since: date | None = None,
        until: date | None = None,
        limit: int = 200,
    ) -> CostReport:
        """Spend grouped by any of project, agent, user, model, provider, day or session."""
        return self._client.call(
            ops.cost_report(group_by or ["agent"], projects, since, until, limit)
        )


class AsyncCosts:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def report(
        self,
        *,
        group_by: builtins.list[str] | None = None,
        projects: builtins.list[str] | None = None,
        since: date | None = None,
        until: date | None = None,
        limit: int = 200,
    ) -> CostReport:
        return await self._client.call(
            ops.cost_report(group_by or ["agent"], projects, since, until, limit)
        )


class Prices:
    """Workspace price overrides and quotes."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def overrides(self) -> builtins.list[PriceOverride]:
        return self._client.call(ops.list_overrides())

    def set(
        self, model: str, *, input_per_mtok: float, output_per_mtok: float, **options: Any
    ) -> PriceOverride:
        body = {
            "model": model,
            "input_per_mtok": input_per_mtok,
            "output_per_mtok": output_per_mtok,
            **{
                k: (v.isoformat() if hasattr(v, "isoformat") else v)
                for k, v in options.items()
                if v is not None
            },
        }
        return self._client.call(ops.create_override(body))

    def remove(self, override_id: int) -> None:
        self._client.call(ops.delete_override(override_id))

    def quote(
        self,
        model: str,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        provider: str | None = None,
    ) -> PriceQuote:
        return self._client.call(ops.quote(model, input_tokens, output_tokens, provider))


class AsyncPrices:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def overrides(self) -> builtins.list[PriceOverride]:
        return await self._client.call(ops.list_overrides())

    async def set(
        self, model: str, *, input_per_mtok: float, output_per_mtok: float, **options: Any
    ) -> PriceOverride:
        body = {
            "model": model,
            "input_per_mtok": input_per_mtok,
            "output_per_mtok": output_per_mtok,
            **{
                k: (v.isoformat() if hasattr(v, "isoformat") else v)
                for k, v in options.items()
                if v is not None
            },
        }
        return await self._client.call(ops.create_override(body))

    async def remove(self, override_id: int) -> None:
        await self._client.call(ops.delete_override(override_id))

    async def quote(
        self,
        model: str,
        *,
        input_tokens: int = 0,
        output_tokens: int = 0,
        provider: str | None = None,
    ) -> PriceQuote:
        return await self._client.call(ops.quote(model, input_tokens, output_tokens, provider))
