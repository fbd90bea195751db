"""Canary analysis: measure the canary and the stable version over a window, and judge the canary.

The arms are told apart by the stored session assignments: a session belongs to the version it
was pinned to in the rollout's environment, so the spans of an arm are the spans of its sessions,
whichever way they arrived (gateway or SDK). A metric that cannot be measured — no sessions, no
calls — is a failure, never a pass: a canary nobody used is not verified (as in Argo Rollouts).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import case, distinct, func, select
from sqlalchemy.orm import Session

from corral.core.trace_metrics import percentile
from corral.db.schema import (
    AgentRow,
    FindingRow,
    ProjectMemberRow,
    SessionAssignmentRow,
    SpanRow,
)
from corral.schemas.lifecycle import ArmMetrics, RolloutAnalysis, RolloutStep


def measure_arm(
    uow: Session,
    agent: AgentRow,
    environment: str,
    version_id: int,
    since: datetime,
    until: datetime,
) -> ArmMetrics:
    """The metrics of the sessions pinned to ``version_id`` over ``[since, until)``."""
    projects = select(ProjectMemberRow.project_id).where(ProjectMemberRow.agent_id == agent.id)
    sessions_of_arm = select(SessionAssignmentRow.session_id).where(
        SessionAssignmentRow.agent_id == agent.id,
        SessionAssignmentRow.environment == environment,
        SessionAssignmentRow.version_id == version_id,
    )
    window = (
        SpanRow.project_id.in_(projects),
        SpanRow.session_id.in_(sessions_of_arm),
        SpanRow.agent_name == agent.name,
        SpanRow.start_time >= since,
        SpanRow.start_time < until,
    )
    calls = SpanRow.span_type.in_(("llm", "tool"))
    sessions, call_count, errors, cost = uow.execute(
        select(
            func.count(distinct(SpanRow.session_id)),
            func.count(case((calls, 1))),
            func.count(case((calls & (SpanRow.status == "error"), 1))),
            func.coalesce(func.sum(SpanRow.cost_usd), 0.0),
        ).where(*window)
    ).one()
    if not sessions:
        return ArmMetrics(
            sessions=0,
            error_rate=None,
            finding_rate=None,
            cost_per_session=None,
            latency_p95_ms=None,
        )
    findings = uow.execute(
        select(func.count()).where(
            FindingRow.project_id.in_(projects),
            FindingRow.agent_name == agent.name,
            FindingRow.session_id.in_(sessions_of_arm),
            FindingRow.first_detected_at >= since,
            FindingRow.first_detected_at < until,
        )
    ).scalar_one()
    durations = list(
        uow.scalars(select(SpanRow.duration_ms).where(*window, SpanRow.span_type == "llm"))
    )
    return ArmMetrics(
        sessions=sessions,
        error_rate=errors / call_count if call_count else None,
        finding_rate=findings / sessions,
        cost_per_session=float(cost or 0.0) / sessions,
        latency_p95_ms=percentile(durations, 0.95) if durations else None,
    )


def _ratio(value: float) -> str:
    return f"{value:.4g}"


def judge_step(
    canary: ArmMetrics, stable: ArmMetrics, analysis: RolloutAnalysis, step: RolloutStep
) -> list[str]:
    """Why the canary fails this step (empty: it passes). Each metric may be worse than stable
    by its ratio (rates also by a small absolute allowance, so a stable rate of 0 does not fail
    every canary); a metric without data on either side fails."""
    failures: list[str] = []
    needed = max(analysis.min_sessions, step.min_sessions or 0)
    if canary.sessions < needed:
        failures.append(f"too few canary sessions: {canary.sessions} < {needed}")
    if stable.sessions < analysis.min_sessions:
        failures.append(f"too few stable sessions: {stable.sessions} < {analysis.min_sessions}")
    if failures:
        return failures
    checks = [
        ("error rate", canary.error_rate, stable.error_rate, analysis.max_error_rate_ratio,
         analysis.error_rate_allowance),
        ("finding rate", canary.finding_rate, stable.finding_rate,
         analysis.max_finding_rate_ratio, analysis.finding_rate_allowance),
        ("cost per session", canary.cost_per_session, stable.cost_per_session,
         analysis.max_cost_per_session_ratio, 0.0),
        ("latency p95", canary.latency_p95_ms, stable.latency_p95_ms,
         analysis.max_latency_p95_ratio, 0.0),
    ]  # fmt: skip
    for name, ours, theirs, ratio, allowance in checks:
        if ours is None or theirs is None:
            side = "canary" if ours is None else "stable"
            failures.append(f"no data for {name} on the {side} side")
            continue
        limit = theirs * ratio + allowance
        if ours > limit + 1e-12:
            extra = f" + {allowance:g}" if allowance else ""
            failures.append(
                f"{name} {_ratio(ours)} is over the limit {_ratio(limit)} "
                f"(stable {_ratio(theirs)} * {ratio:g}{extra})"
            )
    return failures
