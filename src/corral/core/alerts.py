"""Alerts: incidents, the rules that route them, and webhook delivery from a durable outbox.

Anything that deserves a person's attention — a finding, a budget threshold, an aborted canary, a
metric over its threshold — calls :func:`raise_alert` inside its own transaction. The incident is
upserted by ``(kind, key)`` (one incident, however often it is raised), and every matching rule
with a webhook gets a delivery row in the same transaction: if the action commits, the delivery
exists. A background job sends deliveries, signed with HMAC-SHA256, retrying with exponential
backoff. A rule notifies once per incident and again only after its re-notify interval.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import time
from datetime import datetime, timedelta
from typing import Any

import httpx2
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from corral.core.access import Principal, authorize, resolve_project
from corral.core.audit import record_audit
from corral.core.providers import decrypt_key, encrypt_key
from corral.core.runtime import Runtime
from corral.db.schema import (
    AlertNotificationRow,
    AlertRow,
    AlertRuleRow,
    ProjectRow,
    WebhookDeliveryRow,
)
from corral.db.upsert import insert_ignoring_conflicts
from corral.errors import NotFound
from corral.schemas.access import Permission
from corral.schemas.alerts import (
    Alert,
    AlertMatch,
    AlertRule,
    AlertRuleCreate,
    AlertRuleCreated,
    AlertRuleUpdate,
    MetricCondition,
    WebhookDelivery,
)

SEVERITY_ORDER = {"info": 0, "warning": 1, "critical": 2}
MAX_ATTEMPTS = 12
DELIVERY_TIMEOUT_SECONDS = 10.0


def raise_alert(
    uow: Session,
    *,
    kind: str,
    severity: str,
    key: str,
    title: str,
    body: str = "",
    details: dict[str, Any] | None = None,
    project_id: int | None = None,
    now: datetime,
) -> AlertRow:
    """Open (or update) the incident ``(kind, key)`` and queue its notifications."""
    insert_ignoring_conflicts(
        uow,
        AlertRow.__table__,  # type: ignore[arg-type]
        [
            {
                "kind": kind,
                "key": key,
                "severity": severity,
                "status": "open",
                "title": title[:500],
                "body": body,
                "project_id": project_id,
                "details": details or {},
                "count": 0,
                "first_at": now,
                "last_at": now,
            }
        ],
    )
    alert = uow.scalars(
        select(AlertRow)
        .where(AlertRow.kind == kind, AlertRow.key == key)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).one()
    alert.count += 1
    alert.last_at = now
    alert.title, alert.body, alert.details = title[:500], body, details or alert.details
    if SEVERITY_ORDER.get(severity, 0) > SEVERITY_ORDER.get(alert.severity, 0):
        alert.severity = severity
    if alert.status == "resolved":
        alert.status, alert.resolved_at = "open", None
    uow.flush()
    _route(uow, alert, now)
    return alert


def resolve_alert(uow: Session, kind: str, key: str, now: datetime) -> None:
    alert = uow.scalars(
        select(AlertRow).where(AlertRow.kind == kind, AlertRow.key == key)
    ).one_or_none()
    if alert is not None and alert.status != "resolved":
        alert.status, alert.resolved_at = "resolved", now


def _matches(rule: AlertRuleRow, alert: AlertRow) -> bool:
    if alert.kind not in rule.kinds:
        return False
    if rule.project_id is not None and rule.project_id != alert.project_id:
        return False
    if alert.kind == "metric":
        return alert.key == f"rule:{rule.id}"
    match = AlertMatch.model_validate(rule.match)
    if SEVERITY_ORDER.get(alert.severity, 0) < SEVERITY_ORDER[match.min_severity]:
        return False
    if match.types is not None and alert.details.get("type") not in match.types:
        return False
    return match.agents is None or alert.details.get("agent") in match.agents


def _route(uow: Session, alert: AlertRow, now: datetime) -> None:
    rules = uow.scalars(
        select(AlertRuleRow).where(
            AlertRuleRow.enabled.is_(True),
            AlertRuleRow.webhook_url.is_not(None),
            or_(AlertRuleRow.project_id.is_(None), AlertRuleRow.project_id == alert.project_id),
        )
    ).all()
    for rule in rules:
        if not _matches(rule, alert):
            continue
        notified = uow.get(AlertNotificationRow, (rule.id, alert.id))
        if notified is not None and now - notified.last_notified_at < timedelta(
            minutes=rule.renotify_minutes
        ):
            continue
        if notified is None:
            uow.add(AlertNotificationRow(rule_id=rule.id, alert_id=alert.id, last_notified_at=now))
        else:
            notified.last_notified_at = now
        uow.add(
            WebhookDeliveryRow(
                rule_id=rule.id,
                alert_id=alert.id,
                payload=_payload(alert, rule),
                status="pending",
                attempts=0,
                next_attempt_at=now,
                created_at=now,
            )
        )


def _payload(alert: AlertRow, rule: AlertRuleRow) -> dict[str, Any]:
    return {
        "rule": {"id": rule.id, "name": rule.name},
        "alert": {
            "id": alert.id,
            "kind": alert.kind,
            "key": alert.key,
            "severity": alert.severity,
            "status": alert.status,
            "title": alert.title,
            "body": alert.body,
            "details": alert.details,
            "count": alert.count,
            "first_at": alert.first_at.isoformat(),
            "last_at": alert.last_at.isoformat(),
        },
    }


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``X-Corral-Signature``: HMAC-SHA256 over ``<timestamp>.<body>`` with the rule's secret."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(5 * 2 ** (attempts - 1), 3600))


def deliver_webhooks(rt: Runtime, *, batch: int = 50, client: httpx2.Client | None = None) -> int:
    """Background job: send due deliveries; returns how many were sent successfully.

    The rows are claimed in one transaction and updated in another, so a slow receiver never
    holds a database lock; a delivery interrupted by a crash is sent again (receivers use the
    ``X-Corral-Delivery`` id to ignore duplicates).
    """
    now = rt.clock.now()
    with rt.db.read() as uow:
        due = uow.execute(
            select(WebhookDeliveryRow, AlertRuleRow.webhook_url, AlertRuleRow.secret_encrypted)
            .join(AlertRuleRow, AlertRuleRow.id == WebhookDeliveryRow.rule_id)
            .where(
                WebhookDeliveryRow.status == "pending", WebhookDeliveryRow.next_attempt_at <= now
            )
            .order_by(WebhookDeliveryRow.id)
            .limit(batch)
        ).all()
    if not due:
        return 0
    http = client or httpx2.Client(timeout=DELIVERY_TIMEOUT_SECONDS)
    outcomes: list[tuple[int, int | None, str | None]] = []
    try:
        for delivery, url, secret_token in due:
            assert url is not None  # only rules with a webhook get deliveries
            body = json.dumps(delivery.payload, separators=(",", ":"), default=str).encode()
            stamp = str(int(time.time()))
            headers = {
                "content-type": "application/json",
                "x-corral-delivery": str(delivery.id),
                "x-corral-timestamp": stamp,
                "user-agent": "corral-webhooks",
            }
            secret = decrypt_key(rt, secret_token)
            if secret:
                headers["x-corral-signature"] = sign(secret, stamp, body)
            try:
                response = http.post(url, content=body, headers=headers)
                error = None if response.status_code < 300 else f"HTTP {response.status_code}"
                outcomes.append((delivery.id, response.status_code, error))
            except httpx2.HTTPError as exc:
                outcomes.append((delivery.id, None, f"{type(exc).__name__}: {exc}"[:500]))
    finally:
        if client is None:
            http.close()
    sent = 0
    with rt.db.write() as uow:
        for delivery_id, status, error in outcomes:
            row = uow.get_one(WebhookDeliveryRow, delivery_id)
            row.attempts += 1
            row.response_status = status
            row.last_error = error
            if error is None:
                row.status, row.delivered_at = "delivered", rt.clock.now()
                sent += 1
            elif row.attempts >= MAX_ATTEMPTS:
                row.status = "failed"
            else:
                row.next_attempt_at = rt.clock.now() + _backoff(row.attempts)
    return sent


# --- management -----------------------------------------------------------------------------


def _describe_rule(row: AlertRuleRow, project: str | None) -> AlertRule:
    return AlertRule(
        id=row.id,
        name=row.name,
        project=project,
        kinds=row.kinds,
        match=AlertMatch.model_validate(row.match),
        metric=MetricCondition.model_validate(row.metric) if row.metric else None,
        webhook_url=row.webhook_url,
        renotify_minutes=row.renotify_minutes,
        enabled=row.enabled,
        created_by=row.created_by,
        created_at=row.created_at,
    )


def describe_alert(row: AlertRow, project: str | None) -> Alert:
    return Alert(
        id=row.id,
        kind=row.kind,
        key=row.key,
        severity=row.severity,
        status=row.status,
        title=row.title,
        body=row.body,
        project=project,
        details=row.details,
        count=row.count,
        first_at=row.first_at,
        last_at=row.last_at,
        resolved_at=row.resolved_at,
    )


def create_rule(rt: Runtime, actor: Principal, body: AlertRuleCreate) -> AlertRuleCreated:
    """A rule in a project needs the project's admin role; workspace-wide, a workspace admin."""
    now = rt.clock.now()
    secret = secrets.token_urlsafe(32) if body.webhook_url else None
    with rt.db.write() as uow:
        project = (
            resolve_project(uow, actor, body.project, Permission.PROJECTS_ADMIN)
            if body.project
            else None
        )
        if project is None:
            authorize(actor, Permission.WORKSPACE_ADMIN)
        row = AlertRuleRow(
            name=body.name,
            project_id=project.id if project else None,
            kinds=list(body.kinds),
            match=body.match.model_dump(mode="json"),
            metric=body.metric.model_dump(mode="json") if body.metric else None,
            webhook_url=body.webhook_url,
            secret_encrypted=encrypt_key(rt, secret) if secret else None,
            renotify_minutes=body.renotify_minutes,
            enabled=True,
            created_by=actor.name,
            created_at=now,
        )
        uow.add(row)
        uow.flush()
        record_audit(
            uow,
            actor=actor,
            action="alert_rule.create",
            target_kind="alert_rule",
            target_id=row.id,
            project=project,
            details={"name": row.name, "kinds": row.kinds, "webhook": row.webhook_url},
            now=now,
        )
        described = _describe_rule(row, project.name if project else None)
    return AlertRuleCreated(**described.model_dump(), signing_secret=secret)


def _rule_row(uow: Session, actor: Principal, rule_id: int) -> AlertRuleRow:
    row = uow.get(AlertRuleRow, rule_id)
    if row is None or not (row.project_id is None or actor.role_in(row.project_id) is not None):
        raise NotFound(f"alert rule {rule_id} does not exist.", code="alert_rule_not_found")
    return row


def _authorize_rule(uow: Session, actor: Principal, row: AlertRuleRow) -> ProjectRow | None:
    if row.project_id is None:
        authorize(actor, Permission.WORKSPACE_ADMIN)
        return None
    project = uow.get_one(ProjectRow, row.project_id)
    authorize(actor, Permission.PROJECTS_ADMIN, project)
    return project


def update_rule(rt: Runtime, actor: Principal, rule_id: int, body: AlertRuleUpdate) -> AlertRule:
    with rt.db.write() as uow:
        row = _rule_row(uow, actor, rule_id)
        project = _authorize_rule(uow, actor, row)
        changes = body.model_dump(exclude_unset=True)
        for field, value in changes.items():
            setattr(row, field, value)
        record_audit(
            uow,
            actor=actor,
            action="alert_rule.update",
            target_kind="alert_rule",
            target_id=row.id,
            project=project,
            details=changes,
            now=rt.clock.now(),
        )
        return _describe_rule(row, project.name if project else None)


def delete_rule(rt: Runtime, actor: Principal, rule_id: int) -> None:
    with rt.db.write() as uow:
        row = _rule_row(uow, actor, rule_id)
        project = _authorize_rule(uow, actor, row)
        record_audit(
            uow,
            actor=actor,
            action="alert_rule.delete",
            target_kind="alert_rule",
            target_id=row.id,
            project=project,
            now=rt.clock.now(),
        )
        uow.delete(row)


def list_rules(rt: Runtime, actor: Principal) -> list[AlertRule]:
    with rt.db.read() as uow:
        rows = uow.execute(
            select(AlertRuleRow, ProjectRow.name)
            .outerjoin(ProjectRow, ProjectRow.id == AlertRuleRow.project_id)
            .order_by(AlertRuleRow.id)
        ).all()
    return [
        _describe_rule(r, name)
        for r, name in rows
        if (r.project_id is None and actor.may(Permission.WORKSPACE_ADMIN))
        or (r.project_id is not None and actor.role_in(r.project_id) is not None)
    ]


def _visible(actor: Principal, project_id: int | None) -> bool:
    if project_id is None:
        return actor.may(Permission.WORKSPACE_ADMIN)
    return actor.role_in(project_id) is not None


def list_alerts(
    rt: Runtime, actor: Principal, *, status: str | None = None, limit: int = 100
) -> list[Alert]:
    """Incidents the caller may see: those of reachable projects; workspace-wide ones for
    workspace admins. Open ones first, then newest."""
    query = (
        select(AlertRow, ProjectRow.name)
        .outerjoin(ProjectRow, ProjectRow.id == AlertRow.project_id)
        .order_by(AlertRow.last_at.desc())
    )
    if status:
        query = query.where(AlertRow.status == status)
    scope = actor.project_scope()
    if scope is not None:
        query = query.where(AlertRow.project_id.in_(scope))
    with rt.db.read() as uow:
        rows = uow.execute(query.limit(limit)).all()
    return [describe_alert(r, name) for r, name in rows if _visible(actor, r.project_id)]


def set_alert_status(rt: Runtime, actor: Principal, alert_id: int, status: str) -> Alert:
    """Acknowledge or resolve an incident (members of its project; admins for workspace ones)."""
    with rt.db.write() as uow:
        row = uow.get(AlertRow, alert_id)
        if row is None or not _visible(actor, row.project_id):
            raise NotFound(f"alert {alert_id} does not exist.", code="alert_not_found")
        project = uow.get(ProjectRow, row.project_id) if row.project_id else None
        if project is not None:
            authorize(actor, Permission.TRACES_WRITE, project)
        row.status = status
        row.resolved_at = rt.clock.now() if status == "resolved" else None
        record_audit(
            uow,
            actor=actor,
            action=f"alert.{status[:-1] if status.endswith('ed') else status}",
            target_kind="alert",
            target_id=row.id,
            project=project,
            now=rt.clock.now(),
        )
        return describe_alert(row, project.name if project else None)


def list_deliveries(rt: Runtime, actor: Principal, *, limit: int = 100) -> list[WebhookDelivery]:
    authorize(actor, Permission.WORKSPACE_ADMIN)
    with rt.db.read() as uow:
        rows = uow.scalars(
            select(WebhookDeliveryRow).order_by(WebhookDeliveryRow.id.desc()).limit(limit)
        ).all()
    return [
        WebhookDelivery(
            id=r.id,
            rule_id=r.rule_id,
            alert_id=r.alert_id,
            status=r.status,
            attempts=r.attempts,
            next_attempt_at=r.next_attempt_at,
            last_error=r.last_error,
            response_status=r.response_status,
            created_at=r.created_at,
            delivered_at=r.delivered_at,
        )
        for r in rows
    ]
