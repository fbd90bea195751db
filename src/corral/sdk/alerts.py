"""SDK resources for alerts, alert rules and webhook deliveries."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from corral.schemas.alerts import Alert, AlertRule, AlertRuleCreated, WebhookDelivery
from corral.sdk._calls import Call, body_of, no_content, parser, segment

if TYPE_CHECKING:
    from corral.sdk.client import AsyncClient, Client


def _list(status: str | None) -> Call[builtins.list[Alert]]:
    return Call("GET", "/v1/alerts", parser(builtins.list[Alert]), params=body_of(status=status))


def _set(alert_id: int, status: str) -> Call[Alert]:
    return Call("POST", f"/v1/alerts/{segment(alert_id)}", parser(Alert), json={"status": status})


def _rules() -> Call[builtins.list[AlertRule]]:
    return Call("GET", "/v1/alert-rules", parser(builtins.list[AlertRule]))


def _create_rule(body: dict[str, Any]) -> Call[AlertRuleCreated]:
    return Call("POST", "/v1/alert-rules", parser(AlertRuleCreated), json=body)


def _update_rule(rule_id: int, body: dict[str, Any]) -> Call[AlertRule]:
    return Call("PATCH", f"/v1/alert-rules/{segment(rule_id)}", parser(AlertRule), json=body)


def _delete_rule(rule_id: int) -> Call[None]:
    return Call("DELETE", f"/v1/alert-rules/{segment(rule_id)}", no_content)


def _deliveries() -> Call[builtins.list[WebhookDelivery]]:
    return Call("GET", "/v1/webhook-deliveries", parser(builtins.list[WebhookDelivery]))


def _rule_body(name: str, options: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, **body_of(**options)}


class Alerts:
    """Incidents (findings, budget thresholds, aborted canaries, metrics) and their rules."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def list(self, *, status: str | None = None) -> builtins.list[Alert]:
        return self._client.call(_list(status))

    def acknowledge(self, alert_id: int) -> Alert:
        return self._client.call(_set(alert_id, "acknowledged"))

    def resolve(self, alert_id: int) -> Alert:
        return self._client.call(_set(alert_id, "resolved"))

    def rules(self) -> builtins.list[AlertRule]:
        return self._client.call(_rules())

    def create_rule(
        self,
        name: str,
        *,
        project: str | None = None,
        kinds: builtins.list[str] | None = None,
        match: dict[str, Any] | None = None,
        metric: dict[str, Any] | None = None,
        webhook_url: str | None = None,
        renotify_minutes: int | None = None,
    ) -> AlertRuleCreated:
        """A rule; with a webhook, the answer carries its signing secret (shown only once)."""
        options = {
            "project": project,
            "kinds": kinds,
            "match": match,
            "metric": metric,
            "webhook_url": webhook_url,
            "renotify_minutes": renotify_minutes,
        }
        return self._client.call(_create_rule(_rule_body(name, options)))

    def update_rule(self, rule_id: int, **changes: Any) -> AlertRule:
        return self._client.call(_update_rule(rule_id, changes))

    def delete_rule(self, rule_id: int) -> None:
        self._client.call(_delete_rule(rule_id))

    def deliveries(self) -> builtins.list[WebhookDelivery]:
        return self._client.call(_deliveries())


class AsyncAlerts:
    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def list(self, *, status: str | None = None) -> builtins.list[Alert]:
        return await self._client.call(_list(status))

    async def acknowledge(self, alert_id: int) -> Alert:
        return await self._client.call(_set(alert_id, "acknowledged"))

    async def resolve(self, alert_id: int) -> Alert:
        return await self._client.call(_set(alert_id, "resolved"))

    async def rules(self) -> builtins.list[AlertRule]:
        return await self._client.call(_rules())

    async def create_rule(
        self,
        name: str,
        *,
        project: str | None = None,
        kinds: builtins.list[str] | None = None,
        match: dict[str, Any] | None = None,
        metric: dict[str, Any] | None = None,
        webhook_url: str | None = None,
        renotify_minutes: int | None = None,
    ) -> AlertRuleCreated:
        options = {
            "project": project,
            "kinds": kinds,
            "match": match,
            "metric": metric,
            "webhook_url": webhook_url,
            "renotify_minutes": renotify_minutes,
        }
        return await self._client.call(_create_rule(_rule_body(name, options)))

    async def update_rule(self, rule_id: int, **changes: Any) -> AlertRule:
        return await self._client.call(_update_rule(rule_id, changes))

    async def delete_rule(self, rule_id: int) -> None:
        await self._client.call(_delete_rule(rule_id))

    async def deliveries(self) -> builtins.list[WebhookDelivery]:
        return await self._client.call(_deliveries())
