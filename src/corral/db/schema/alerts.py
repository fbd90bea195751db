"""Alerts: incidents raised by findings, budgets, rollouts and metric rules; rules that route them
to webhooks; a durable outbox of deliveries."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from corral.db.schema.base import Base
from corral.db.types import BigIntPK, JsonValue, UtcDateTime


class AlertRow(Base):
    """One incident. Raising the same ``(kind, key)`` again updates it instead of adding one."""

    __tablename__ = "alerts"
    __table_args__ = (UniqueConstraint("kind", "key"), Index(None, "last_at"))

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    key: Mapped[str] = mapped_column(String(200))
    severity: Mapped[str] = mapped_column(String(12))
    status: Mapped[str] = mapped_column(String(12))
    title: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text, default="")
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    details: Mapped[dict[str, Any]] = mapped_column(JsonValue)
    count: Mapped[int] = mapped_column(Integer, default=1)
    first_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_at: Mapped[datetime] = mapped_column(UtcDateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(UtcDateTime)


class AlertRuleRow(Base):
    """Where alerts go: incidents matching ``kinds``/``match`` are posted to a webhook, signed
    with HMAC-SHA256. Metric rules also raise incidents of their own."""

    __tablename__ = "alert_rules"

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    project_id: Mapped[int | None] = mapped_column(
        ForeignKey("projects.id", ondelete="CASCADE"), index=True
    )
    kinds: Mapped[list[str]] = mapped_column(JsonValue)
    match: Mapped[dict[str, Any]] = mapped_column(JsonValue)
    metric: Mapped[dict[str, Any] | None] = mapped_column(JsonValue)
    webhook_url: Mapped[str | None] = mapped_column(String(2000))
    secret_encrypted: Mapped[str | None] = mapped_column(Text)
    renotify_minutes: Mapped[int] = mapped_column(Integer, default=60)
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    created_by: Mapped[str] = mapped_column(String(320))
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)


class AlertNotificationRow(Base):
    """When a rule last notified about an incident (one notification per incident, then one per
    re-notify interval while it stays open)."""

    __tablename__ = "alert_notifications"

    rule_id: Mapped[int] = mapped_column(
        ForeignKey("alert_rules.id", ondelete="CASCADE"), primary_key=True
    )
    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    last_notified_at: Mapped[datetime] = mapped_column(UtcDateTime)


class WebhookDeliveryRow(Base):
    """One webhook call to make: written in the transaction that raised the alert, sent and
    retried with backoff by a background job, so no alert is lost across restarts."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (Index(None, "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(BigIntPK, primary_key=True)
    rule_id: Mapped[int] = mapped_column(ForeignKey("alert_rules.id", ondelete="CASCADE"))
    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"))
    payload: Mapped[dict[str, Any]] = mapped_column(JsonValue)
    status: Mapped[str] = mapped_column(String(12))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UtcDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    response_status: Mapped[int | None] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(UtcDateTime)
    delivered_at: Mapped[datetime | None] = mapped_column(UtcDateTime)
