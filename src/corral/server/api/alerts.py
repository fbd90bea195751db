from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response

from corral.core import alerts
from corral.schemas.alerts import (
    Alert,
    AlertAction,
    AlertRule,
    AlertRuleCreate,
    AlertRuleCreated,
    AlertRuleUpdate,
    WebhookDelivery,
)
from corral.server.deps import Actor, RuntimeDep

router = APIRouter(tags=["alerts"])


@router.get("/alerts", summary="Incidents you can see, newest first")
def list_alerts(
    rt: RuntimeDep, actor: Actor, status: Literal["open", "acknowledged", "resolved"] | None = None
) -> list[Alert]:
    return alerts.list_alerts(rt, actor, status=status)


@router.post("/alerts/{alert_id}", summary="Acknowledge or resolve an incident")
def set_status(rt: RuntimeDep, actor: Actor, alert_id: int, body: AlertAction) -> Alert:
    return alerts.set_alert_status(rt, actor, alert_id, body.status)


@router.get("/alert-rules", summary="Alert rules you can see")
def list_rules(rt: RuntimeDep, actor: Actor) -> list[AlertRule]:
    return alerts.list_rules(rt, actor)


@router.post(
    "/alert-rules",
    status_code=201,
    summary="Create an alert rule; its webhook signing secret is in this answer only",
)
def create_rule(rt: RuntimeDep, actor: Actor, body: AlertRuleCreate) -> AlertRuleCreated:
    return alerts.create_rule(rt, actor, body)


@router.patch("/alert-rules/{rule_id}", summary="Enable, disable or re-point an alert rule")
def update_rule(rt: RuntimeDep, actor: Actor, rule_id: int, body: AlertRuleUpdate) -> AlertRule:
    return alerts.update_rule(rt, actor, rule_id, body)


@router.delete("/alert-rules/{rule_id}", status_code=204, summary="Delete an alert rule")
def delete_rule(rt: RuntimeDep, actor: Actor, rule_id: int) -> Response:
    alerts.delete_rule(rt, actor, rule_id)
    return Response(status_code=204)


@router.get("/webhook-deliveries", summary="Webhook deliveries, newest first (workspace admins)")
def list_deliveries(rt: RuntimeDep, actor: Actor) -> list[WebhookDelivery]:
    return alerts.list_deliveries(rt, actor)
