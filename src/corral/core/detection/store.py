"""Storing what a detection pass found: one row per (project, session, finding key), updated as
the session grows; an alert for each new finding (and each one that turns more severe); a halt
when a critical finding is of a type the project halts on.

Most passes find nothing new: :func:`plan_changes` compares with what is stored in a read
transaction, and only when something differs does :func:`store_findings` open a write one (where
it compares again, under the rows' locks, since another replica may have stored them meanwhile).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from corral.core.alerts import SEVERITY_ORDER, raise_alert
from corral.core.detection.breaker import halt_session
from corral.core.detection.model import Finding
from corral.core.detection.spans import TRACE_SCOPE, SessionSpans
from corral.db.schema import FindingRow, ProjectRow, SessionHaltRow
from corral.db.upsert import insert_ignoring_conflicts
from corral.schemas.detection import DetectorSettings

_COMPARED = (
    "type",
    "severity",
    "agent_name",
    "trace_id",
    "step",
    "step_span_id",
    "explanation",
    "span_ids",
    "wasted_tokens",
    "wasted_cost_usd",
    "details",
)


@dataclass
class StoredFinding:
    """A finding this pass inserted or changed."""

    id: int
    type: str
    severity: str
    new: bool
    escalated: bool
    halted: bool = False


def finding_values(finding: Finding, spans: SessionSpans) -> dict[str, Any]:
    """The columns a finding fills (everything but identity, status and times)."""
    by_step, by_id = spans.by_step, spans.by_id
    at_step = by_step.get(finding.step) if finding.step is not None else None
    anchor = at_step or next((by_id[i] for i in finding.span_ids if i in by_id), None)
    return {
        "type": finding.type,
        "severity": finding.severity,
        "agent_name": finding.agent,
        "session_id": spans.session_id,
        "trace_id": anchor.trace_id if anchor is not None else spans.trace_id,
        "step": finding.step,
        "step_span_id": at_step.span_id if at_step is not None else None,
        "explanation": finding.explanation,
        "span_ids": list(finding.span_ids),
        "wasted_tokens": int(finding.wasted_tokens),
        "wasted_cost_usd": round(float(finding.wasted_cost_usd), 12),
        # As the database will give it back (tuples become lists), so comparisons hold.
        "details": json.loads(json.dumps(finding.details, default=str)),
    }


def _stored_values(row: FindingRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in _COMPARED}


def _differs(row: FindingRow, values: dict[str, Any]) -> bool:
    stored = _stored_values(row)
    wanted = {**{k: values[k] for k in _COMPARED}, "severity": _max_severity(row, values)}
    return stored != wanted


def _max_severity(row: FindingRow, values: dict[str, Any]) -> str:
    # A finding never becomes less severe: a shorter window may count fewer repeats.
    old, new = row.severity, values["severity"]
    return new if SEVERITY_ORDER.get(new, 0) > SEVERITY_ORDER.get(old, 0) else old


def existing_findings(
    uow: Session, project_id: int, scopes: Sequence[str], *, lock: bool = False
) -> dict[str, dict[str, FindingRow]]:
    """The stored findings of some scopes of a project: scope -> key -> row. With ``lock``
    (in a write unit of work), the rows are locked, in id order, until it commits."""
    found: dict[str, dict[str, FindingRow]] = {scope: {} for scope in scopes}
    for start in range(0, len(scopes), 200):
        query = select(FindingRow).where(
            FindingRow.project_id == project_id,
            FindingRow.scope.in_(scopes[start : start + 200]),
        )
        if lock:
            query = query.order_by(FindingRow.id).with_for_update()
        for row in uow.scalars(query):
            found[row.scope][row.key] = row
    return found


def plan_changes(
    stored: dict[str, FindingRow], findings: Sequence[Finding], spans: SessionSpans
) -> list[tuple[Finding, dict[str, Any]]]:
    """The findings that are new or differ from what is stored, with their column values."""
    changes = []
    for finding in findings:
        values = finding_values(finding, spans)
        row = stored.get(finding.key)
        if row is None or _differs(row, values):
            changes.append((finding, values))
    return changes


def store_findings(
    uow: Session,
    project: ProjectRow,
    spans: SessionSpans,
    changes: Sequence[tuple[Finding, dict[str, Any]]],
    settings: DetectorSettings,
    now: datetime,
    locked: dict[str, FindingRow] | None = None,
) -> list[StoredFinding]:
    """Insert or update the planned findings, raise their alerts and halt their session if the
    project says so. Runs in the caller's write unit of work; ``locked`` are the scope's stored
    findings the caller has already read and locked in it (see :func:`existing_findings`)."""
    stored: list[StoredFinding] = []
    for finding, values in changes:
        key = finding.key[:300]
        row = locked.get(key) if locked is not None else None
        inserted = 0
        if row is None:
            inserted = insert_ignoring_conflicts(
                uow,
                FindingRow.__table__,  # type: ignore[arg-type]
                [
                    {
                        "project_id": project.id,
                        "scope": spans.scope,
                        "key": key,
                        "status": "open",
                        "first_detected_at": now,
                        "updated_at": now,
                        **values,
                    }
                ],
            )
            row = uow.scalars(
                select(FindingRow)
                .where(
                    FindingRow.project_id == project.id,
                    FindingRow.scope == spans.scope,
                    FindingRow.key == key,
                )
                .with_for_update()
                .execution_options(populate_existing=True)
            ).one()
        escalated = False
        if not inserted:
            if not _differs(row, values):
                continue  # another replica stored the same thing meanwhile
            severity = _max_severity(row, values)
            escalated = severity != row.severity
            for name, value in values.items():
                setattr(row, name, value)
            row.severity, row.updated_at = severity, now
            if escalated and row.status != "open":
                # More severe is news: it needs a person's eyes again.
                row.status = "open"
                row.acknowledged_by = row.acknowledged_at = None
                row.resolved_by = row.resolved_at = None
        result = StoredFinding(
            row.id, row.type, row.severity, new=bool(inserted), escalated=escalated
        )
        if result.new or result.escalated:
            _alert(uow, row, project, now)
            if (
                row.severity == "critical"
                and row.type in settings.halt_on
                and spans.session_id is not None
            ):
                result.halted = halt_session(uow, project, spans.session_id, row, now)
        stored.append(result)
    return stored


def _alert(uow: Session, row: FindingRow, project: ProjectRow, now: datetime) -> None:
    where = f"session {row.session_id}" if row.session_id else f"trace {row.trace_id}"
    raise_alert(
        uow,
        kind="finding",
        severity=row.severity,
        key=f"finding:{row.id}",
        title=f"{row.type.replace('_', ' ')} by {row.agent_name or 'an agent'} in {where}",
        body=row.explanation,
        details={
            "finding_id": row.id,
            "type": row.type,
            "agent": row.agent_name,
            "session": row.session_id,
            "trace": row.trace_id,
            "step": row.step,
            "wasted_tokens": row.wasted_tokens,
            "wasted_cost_usd": row.wasted_cost_usd,
        },
        project_id=project.id,
        now=now,
    )


def forget_findings(
    uow: Session,
    project_id: int,
    *,
    session_ids: Sequence[str] = (),
    trace_ids: Sequence[str] = (),
) -> int:
    """Delete the findings (and halts) of purged sessions and sessionless traces: they quote
    the spans' arguments and results, so they leave with them. Returns findings deleted."""
    scopes = [*session_ids, *(TRACE_SCOPE + t for t in trace_ids)]
    deleted = 0
    for start in range(0, len(scopes), 500):
        chunk = scopes[start : start + 500]
        result = uow.execute(
            delete(FindingRow).where(
                FindingRow.project_id == project_id, FindingRow.scope.in_(chunk)
            )
        )
        deleted += int(getattr(result, "rowcount", 0) or 0)
    for start in range(0, len(session_ids), 500):
        uow.execute(
            delete(SessionHaltRow).where(
                SessionHaltRow.project_id == project_id,
                SessionHaltRow.session_id.in_(session_ids[start : start + 500]),
            )
        )
    return deleted
