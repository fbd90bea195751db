"""Metric alert rules: measured over their window, raising and resolving their incident."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from corral.core.access import Principal
from corral.core.alerts import create_rule
from corral.core.clock import ManualClock
from corral.core.metric_alerts import evaluate_metric_rules, measure
from corral.core.runtime import Runtime
from corral.core.schedule import background_jobs
from corral.db.schema import AlertRow, FindingRow, WebhookDeliveryRow
from corral.schemas.alerts import AlertRuleCreate, MetricCondition
from tests.core.detection.sessions import START, Session, make_project, store

ADMIN = Principal(kind="user", id=1, name="admin@localhost", workspace_admin=True)
EARLIER = START - timedelta(minutes=5)


def metric_alerts(rt: Runtime) -> list[AlertRow]:
    with rt.db.read() as uow:
        return list(uow.scalars(select(AlertRow).where(AlertRow.kind == "metric")))


def test_a_cost_rule_raises_then_resolves_its_incident(
    runtime: Runtime, clock: ManualClock
) -> None:
    project = make_project(runtime)
    rule = create_rule(
        runtime,
        ADMIN,
        AlertRuleCreate(
            name="spend",
            project="acme",
            metric=MetricCondition(name="cost_usd", threshold=0.05, window_minutes=15),
            webhook_url="http://127.0.0.1:9/hook",
        ),
    )
    session = Session(start=EARLIER)
    store(runtime, project, [session.say("a", cost=0.03), session.say("b", cost=0.01)])
    [reading] = evaluate_metric_rules(runtime)
    assert (reading.value, reading.over) == (pytest.approx(0.04), False)
    assert metric_alerts(runtime) == []
    store(runtime, project, [session.say("c", cost=0.03)])
    [reading] = evaluate_metric_rules(runtime)
    assert reading.over
    [incident] = metric_alerts(runtime)
    assert (incident.key, incident.status, incident.project_id) == (
        f"rule:{rule.id}",
        "open",
        project,
    )
    assert incident.details["value"] == pytest.approx(0.07)
    assert "over $0.0500" in incident.title
    with runtime.db.read() as uow:
        [delivery] = uow.scalars(select(WebhookDeliveryRow)).all()
    assert delivery.payload["alert"]["key"] == f"rule:{rule.id}"
    evaluate_metric_rules(runtime)  # still over: the same incident, no second notification
    [incident] = metric_alerts(runtime)
    assert incident.count == 2
    with runtime.db.read() as uow:
        assert len(uow.scalars(select(WebhookDeliveryRow)).all()) == 1
    clock.advance(timedelta(minutes=30))  # the spend leaves the window
    evaluate_metric_rules(runtime)
    [incident] = metric_alerts(runtime)
    assert (incident.status, incident.resolved_at) == ("resolved", clock.now())


def test_error_rate_latency_and_agents(runtime: Runtime) -> None:
    project = make_project(runtime)
    planner = Session(start=EARLIER)
    spans = [planner.tool("get", {"n": n}, status="error" if n == 0 else "ok") for n in range(4)]
    spans += [planner.say(f"m{n}") for n in range(4)]
    store(runtime, project, spans)
    with runtime.db.read() as uow:

        def value(name: str, agent: str | None = None) -> float:
            condition = MetricCondition(name=name, threshold=0, agent=agent)  # type: ignore[arg-type]
            return measure(uow, condition, [project], START)

        assert value("error_rate") == pytest.approx(1 / 8)
        assert value("error_rate", agent="someone-else") == 0.0
        assert value("latency_p95_ms") == pytest.approx(0.5)  # every LLM call took 0.5 ms
        assert value("cost_usd") == pytest.approx(0.004)


def test_finding_rate_counts_findings_per_active_session(runtime: Runtime) -> None:
    project = make_project(runtime)
    for number in range(4):
        store(runtime, project, [Session(f"s{number}", trace=number + 1, start=EARLIER).say("x")])
    with runtime.db.write() as uow:
        uow.add(
            FindingRow(
                project_id=project,
                scope="s1",
                key="tool_loop:k",
                type="tool_loop",
                severity="warning",
                status="open",
                agent_name="planner",
                session_id="s1",
                explanation="e",
                span_ids=[],
                wasted_tokens=0,
                wasted_cost_usd=0.0,
                details={},
                first_detected_at=EARLIER,
                updated_at=EARLIER,
            )
        )
    with runtime.db.read() as uow:
        condition = MetricCondition(name="finding_rate", threshold=0.2)
        assert measure(uow, condition, [project], START) == pytest.approx(0.25)


def test_the_job_is_scheduled(runtime: Runtime) -> None:
    jobs = {job.name: job for job in background_jobs(runtime.settings)}
    assert jobs["metric-rules"].interval_seconds == 60
    assert jobs["metric-rules"].run is evaluate_metric_rules
