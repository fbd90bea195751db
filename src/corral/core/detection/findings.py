"""Reading findings and acting on them: lists with filters, a finding with its evidence spans,
acknowledge / resolve / reopen (audited, and mirrored on the finding's alert)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from corral.core.access import Principal, resolve_project
from corral.core.alerts import resolve_alert
from corral.core.audit import record_audit
from corral.core.pagination import decode_cursor, encode_cursor
from corral.core.runtime import Runtime
from corral.core.traces import SUMMARY_COLUMNS
from corral.db.schema import AlertRow, FindingRow, ProjectRow, SpanRow
from corral.errors import InvalidRequest, NotFound
from corral.schemas.access import Permission
from corral.schemas.common import Page
from corral.schemas.detection import (
    EvidenceSpan,
    Finding,
    FindingAction,
    FindingDetail,
    FindingStatus,
    FindingType,
    Severity,
)

_EVIDENCE_COLUMNS = (*SUMMARY_COLUMNS, SpanRow.tool_result, SpanRow.output_text)
_EVIDENCE_NAMES = tuple(column.key for column in _EVIDENCE_COLUMNS)
_VERBS = {"acknowledged": "acknowledge", "resolved": "resolve", "open": "reopen"}


def describe_finding(row: FindingRow, project: str) -> Finding:
    return Finding(
        id=row.id,
        project=project,
        type=row.type,
        severity=row.severity,
        status=row.status,
        agent=row.agent_name,
        session_id=row.session_id,
        trace_id=row.trace_id,
        step=row.step,
        step_span_id=row.step_span_id,
        explanation=row.explanation,
        span_ids=row.span_ids,
        wasted_tokens=row.wasted_tokens,
        wasted_cost_usd=row.wasted_cost_usd,
        details=row.details,
        first_detected_at=row.first_detected_at,
        updated_at=row.updated_at,
        acknowledged_by=row.acknowledged_by,
        acknowledged_at=row.acknowledged_at,
        resolved_by=row.resolved_by,
        resolved_at=row.resolved_at,
    )


def list_findings(
    rt: Runtime,
    actor: Principal,
    project: str,
    *,
    type: FindingType | None = None,
    severity: Severity | None = None,
    agent: str | None = None,
    session: str | None = None,
    trace: str | None = None,
    status: FindingStatus | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 50,
    cursor: str | None = None,
) -> Page[Finding]:
    """Findings of a project, newest first; ``since``/``until`` bound when they were first
    detected. ``trace`` is the trace a finding is anchored in (its step's trace)."""
    with rt.db.read() as uow:
        row = resolve_project(uow, actor, project, Permission.TRACES_READ)
        query = select(FindingRow).where(FindingRow.project_id == row.id)
        for column, value in (
            (FindingRow.type, type),
            (FindingRow.severity, severity),
            (FindingRow.agent_name, agent),
            (FindingRow.session_id, session),
            (FindingRow.trace_id, trace),
            (FindingRow.status, status),
        ):
            if value is not None:
                query = query.where(column == value)
        if since is not None:
            query = query.where(FindingRow.first_detected_at >= since)
        if until is not None:
            query = query.where(FindingRow.first_detected_at < until)
        if cursor:
            moment, last_id = decode_cursor(cursor, 2)
            at = _cursor_time(moment)
            query = query.where(
                or_(
                    FindingRow.first_detected_at < at,
                    and_(FindingRow.first_detected_at == at, FindingRow.id < int(last_id)),
                )
            )
        query = query.order_by(FindingRow.first_detected_at.desc(), FindingRow.id.desc())
        rows = uow.scalars(query.limit(limit + 1)).all()
    page = [describe_finding(r, row.name) for r in rows[:limit]]
    next_cursor = None
    if len(rows) > limit:
        last = rows[limit - 1]
        next_cursor = encode_cursor(last.first_detected_at.isoformat(), last.id)
    return Page[Finding](data=page, next_cursor=next_cursor)


def _finding_row(uow: Session, project: ProjectRow, finding_id: int) -> FindingRow:
    row = uow.get(FindingRow, finding_id)
    if row is None or row.project_id != project.id:
        raise NotFound(
            f"no finding {finding_id} in project {project.name!r}.", code="finding_not_found"
        )
    return row


def get_finding(rt: Runtime, actor: Principal, project: str, finding_id: int) -> FindingDetail:
    """A finding with its evidence spans (those retention has not removed), in start order."""
    with rt.db.read() as uow:
        project_row = resolve_project(uow, actor, project, Permission.TRACES_READ)
        row = _finding_row(uow, project_row, finding_id)
        query = select(*_EVIDENCE_COLUMNS).where(
            SpanRow.project_id == project_row.id, SpanRow.span_id.in_(row.span_ids)
        )
        if row.session_id is not None:
            query = query.where(SpanRow.session_id == row.session_id)
        elif row.trace_id is not None:
            query = query.where(SpanRow.trace_id == row.trace_id)
        spans = uow.connection().execute(query).all()
        described = describe_finding(row, project_row.name)
    evidence = sorted(
        (EvidenceSpan(**dict(zip(_EVIDENCE_NAMES, s, strict=True))) for s in spans),
        key=lambda s: (s.start_time, s.span_id),
    )
    return FindingDetail(**described.model_dump(), evidence=evidence)


def set_finding_status(
    rt: Runtime, actor: Principal, project: str, finding_id: int, body: FindingAction
) -> Finding:
    """Acknowledge, resolve or reopen a finding (audited as ``finding.<verb>``). Its alert
    follows: resolved with it, acknowledged with it."""
    now = rt.clock.now()
    with rt.db.write() as uow:
        project_row = resolve_project(uow, actor, project, Permission.TRACES_WRITE)
        row = _finding_row(uow, project_row, finding_id)
        row.status = body.status
        if body.status == "acknowledged":
            row.acknowledged_by, row.acknowledged_at = actor.name, now
        elif body.status == "resolved":
            row.resolved_by, row.resolved_at = actor.name, now
        else:
            row.acknowledged_by = row.acknowledged_at = None
            row.resolved_by = row.resolved_at = None
        alert_key = f"finding:{row.id}"
        if body.status == "resolved":
            resolve_alert(uow, "finding", alert_key, now)
        elif body.status == "acknowledged":
            alert = uow.scalars(
                select(AlertRow).where(AlertRow.kind == "finding", AlertRow.key == alert_key)
            ).one_or_none()
            if alert is not None and alert.status == "open":
                alert.status = "acknowledged"
        record_audit(
            uow,
            actor=actor,
            action=f"finding.{_VERBS[body.status]}",
            target_kind="finding",
            target_id=row.id,
            project=project_row,
            details={"type": row.type, "session_id": row.session_id, "note": body.note},
            now=now,
        )
        return describe_finding(row, project_row.name)


def _cursor_time(value: object) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidRequest(
            "the cursor is not one this server issued.", code="invalid_cursor"
        ) from exc
