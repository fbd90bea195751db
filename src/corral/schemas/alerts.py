"""Alerts, alert rules and webhook deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from corral.schemas.common import Model, ResponseModel

AlertKind = Literal["finding", "budget_threshold", "rollout_aborted", "metric"]
Severity = Literal["info", "warning", "critical"]
ALL_KINDS: tuple[AlertKind, ...] = ("finding", "budget_threshold", "rollout_aborted", "metric")
MetricName = Literal["cost_usd", "error_rate", "latency_p95_ms", "finding_rate"]


class Alert(ResponseModel):
    id: int
    kind: AlertKind
    key: str
    severity: Severity
    status: Literal["open", "acknowledged", "resolved"]
    title: str
    body: str
    project: str | None
    details: dict[str, Any]
    count: int = Field(description="How many times the incident was raised.")
    first_at: datetime
    last_at: datetime
    resolved_at: datetime | None


def _all_kinds() -> list[AlertKind]:
    return list(ALL_KINDS)


class AlertMatch(Model):
    """Which incidents a rule routes (every listed condition must hold)."""

    types: list[str] | None = Field(default=None, description="Finding types.")
    min_severity: Severity = "info"
    agents: list[str] | None = None


class MetricCondition(Model):
    """Raise an incident while a metric over the last ``window_minutes`` is above a threshold."""

    name: MetricName
    threshold: float = Field(ge=0)
    window_minutes: int = Field(default=15, ge=1, le=7 * 24 * 60)
    agent: str | None = None


class AlertRuleCreate(Model):
    name: str = Field(min_length=1, max_length=200)
    project: str | None = Field(default=None, description="Only incidents of this project.")
    kinds: list[AlertKind] = Field(default_factory=_all_kinds)
    match: AlertMatch = Field(default_factory=AlertMatch)
    metric: MetricCondition | None = None
    webhook_url: str | None = Field(default=None, pattern=r"^https?://", max_length=2000)
    renotify_minutes: int = Field(default=60, ge=1, le=7 * 24 * 60)

    @model_validator(mode="after")
    def _metric_kind(self) -> AlertRuleCreate:
        if self.metric is not None and "metric" not in self.kinds:
            self.kinds = [*self.kinds, "metric"]
        return self


class AlertRuleUpdate(Model):
    enabled: bool | None = None
    webhook_url: str | None = Field(default=None, pattern=r"^https?://", max_length=2000)
    renotify_minutes: int | None = Field(default=None, ge=1, le=7 * 24 * 60)


class AlertRule(ResponseModel):
    id: int
    name: str
    project: str | None
    kinds: list[AlertKind]
    match: AlertMatch
    metric: MetricCondition | None
    webhook_url: str | None
    renotify_minutes: int
    enabled: bool
    created_by: str
    created_at: datetime


class AlertRuleCreated(AlertRule):
    signing_secret: str | None = Field(
        description="HMAC-SHA256 key for X-Corral-Signature; shown only in this response."
    )


class WebhookDelivery(ResponseModel):
    id: int
    rule_id: int
    alert_id: int
    status: Literal["pending", "delivered", "failed"]
    attempts: int
    next_attempt_at: datetime
    last_error: str | None
    response_status: int | None
    created_at: datetime
    delivered_at: datetime | None


class AlertAction(Model):
    status: Literal["acknowledged", "resolved"]
