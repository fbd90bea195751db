"""Agent versions: immutable, content-hashed configurations and the states they move through."""

from __future__ import annotations

import hashlib
from datetime import datetime
from typing import Any

import rfc8785
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from corral.core.access import Principal
from corral.core.agents import authorize_agent_change, find_agent
from corral.core.audit import record_audit
from corral.core.budgets import to_units
from corral.core.runtime import Runtime
from corral.db.schema import AgentRow, AgentVersionRow, BudgetRow
from corral.errors import Conflict, InvalidRequest, NotFound
from corral.schemas.access import Permission
from corral.schemas.lifecycle import (
    AgentConfig,
    AgentVersion,
    ConfigChange,
    DraftUpdate,
    VersionCreate,
    VersionDiff,
    VersionState,
)

TRANSITIONS: dict[str, frozenset[str]] = {
    "draft": frozenset({"candidate"}),
    "candidate": frozenset({"canary", "active", "retired"}),
    "canary": frozenset({"active", "aborted"}),
    "active": frozenset({"deprecated"}),
    "deprecated": frozenset({"active", "retired"}),
    "aborted": frozenset({"retired"}),
    "retired": frozenset(),
}
"""Which state may follow which. Drafts serve nothing; only ``active``, ``canary`` and (for the
sessions pinned to them) ``deprecated`` versions serve."""


def content_hash(config: AgentConfig) -> str:
    """SHA-256 of the canonical JSON (RFC 8785) of a configuration."""
    return hashlib.sha256(rfc8785.dumps(config.model_dump(mode="json"))).hexdigest()


def check_transition(agent: str, number: int, current: str, target: str) -> None:
    if target not in TRANSITIONS[current]:
        allowed = sorted(TRANSITIONS[current]) or ["none: it is final"]
        raise Conflict(
            f"version {number} of {agent!r} is {current}; it cannot become {target} "
            f"(from {current}: {', '.join(allowed)}).",
            code="illegal_transition",
            details={"agent": agent, "version": number, "state": current, "target": target},
        )


def describe_version(row: AgentVersionRow, agent: str) -> AgentVersion:
    return AgentVersion(
        agent=agent,
        number=row.number,
        state=row.state,
        content_hash=row.content_hash,
        config=AgentConfig.model_validate(row.config),
        note=row.note,
        base=row.base_number,
        created_by=row.created_by,
        created_at=row.created_at,
        state_changed_at=row.state_changed_at,
    )


def version_row(uow: Session, agent: AgentRow, number: int) -> AgentVersionRow:
    row = uow.scalars(
        select(AgentVersionRow).where(
            AgentVersionRow.agent_id == agent.id, AgentVersionRow.number == number
        )
    ).one_or_none()
    if row is None:
        raise NotFound(
            f"agent {agent.name!r} has no version {number}; "
            f"`corral agents versions list {agent.name}` shows them.",
            code="version_not_found",
            details={"agent": agent.name, "version": number},
        )
    return row


def _merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """JSON merge patch (RFC 7396): objects merge, null removes, anything else replaces."""
    merged = dict(base)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _validated(config: dict[str, Any]) -> AgentConfig:
    try:
        return AgentConfig.model_validate(config)
    except ValueError as exc:
        raise InvalidRequest(
            f"the resulting configuration is not valid: {exc}", code="invalid_config"
        ) from exc


def _version_budgets(uow: Session, agent: AgentRow, row: AgentVersionRow, now: datetime) -> None:
    """The budgets a version's config asks for, limited to the calls that version serves."""
    config = AgentConfig.model_validate(row.config)
    if config.budget is None:
        return
    limits = [
        ("session", None, "total", config.budget.per_session_usd, "per session"),
        ("agent", agent.name, "day", config.budget.per_day_usd, "per day"),
    ]
    for scope, subject, window, amount, label in limits:
        if amount is None:
            continue
        uow.add(
            BudgetRow(
                name=f"{agent.name} v{row.number} {label}",
                scope=scope,
                subject=subject,
                project_id=None,
                agent_version_id=row.id,
                unit="usd",
                limit_units=to_units("usd", amount),
                window=window,
                rolling_hours=None,
                thresholds=[80, 100],
                enforce=True,
                disabled=False,
                created_by=f"agent version {agent.name}@{row.number}",
                created_at=now,
            )
        )


def set_state(
    uow: Session,
    rt: Runtime,
    actor: Principal | None,
    agent: AgentRow,
    row: AgentVersionRow,
    target: VersionState,
    reason: str,
) -> None:
    """Move a version to ``target`` if the state machine allows it, and audit the move."""
    check_transition(agent.name, row.number, row.state, target)
    before = row.state
    row.state = target
    row.state_changed_at = rt.clock.now()
    if before == "draft" and target == "candidate":
        _version_budgets(uow, agent, row, row.state_changed_at)
    record_audit(
        uow,
        actor=actor,
        action="agent_version.transition",
        target_kind="agent_version",
        target_id=f"{agent.name}@{row.number}",
        details={"from": before, "to": target, "reason": reason},
        now=row.state_changed_at,
    )


def create_version(
    rt: Runtime, actor: Principal, agent_name: str, body: VersionCreate
) -> AgentVersion:
    """A new version from a whole config or from changes to an earlier one. A config identical to
    an existing version is refused (409) so versions stay meaningful."""
    now = rt.clock.now()
    with rt.db.write() as uow:
        agent = find_agent(uow, actor, agent_name)
        authorize_agent_change(uow, actor, agent, Permission.AGENTS_WRITE)
        newest = uow.scalar(
            select(func.max(AgentVersionRow.number)).where(AgentVersionRow.agent_id == agent.id)
        )
        base_number: int | None = None
        if body.config is not None:
            config = body.config
        else:
            base_number = body.base or newest
            if base_number is None:
                raise InvalidRequest(
                    f"agent {agent.name!r} has no version to change yet; give a whole 'config'.",
                    code="no_base_version",
                )
            base = version_row(uow, agent, base_number)
            config = _validated(_merge(base.config, body.changes or {}))
        digest = content_hash(config)
        same = uow.scalars(
            select(AgentVersionRow.number).where(
                AgentVersionRow.agent_id == agent.id, AgentVersionRow.content_hash == digest
            )
        ).first()
        if same is not None:
            raise Conflict(
                f"this configuration is identical to version {same} of {agent.name!r}.",
                code="identical_version",
                details={"version": same},
            )
        row = AgentVersionRow(
            agent_id=agent.id,
            number=(newest or 0) + 1,
            state="draft" if body.draft else "candidate",
            content_hash=digest,
            config=config.model_dump(mode="json"),
            note=body.note,
            base_number=base_number,
            created_by=actor.name,
            created_at=now,
            state_changed_at=now,
        )
        uow.add(row)
        uow.flush()
        if row.state == "candidate":
            _version_budgets(uow, agent, row, now)
        record_audit(
            uow,
            actor=actor,
            action="agent_version.create",
            target_kind="agent_version",
            target_id=f"{agent.name}@{row.number}",
            details={
                "state": row.state,
                "content_hash": digest,
                "base": base_number,
                "note": body.note,
            },
            now=now,
        )
        return describe_version(row, agent.name)


def update_draft(
    rt: Runtime, actor: Principal, agent_name: str, number: int, body: DraftUpdate
) -> AgentVersion:
    """Change a draft. Any other state is immutable."""
    with rt.db.write() as uow:
        agent = find_agent(uow, actor, agent_name)
        authorize_agent_change(uow, actor, agent, Permission.AGENTS_WRITE)
        row = version_row(uow, agent, number)
        if row.state != "draft":
            raise Conflict(
                f"version {number} of {agent.name!r} is {row.state} and immutable; create a new "
                "version instead.",
                code="version_immutable",
            )
        if body.config is not None:
            row.config = body.config.model_dump(mode="json")
            row.content_hash = content_hash(body.config)
        if body.note is not None:
            row.note = body.note
        return describe_version(row, agent.name)


def transition_version(
    rt: Runtime, actor: Principal, agent_name: str, number: int, target: VersionState, reason: str
) -> AgentVersion:
    """Move a version by hand. Deploying, promoting and rolling back move versions too; this is
    for the moves that are not deployments: freeze a draft, deprecate, retire."""
    if target in ("canary", "active"):
        raise InvalidRequest(
            f"versions become {target} by deploying them: `corral deploy` or a rollout.",
            code="use_deploy",
        )
    with rt.db.write() as uow:
        agent = find_agent(uow, actor, agent_name)
        authorize_agent_change(uow, actor, agent, Permission.AGENTS_WRITE)
        row = version_row(uow, agent, number)
        from corral.core.deployments import ensure_not_serving

        if target in ("retired", "deprecated", "aborted"):
            ensure_not_serving(uow, agent, row, target)
        set_state(uow, rt, actor, agent, row, target, reason)
        return describe_version(row, agent.name)


def list_versions(rt: Runtime, actor: Principal, agent_name: str) -> list[AgentVersion]:
    with rt.db.read() as uow:
        agent = find_agent(uow, actor, agent_name)
        rows = uow.scalars(
            select(AgentVersionRow)
            .where(AgentVersionRow.agent_id == agent.id)
            .order_by(AgentVersionRow.number.desc())
        ).all()
        return [describe_version(r, agent.name) for r in rows]


def get_version(rt: Runtime, actor: Principal, agent_name: str, number: int) -> AgentVersion:
    with rt.db.read() as uow:
        agent = find_agent(uow, actor, agent_name)
        return describe_version(version_row(uow, agent, number), agent.name)


def config_changes(before: Any, after: Any, path: str = "") -> list[ConfigChange]:
    """Every leaf that differs between two JSON documents, with its dotted path."""
    if isinstance(before, dict) and isinstance(after, dict):
        changes: list[ConfigChange] = []
        for key in sorted(set(before) | set(after)):
            changes += config_changes(
                before.get(key), after.get(key), f"{path}.{key}" if path else key
            )
        return changes
    return [] if before == after else [ConfigChange(path=path or "$", before=before, after=after)]


def diff_versions(
    rt: Runtime, actor: Principal, agent_name: str, first: int, second: int
) -> VersionDiff:
    with rt.db.read() as uow:
        agent = find_agent(uow, actor, agent_name)
        a, b = version_row(uow, agent, first), version_row(uow, agent, second)
        return VersionDiff(
            agent=agent.name,
            from_version=first,
            to_version=second,
            changes=config_changes(a.config, b.config),
        )
