"""Staged rollouts: a canary version goes through steps of growing weight, and each step is
judged against the stable version before the next one starts.

A step is judged once its ``min_minutes`` have passed (or, for a step bounded only by sessions,
once the canary has ``min_sessions``). A pass raises the canary weight to the next step — or, after
the last step, promotes the canary to active (the old active version becomes deprecated); a
failure takes the canary out at once (weight 0, version ``aborted``) and raises an alert. The
weights and states move through the deployment code (:mod:`corral.core.deployments`), so a
rollout's moves are the same, and audited the same, as hand-made ones.

Judging runs in the ``rollout-analysis`` background job and on demand (``analyze``), both with
the runtime's clock. It measures in a read transaction and writes in another, re-checking there
that nobody moved the rollout meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from corral.core.access import Principal
from corral.core.agents import authorize_agent_change, find_agent
from corral.core.alerts import raise_alert
from corral.core.audit import record_audit
from corral.core.deployments import apply_deploy, deployment_row, end_canary
from corral.core.rollout_analysis import judge_step, measure_arm
from corral.core.runtime import Runtime
from corral.core.versions import version_row
from corral.db.schema import AgentRow, AgentVersionRow, ProjectMemberRow, RolloutRow
from corral.errors import Conflict, InvalidRequest, NotFound
from corral.schemas.access import Permission
from corral.schemas.lifecycle import (
    Rollout,
    RolloutAnalysis,
    RolloutCreate,
    RolloutStep,
    StepResult,
)

IN_PROGRESS = ("running", "paused")


@dataclass(frozen=True)
class Verdict:
    """What judging a rollout did: nothing yet (``None``), or a step passed or failed."""

    rollout_id: int
    step: int
    passed: bool | None
    status: str


def _steps(row: RolloutRow) -> list[RolloutStep]:
    return [RolloutStep.model_validate(s) for s in row.steps]


def _number(uow: Session, version_id: int | None) -> int | None:
    return None if version_id is None else uow.get_one(AgentVersionRow, version_id).number


def describe_rollout(
    uow: Session, row: RolloutRow, agent: str, live: StepResult | None = None
) -> Rollout:
    version = _number(uow, row.version_id)
    assert version is not None
    return Rollout(
        id=row.id,
        agent=agent,
        environment=row.environment,
        version=version,
        stable_version=_number(uow, row.stable_version_id),
        status=row.status,
        step=row.step,
        step_started_at=row.step_started_at,
        steps=_steps(row),
        analysis=RolloutAnalysis.model_validate(row.analysis),
        results=[StepResult.model_validate(r) for r in row.results],
        live=live,
        reason=row.reason,
        created_by=row.created_by,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


def _audit(
    uow: Session,
    actor: Principal | None,
    agent: AgentRow,
    row: RolloutRow,
    verb: str,
    now: datetime,
    **details: object,
) -> None:
    record_audit(
        uow,
        actor=actor,
        action=f"rollout.{verb}",
        target_kind="rollout",
        target_id=row.id,
        details={
            "agent": agent.name,
            "environment": row.environment,
            "version": _number(uow, row.version_id),
            "step": row.step,
            **details,
        },
        now=now,
    )


def _rollout_row(
    uow: Session, agent: AgentRow, rollout_id: int, *, lock: bool = False
) -> RolloutRow:
    query = select(RolloutRow).where(RolloutRow.id == rollout_id, RolloutRow.agent_id == agent.id)
    row = uow.scalars(query.with_for_update() if lock else query).one_or_none()
    if row is None:
        raise NotFound(
            f"agent {agent.name!r} has no rollout {rollout_id}; "
            f"`corral rollout list {agent.name}` shows them.",
            code="rollout_not_found",
            details={"agent": agent.name, "rollout": rollout_id},
        )
    return row


def start_rollout(rt: Runtime, actor: Principal, agent_name: str, body: RolloutCreate) -> Rollout:
    """Put ``body.version`` beside the active version as a canary at the first step's weight."""
    now = rt.clock.now()
    with rt.db.write() as uow:
        agent = find_agent(uow, actor, agent_name)
        authorize_agent_change(uow, actor, agent, Permission.AGENTS_WRITE)
        version = version_row(uow, agent, body.version)
        deployment = deployment_row(uow, agent, body.environment, lock=True)
        if deployment is None or deployment.active_version_id is None:
            raise InvalidRequest(
                f"{body.environment} serves no version of {agent.name!r} yet: deploy one as "
                "active first; a rollout compares the canary with it.",
                code="no_active_version",
            )
        running = uow.scalars(
            select(RolloutRow.id).where(
                RolloutRow.agent_id == agent.id,
                RolloutRow.environment == body.environment,
                RolloutRow.status.in_(IN_PROGRESS),
            )
        ).first()
        if running is not None:
            raise Conflict(
                f"rollout {running} of {agent.name!r} is still in progress in "
                f"{body.environment}; promote or abort it first.",
                code="rollout_in_progress",
                details={"rollout": running},
            )
        if version.state not in ("candidate", "canary"):
            raise Conflict(
                f"version {version.number} of {agent.name!r} is {version.state}; only a "
                "candidate (or the running canary) can be rolled out.",
                code="illegal_transition",
                details={"state": version.state},
            )
        stable_id = deployment.active_version_id
        reason = f"rollout step 1 at {body.steps[0].weight:g} %"
        apply_deploy(uow, rt, actor, agent, body.environment, version, body.steps[0].weight, reason)
        row = RolloutRow(
            agent_id=agent.id,
            environment=body.environment,
            version_id=version.id,
            stable_version_id=stable_id,
            status="running",
            step=0,
            step_started_at=now,
            steps=[s.model_dump(mode="json") for s in body.steps],
            analysis=body.analysis.model_dump(mode="json"),
            results=[],
            reason="",
            created_by=actor.name,
            created_at=now,
            finished_at=None,
        )
        uow.add(row)
        uow.flush()
        _audit(uow, actor, agent, row, "start", now, steps=row.steps, analysis=row.analysis)
        return describe_rollout(uow, row, agent.name)


def list_rollouts(
    rt: Runtime, actor: Principal, agent_name: str, *, status: str | None = None
) -> list[Rollout]:
    """An agent's rollouts, newest first."""
    with rt.db.read() as uow:
        agent = find_agent(uow, actor, agent_name)
        query = select(RolloutRow).where(RolloutRow.agent_id == agent.id)
        if status is not None:
            query = query.where(RolloutRow.status == status)
        rows = uow.scalars(query.order_by(RolloutRow.id.desc())).all()
        return [describe_rollout(uow, r, agent.name) for r in rows]


def get_rollout(rt: Runtime, actor: Principal, agent_name: str, rollout_id: int) -> Rollout:
    """One rollout with the verdict of every judged step, and the current step's analysis so
    far while it is in progress."""
    with rt.db.read() as uow:
        agent = find_agent(uow, actor, agent_name)
        row = _rollout_row(uow, agent, rollout_id)
        live = _measure(uow, agent, row, rt.clock.now()) if row.status in IN_PROGRESS else None
        return describe_rollout(uow, row, agent.name, live)


def _measure(uow: Session, agent: AgentRow, row: RolloutRow, now: datetime) -> StepResult:
    """The current step's analysis over its window so far."""
    step = _steps(row)[row.step]
    canary = measure_arm(uow, agent, row.environment, row.version_id, row.step_started_at, now)
    # At 100 % stable gets no new sessions: its baseline is the whole rollout instead.
    since = row.created_at if step.weight >= 100 else row.step_started_at
    stable = (
        measure_arm(uow, agent, row.environment, row.stable_version_id, since, now)
        if row.stable_version_id is not None
        else canary.model_copy(update={"sessions": 0})
    )
    failures = judge_step(canary, stable, RolloutAnalysis.model_validate(row.analysis), step)
    return StepResult(
        step=row.step + 1,
        weight=step.weight,
        passed=not failures,
        canary=canary,
        stable=stable,
        failures=failures,
        judged_at=now,
    )


def _due(row: RolloutRow, result: StepResult, now: datetime) -> bool:
    step = _steps(row)[row.step]
    if step.min_minutes is not None:
        return now - row.step_started_at >= timedelta(minutes=step.min_minutes)
    assert step.min_sessions is not None  # a step has a duration or a session count
    return result.canary.sessions >= step.min_sessions


def _alert_project(uow: Session, agent: AgentRow) -> int | None:
    """An agent granted to one project alerts that project's members; otherwise the alert is
    workspace-wide."""
    projects = uow.scalars(
        select(ProjectMemberRow.project_id).where(ProjectMemberRow.agent_id == agent.id)
    ).all()
    return projects[0] if len(projects) == 1 else None


def _fail(uow: Session, rt: Runtime, agent: AgentRow, row: RolloutRow, result: StepResult) -> None:
    now = rt.clock.now()
    version = _number(uow, row.version_id)
    row.status = "aborted"
    row.reason = f"step {result.step} failed: {'; '.join(result.failures)}"
    row.finished_at = now
    uow.flush()  # so closing the canary's rollouts below leaves this verdict alone
    deployment = deployment_row(uow, agent, row.environment, lock=True)
    assert deployment is not None
    end_canary(uow, rt, None, agent, deployment, abort=True, reason=row.reason)
    _audit(uow, None, agent, row, "abort", now, failures=result.failures, automatic=True)
    raise_alert(
        uow,
        kind="rollout_aborted",
        severity="critical",
        key=f"rollout:{row.id}",
        title=f"Canary {agent.name} v{version} aborted in {row.environment}: {result.failures[0]}",
        body=f"Rollout {row.id} of {agent.name} version {version} failed its analysis at step "
        f"{result.step} ({result.weight:g} %): {'; '.join(result.failures)}. New sessions get "
        "the stable version again.",
        details={
            "agent": agent.name,
            "environment": row.environment,
            "version": version,
            "rollout": row.id,
            "step": result.step,
            "failures": result.failures,
        },
        project_id=_alert_project(uow, agent),
        now=now,
    )


def _promote(
    uow: Session,
    rt: Runtime,
    actor: Principal | None,
    agent: AgentRow,
    row: RolloutRow,
    reason: str,
) -> None:
    row.status, row.reason, row.finished_at = "succeeded", reason, rt.clock.now()
    uow.flush()
    version = uow.get_one(AgentVersionRow, row.version_id)
    apply_deploy(uow, rt, actor, agent, row.environment, version, None, reason)


def _pass(uow: Session, rt: Runtime, agent: AgentRow, row: RolloutRow, steps: int) -> None:
    now = rt.clock.now()
    if row.step + 1 >= steps:
        _audit(uow, None, agent, row, "promote", now, automatic=True)
        _promote(uow, rt, None, agent, row, "every rollout step passed its analysis")
        return
    row.step += 1
    row.step_started_at = now
    weight = _steps(row)[row.step].weight
    version = uow.get_one(AgentVersionRow, row.version_id)
    apply_deploy(
        uow, rt, None, agent, row.environment, version, weight,
        f"rollout step {row.step + 1} at {weight:g} %",
    )  # fmt: skip
    _audit(uow, None, agent, row, "advance", now, weight=weight)


def _judge(rt: Runtime, agent_id: int, rollout_id: int) -> Verdict:
    """Judge one rollout's current step if it is due, and act on the verdict."""
    now = rt.clock.now()
    with rt.db.read() as uow:
        agent = uow.get_one(AgentRow, agent_id)
        row = uow.get_one(RolloutRow, rollout_id)
        seen = (row.status, row.step, row.step_started_at)
        if row.status != "running":
            return Verdict(rollout_id, row.step + 1, None, row.status)
        result = _measure(uow, agent, row, now)
        if not _due(row, result, now):
            return Verdict(rollout_id, row.step + 1, None, row.status)
    with rt.db.write() as uow:
        agent = uow.get_one(AgentRow, agent_id)
        row = uow.scalars(
            select(RolloutRow).where(RolloutRow.id == rollout_id).with_for_update()
        ).one()
        if (row.status, row.step, row.step_started_at) != seen:
            return Verdict(rollout_id, row.step + 1, None, row.status)  # moved meanwhile
        row.results = [*row.results, result.model_dump(mode="json")]
        if result.passed:
            _pass(uow, rt, agent, row, len(row.steps))
        else:
            _fail(uow, rt, agent, row, result)
        return Verdict(rollout_id, result.step, result.passed, row.status)


def evaluate_rollouts(rt: Runtime) -> list[Verdict]:
    """Background job: judge every running rollout whose current step is due."""
    with rt.db.read() as uow:
        running = uow.execute(
            select(RolloutRow.agent_id, RolloutRow.id)
            .where(RolloutRow.status == "running")
            .order_by(RolloutRow.id)
        ).all()
    return [_judge(rt, agent_id, rollout_id) for agent_id, rollout_id in running]


def analyze_rollout(rt: Runtime, actor: Principal, agent_name: str, rollout_id: int) -> Rollout:
    """Judge the rollout now instead of waiting for the job (same rules: only a due step)."""
    with rt.db.read() as uow:
        agent = find_agent(uow, actor, agent_name)
        authorize_agent_change(uow, actor, agent, Permission.AGENTS_WRITE)
        _rollout_row(uow, agent, rollout_id)
        agent_id = agent.id
    _judge(rt, agent_id, rollout_id)
    return get_rollout(rt, actor, agent_name, rollout_id)


def _act(
    rt: Runtime,
    actor: Principal,
    agent_name: str,
    rollout_id: int,
    verb: str,
    allowed: tuple[str, ...],
    reason: str,
) -> Rollout:
    now = rt.clock.now()
    with rt.db.write() as uow:
        agent = find_agent(uow, actor, agent_name)
        authorize_agent_change(uow, actor, agent, Permission.AGENTS_WRITE)
        row = _rollout_row(uow, agent, rollout_id, lock=True)
        if row.status not in allowed:
            raise Conflict(
                f"rollout {row.id} of {agent.name!r} is {row.status}; it cannot be {verb}d "
                f"(only when {' or '.join(allowed)}).",
                code="illegal_rollout_action",
                details={"rollout": row.id, "status": row.status, "action": verb},
            )
        _audit(uow, actor, agent, row, verb, now, reason=reason)
        if verb == "pause":
            row.status = "paused"
        elif verb == "resume":
            # The step starts over: its window must hold only running time.
            row.status, row.step_started_at = "running", now
        elif verb == "promote":
            _promote(uow, rt, actor, agent, row, f"promoted by hand: {reason}".rstrip(": "))
        else:
            row.status, row.finished_at = "aborted", now
            row.reason = f"aborted by hand: {reason}".rstrip(": ")
            uow.flush()
            deployment = deployment_row(uow, agent, row.environment, lock=True)
            if deployment is not None and deployment.canary_version_id == row.version_id:
                end_canary(uow, rt, actor, agent, deployment, abort=True, reason=row.reason)
        return describe_rollout(uow, row, agent.name)


def pause_rollout(
    rt: Runtime, actor: Principal, agent: str, rollout_id: int, reason: str = ""
) -> Rollout:
    """Stop judging (the canary keeps its weight) until resumed."""
    return _act(rt, actor, agent, rollout_id, "pause", ("running",), reason)


def resume_rollout(
    rt: Runtime, actor: Principal, agent: str, rollout_id: int, reason: str = ""
) -> Rollout:
    return _act(rt, actor, agent, rollout_id, "resume", ("paused",), reason)


def promote_rollout(
    rt: Runtime, actor: Principal, agent: str, rollout_id: int, reason: str = ""
) -> Rollout:
    """Make the canary active now, whatever step the rollout is at."""
    return _act(rt, actor, agent, rollout_id, "promote", IN_PROGRESS, reason)


def abort_rollout(
    rt: Runtime, actor: Principal, agent: str, rollout_id: int, reason: str = ""
) -> Rollout:
    """Take the canary out now: weight 0, version aborted, its sessions back to stable."""
    return _act(rt, actor, agent, rollout_id, "abort", IN_PROGRESS, reason)
