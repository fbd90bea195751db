"""Deployments: which version each environment serves, canaries, rollback, and resolving the
version a session must use.

A session is assigned on its first resolution — canary if a deterministic hash of the session id
falls under the canary weight, stable otherwise — and the assignment is stored, so the session
keeps its version for its whole life, on every replica, whatever happens to the weights later.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from corral.core.access import Principal
from corral.core.agents import authorize_agent_change, find_agent
from corral.core.audit import record_audit
from corral.core.runtime import Runtime
from corral.core.versions import set_state, version_row
from corral.db.schema import (
    AgentRow,
    AgentVersionRow,
    DeploymentRow,
    RolloutRow,
    SessionAssignmentRow,
)
from corral.db.upsert import insert_ignoring_conflicts
from corral.errors import Conflict, CorralError, InvalidRequest, NotFound
from corral.schemas.access import Permission
from corral.schemas.lifecycle import AgentConfig, Deployment, DeployRequest, ResolvedVersion


class VersionRetired(CorralError):
    status = 410
    default_code = "agent_version_retired"


def canary_bucket(agent: str, environment: str, session: str) -> float:
    """A session's fixed position in [0, 100): below the canary weight means canary."""
    digest = hashlib.sha256(f"{agent}\x00{environment}\x00{session}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 10_000 / 100


def _number(uow: Session, version_id: int | None) -> int | None:
    return None if version_id is None else uow.get_one(AgentVersionRow, version_id).number


def describe_deployment(uow: Session, row: DeploymentRow, agent: str) -> Deployment:
    return Deployment(
        agent=agent,
        environment=row.environment,
        active_version=_number(uow, row.active_version_id),
        canary_version=_number(uow, row.canary_version_id),
        canary_weight=row.canary_weight,
        previous_version=_number(uow, row.previous_version_id),
        updated_at=row.updated_at,
    )


def deployment_row(
    uow: Session, agent: AgentRow, environment: str, *, lock: bool = False
) -> DeploymentRow | None:
    query = select(DeploymentRow).where(
        DeploymentRow.agent_id == agent.id, DeploymentRow.environment == environment
    )
    return uow.scalars(query.with_for_update() if lock else query).one_or_none()


def _serving_elsewhere(uow: Session, version: AgentVersionRow, deployment: DeploymentRow) -> bool:
    return (
        uow.scalars(
            select(DeploymentRow.id).where(
                DeploymentRow.id != deployment.id,
                or_(
                    DeploymentRow.active_version_id == version.id,
                    DeploymentRow.canary_version_id == version.id,
                ),
            )
        ).first()
        is not None
    )


def ensure_not_serving(
    uow: Session, agent: AgentRow, version: AgentVersionRow, target: str
) -> None:
    """A version an environment serves cannot be deprecated, retired or aborted by hand."""
    serving = uow.scalars(
        select(DeploymentRow.environment).where(
            or_(
                DeploymentRow.active_version_id == version.id,
                DeploymentRow.canary_version_id == version.id,
            )
        )
    ).all()
    if serving:
        raise Conflict(
            f"version {version.number} of {agent.name!r} is deployed in {', '.join(serving)}; "
            f"deploy another version there before it becomes {target}.",
            code="version_in_use",
            details={"environments": list(serving)},
        )


def close_rollouts(
    uow: Session, rt: Runtime, row: DeploymentRow, version_id: int, status: str, reason: str
) -> None:
    """A rollout of ``version_id`` still in progress ends with its canary: a deploy, promotion,
    abort or rollback outside the rollout decides it."""
    for rollout in uow.scalars(
        select(RolloutRow).where(
            RolloutRow.agent_id == row.agent_id,
            RolloutRow.environment == row.environment,
            RolloutRow.version_id == version_id,
            RolloutRow.status.in_(("running", "paused")),
        )
    ):
        rollout.status, rollout.reason, rollout.finished_at = status, reason, rt.clock.now()


def _demote(
    uow: Session,
    rt: Runtime,
    actor: Principal | None,
    agent: AgentRow,
    version: AgentVersionRow,
    deployment: DeploymentRow,
    reason: str,
) -> None:
    """The version an environment stopped serving becomes deprecated (its sessions drain),
    unless another environment still serves it."""
    if version.state == "active" and not _serving_elsewhere(uow, version, deployment):
        set_state(uow, rt, actor, agent, version, "deprecated", reason)


def apply_deploy(
    uow: Session,
    rt: Runtime,
    actor: Principal | None,
    agent: AgentRow,
    environment: str,
    version: AgentVersionRow,
    canary_weight: float | None,
    reason: str,
) -> DeploymentRow:
    """Point ``environment`` at ``version``: as the active version, or as a canary beside it."""
    now = rt.clock.now()
    row = deployment_row(uow, agent, environment, lock=True)
    if row is None:
        insert_ignoring_conflicts(
            uow,
            DeploymentRow.__table__,  # type: ignore[arg-type]
            [
                {
                    "agent_id": agent.id,
                    "environment": environment,
                    "canary_weight": 0.0,
                    "updated_at": now,
                }
            ],
        )
        row = deployment_row(uow, agent, environment, lock=True)
        assert row is not None
    if version.state in ("draft", "retired", "aborted"):
        raise Conflict(
            f"version {version.number} of {agent.name!r} is {version.state} and cannot serve.",
            code="illegal_transition",
            details={"state": version.state},
        )
    if canary_weight is not None:
        if row.active_version_id is None:
            raise InvalidRequest(
                f"{environment} serves no version of {agent.name!r} yet: deploy one as active "
                "before running a canary beside it.",
                code="no_active_version",
            )
        if row.active_version_id == version.id:
            raise InvalidRequest("the version is already active here.", code="already_active")
        if row.canary_version_id not in (None, version.id):
            raise Conflict(
                f"{environment} already runs version "
                f"{_number(uow, row.canary_version_id)} of {agent.name!r} as a canary; promote "
                "or abort it first.",
                code="canary_in_progress",
            )
        if version.state == "candidate":
            set_state(uow, rt, actor, agent, version, "canary", reason)
        row.canary_version_id, row.canary_weight = version.id, canary_weight
    else:
        old_id = row.active_version_id
        if version.state in ("candidate", "canary", "deprecated"):
            set_state(uow, rt, actor, agent, version, "active", reason)
        if old_id is not None and old_id != version.id:
            row.previous_version_id = old_id
            row.active_version_id = version.id
            _demote(uow, rt, actor, agent, uow.get_one(AgentVersionRow, old_id), row, reason)
        row.active_version_id = version.id
        if row.canary_version_id == version.id:
            row.canary_version_id, row.canary_weight = None, 0.0
            close_rollouts(uow, rt, row, version.id, "succeeded", f"promoted: {reason}")
    row.updated_at = now
    record_audit(
        uow,
        actor=actor,
        action="deployment.update",
        target_kind="deployment",
        target_id=f"{agent.name}/{environment}",
        details={"version": version.number, "canary_weight": canary_weight, "reason": reason},
        now=now,
    )
    uow.flush()
    return row


def deploy(rt: Runtime, actor: Principal, agent_name: str, body: DeployRequest) -> Deployment:
    with rt.db.write() as uow:
        agent = find_agent(uow, actor, agent_name)
        authorize_agent_change(uow, actor, agent, Permission.AGENTS_WRITE)
        version = version_row(uow, agent, body.version)
        row = apply_deploy(
            uow, rt, actor, agent, body.environment, version, body.canary_weight, body.reason
        )
        return describe_deployment(uow, row, agent.name)


def end_canary(
    uow: Session,
    rt: Runtime,
    actor: Principal | None,
    agent: AgentRow,
    row: DeploymentRow,
    *,
    abort: bool,
    reason: str,
) -> None:
    """Take the canary out of rotation; an aborted canary's pinned sessions go back to stable."""
    if row.canary_version_id is None:
        return
    canary = uow.get_one(AgentVersionRow, row.canary_version_id)
    row.canary_version_id, row.canary_weight = None, 0.0
    row.updated_at = rt.clock.now()
    close_rollouts(uow, rt, row, canary.id, "aborted", reason)
    if abort and canary.state == "canary":
        set_state(uow, rt, actor, agent, canary, "aborted", reason)


def rollback(
    rt: Runtime, actor: Principal, agent_name: str, environment: str, reason: str
) -> Deployment:
    """Serve the previous active version again, at once, for new sessions; a running canary is
    aborted. Sessions pinned to the version rolled back from drain."""
    with rt.db.write() as uow:
        agent = find_agent(uow, actor, agent_name)
        authorize_agent_change(uow, actor, agent, Permission.AGENTS_WRITE)
        row = deployment_row(uow, agent, environment, lock=True)
        if row is None or row.previous_version_id is None:
            raise Conflict(
                f"{environment} has no earlier version of {agent.name!r} to roll back to.",
                code="nothing_to_roll_back",
            )
        previous = uow.get_one(AgentVersionRow, row.previous_version_id)
        if previous.state == "retired":
            raise Conflict(
                f"the previous version ({previous.number}) is retired; deploy a version instead.",
                code="illegal_transition",
            )
        end_canary(uow, rt, actor, agent, row, abort=True, reason=f"rollback: {reason}")
        apply_deploy(uow, rt, actor, agent, environment, previous, None, f"rollback: {reason}")
        record_audit(
            uow,
            actor=actor,
            action="deployment.rollback",
            target_kind="deployment",
            target_id=f"{agent.name}/{environment}",
            details={"to_version": previous.number, "reason": reason},
            now=rt.clock.now(),
        )
        return describe_deployment(uow, row, agent.name)


def list_deployments(rt: Runtime, actor: Principal, agent_name: str) -> list[Deployment]:
    with rt.db.read() as uow:
        agent = find_agent(uow, actor, agent_name)
        rows = uow.scalars(
            select(DeploymentRow)
            .where(DeploymentRow.agent_id == agent.id)
            .order_by(DeploymentRow.environment)
        ).all()
        return [describe_deployment(uow, r, agent.name) for r in rows]


def resolve_for_agent(
    uow: Session, rt: Runtime, agent: AgentRow, environment: str, session: str | None
) -> ResolvedVersion:
    """The version ``session`` must use in ``environment`` (pinning it on first use)."""
    row = deployment_row(uow, agent, environment)
    if row is None or row.active_version_id is None:
        raise NotFound(
            f"no version of {agent.name!r} is deployed in {environment!r}; "
            f"`corral deploy {agent.name} VERSION --environment {environment}`.",
            code="no_deployment",
            details={"agent": agent.name, "environment": environment},
        )
    active = uow.get_one(AgentVersionRow, row.active_version_id)
    if session is None:
        return _resolved(agent, environment, None, active, canary=False)
    pinned = uow.get(SessionAssignmentRow, (agent.id, environment, session))
    if pinned is not None:
        version = uow.get_one(AgentVersionRow, pinned.version_id)
        if version.state == "retired":
            raise VersionRetired(
                f"session {session!r} used version {version.number} of {agent.name!r}, which is "
                f"retired; start a new session, which gets version {active.number}.",
                details={
                    "agent": agent.name,
                    "retired_version": version.number,
                    "use_version": active.number,
                },
            )
        if version.state != "aborted":
            return _resolved(agent, environment, session, version, canary=pinned.canary)
        uow.delete(pinned)  # an aborted canary's sessions go back to stable
        uow.flush()
    canary_id = row.canary_version_id
    use_canary = (
        canary_id is not None
        and canary_bucket(agent.name, environment, session) < row.canary_weight
    )
    chosen_id = canary_id if use_canary and canary_id is not None else active.id
    insert_ignoring_conflicts(
        uow,
        SessionAssignmentRow.__table__,  # type: ignore[arg-type]
        [
            {
                "agent_id": agent.id,
                "environment": environment,
                "session_id": session,
                "version_id": chosen_id,
                "canary": use_canary,
                "assigned_at": rt.clock.now(),
            }
        ],
    )
    # Another replica may have pinned the session first: its answer wins.
    pinned = uow.get_one(
        SessionAssignmentRow, (agent.id, environment, session), populate_existing=True
    )
    return _resolved(
        agent,
        environment,
        session,
        uow.get_one(AgentVersionRow, pinned.version_id),
        canary=pinned.canary,
    )


def _resolved(
    agent: AgentRow,
    environment: str,
    session: str | None,
    version: AgentVersionRow,
    *,
    canary: bool,
) -> ResolvedVersion:
    return ResolvedVersion(
        agent=agent.name,
        environment=environment,
        session=session,
        version=version.number,
        state=version.state,
        canary=canary,
        config=AgentConfig.model_validate(version.config),
    )


def resolve(
    rt: Runtime, actor: Principal, agent_name: str, environment: str, session: str | None
) -> ResolvedVersion:
    """``GET /v1/agents/{agent}/resolve``: the version a session must use."""
    with rt.db.write() as uow:
        agent = find_agent(uow, actor, agent_name)
        return resolve_for_agent(uow, rt, agent, environment, session)
