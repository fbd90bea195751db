"""Metric alert rules: a rule with a ``metric`` condition raises an incident (kind ``metric``,
key ``rule:<id>``) while its metric over the last ``window_minutes`` is above the threshold, and
resolves it once the metric is back under. The ``metric-rules`` job evaluates every enabled rule
each minute.

Metrics, over the spans that started in the window (of the rule's project, or of every project
for a workspace rule; of one agent when the condition names one):

- ``cost_usd``: the cost of every span;
- ``error_rate``: the share of LLM and tool calls whose status is error (0 with no calls);
- ``latency_p95_ms``: the 95th percentile of LLM call durations (0 with no calls);
- ``finding_rate``: findings first detected in the window per session active in it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from corral.core.alerts import raise_alert, resolve_alert
from corral.core.runtime import Runtime
from corral.core.trace_metrics import percentile
from corral.db.schema import AlertRuleRow, FindingRow, ProjectRow, SessionRow, SpanRow
from corral.schemas.alerts import MetricCondition


@dataclass(frozen=True)
class MetricReading:
    rule_id: int
    metric: str
    value: float
    threshold: float
    over: bool


def measure(
    uow: Session, condition: MetricCondition, project_ids: list[int], now: datetime
) -> float:
    """The value of a rule's metric over its window, ending ``now``."""
    since = now - timedelta(minutes=condition.window_minutes)
    if condition.name == "finding_rate":
        return _finding_rate(uow, condition, project_ids, since, now)
    window = [
        SpanRow.project_id.in_(project_ids),
        SpanRow.start_time >= since,
        SpanRow.start_time < now,
    ]
    if condition.agent is not None:
        window.append(SpanRow.agent_name == condition.agent)
    if condition.name == "cost_usd":
        total = uow.execute(
            select(func.coalesce(func.sum(SpanRow.cost_usd), 0.0)).where(*window)
        ).scalar_one()
        return float(total or 0.0)
    if condition.name == "error_rate":
        calls, errors = uow.execute(
            select(func.count(), func.count(case((SpanRow.status == "error", 1)))).where(
                *window, SpanRow.span_type.in_(("llm", "tool"))
            )
        ).one()
        return errors / calls if calls else 0.0
    durations = uow.scalars(select(SpanRow.duration_ms).where(*window, SpanRow.span_type == "llm"))
    return percentile(durations, 0.95)


def _finding_rate(
    uow: Session,
    condition: MetricCondition,
    project_ids: list[int],
    since: datetime,
    until: datetime,
) -> float:
    findings = select(func.count()).where(
        FindingRow.project_id.in_(project_ids),
        FindingRow.first_detected_at >= since,
        FindingRow.first_detected_at < until,
    )
    sessions = select(func.count()).where(
        SessionRow.project_id.in_(project_ids),
        SessionRow.last_seen >= since,
        SessionRow.first_seen < until,
    )
    if condition.agent is not None:
        findings = findings.where(FindingRow.agent_name == condition.agent)
        sessions = sessions.where(SessionRow.agent_name == condition.agent)
    found = uow.execute(findings.select_from(FindingRow)).scalar_one()
    active = uow.execute(sessions.select_from(SessionRow)).scalar_one()
    return found / active if active else float(found)


def evaluate_metric_rules(rt: Runtime) -> list[MetricReading]:
    """Background job: measure every enabled metric rule, raise or resolve its incident."""
    now = rt.clock.now()
    with rt.db.read() as uow:
        rules = uow.scalars(
            select(AlertRuleRow).where(
                AlertRuleRow.enabled.is_(True), AlertRuleRow.metric.is_not(None)
            )
        ).all()
        every_project = list(uow.scalars(select(ProjectRow.id)))
        readings = []
        for rule in rules:
            assert rule.metric is not None
            condition = MetricCondition.model_validate(rule.metric)
            projects = [rule.project_id] if rule.project_id is not None else every_project
            value = measure(uow, condition, projects, now) if projects else 0.0
            readings.append(
                MetricReading(
                    rule.id, condition.name, value, condition.threshold, value > condition.threshold
                )
            )
        described = {r.id: (r.name, r.project_id, r.metric) for r in rules}
    if not readings:
        return readings
    with rt.db.write() as uow:
        for reading in readings:
            name, project_id, metric = described[reading.rule_id]
            key = f"rule:{reading.rule_id}"
            if not reading.over:
                resolve_alert(uow, "metric", key, now)
                continue
            condition = MetricCondition.model_validate(metric)
            shown = _shown(reading.metric, reading.value)
            limit = _shown(reading.metric, reading.threshold)
            scope = f" of {condition.agent}" if condition.agent else ""
            raise_alert(
                uow,
                kind="metric",
                severity="warning",
                key=key,
                title=f"{name}: {reading.metric}{scope} is {shown}, over {limit}",
                body=(
                    f"{reading.metric}{scope} over the last {condition.window_minutes} minutes "
                    f"is {shown}; the rule's threshold is {limit}."
                ),
                details={
                    "rule_id": reading.rule_id,
                    "metric": reading.metric,
                    "value": reading.value,
                    "threshold": reading.threshold,
                    "window_minutes": condition.window_minutes,
                    "agent": condition.agent,
                },
                project_id=project_id,
                now=now,
            )
    return readings


def _shown(metric: str, value: float) -> str:
    if metric == "cost_usd":
        return f"${value:.4f}"
    if metric == "error_rate":
        return f"{value:.1%}"
    if metric == "latency_p95_ms":
        return f"{value:,.0f} ms"
    return f"{value:.3g} findings per session"
