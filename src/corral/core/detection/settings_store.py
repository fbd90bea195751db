"""Detector settings stored per project and per agent: defaults, overridden by the project's
settings, overridden by the agent's. Only the fields someone set are stored, so a default
changed in a later version reaches everyone who did not choose otherwise."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pydantic import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from corral.core.access import Principal, resolve_project
from corral.core.audit import record_audit
from corral.core.runtime import Runtime
from corral.db.schema import DetectorSettingsRow, ProjectRow
from corral.errors import InvalidRequest
from corral.schemas.access import Permission
from corral.schemas.detection import DetectorSettings, DetectorSettingsUpdate, DetectorSettingsView

PROJECT_LEVEL = ""
"""``agent_name`` of a project's own settings row."""


def _known(overrides: dict[str, Any]) -> dict[str, Any]:
    # A field a later version dropped is ignored rather than breaking detection.
    return {k: v for k, v in overrides.items() if k in DetectorSettings.model_fields}


def _overrides(uow: Session, project_id: int) -> dict[str, dict[str, Any]]:
    rows = uow.execute(
        select(DetectorSettingsRow.agent_name, DetectorSettingsRow.overrides).where(
            DetectorSettingsRow.project_id == project_id
        )
    ).all()
    return {agent: _known(overrides) for agent, overrides in rows}


def merge(project: dict[str, Any], agent: dict[str, Any] | None = None) -> DetectorSettings:
    """Defaults, then the project's overrides, then the agent's."""
    try:
        return DetectorSettings.model_validate({**project, **(agent or {})})
    except ValidationError:
        # Stored overrides were valid when written; if a later version tightened a field, fall
        # back to the project's (then the defaults) rather than stop detecting.
        try:
            return DetectorSettings.model_validate(project)
        except ValidationError:
            return DetectorSettings()


def effective_settings(uow: Session, project_id: int, agent: str | None) -> DetectorSettings:
    """The settings that apply to a session of ``agent`` in a project."""
    return settings_resolver(uow, project_id)(agent)


def settings_resolver(uow: Session, project_id: int) -> Callable[[str | None], DetectorSettings]:
    """The settings of each agent of a project, from one read of its overrides."""
    stored = _overrides(uow, project_id)
    project = stored.get(PROJECT_LEVEL, {})
    cache: dict[str | None, DetectorSettings] = {}

    def resolve(agent: str | None) -> DetectorSettings:
        if agent not in cache:
            cache[agent] = merge(project, stored.get(agent) if agent else None)
        return cache[agent]

    return resolve


def _view(
    project: ProjectRow, agent: str | None, stored: dict[str, dict[str, Any]]
) -> DetectorSettingsView:
    level = agent or PROJECT_LEVEL
    return DetectorSettingsView(
        project=project.name,
        agent=agent,
        overrides=stored.get(level, {}),
        effective=merge(stored.get(PROJECT_LEVEL, {}), stored.get(agent) if agent else None),
        agents_with_overrides=sorted(a for a, o in stored.items() if a != PROJECT_LEVEL and o),
    )


def _agent(agent: str | None) -> str | None:
    if agent is None:
        return None
    agent = agent.strip()
    if not agent or len(agent) > 200:
        raise InvalidRequest(
            "agent must be 1-200 characters (the agent name spans carry).", code="invalid_agent"
        )
    return agent


def get_settings(
    rt: Runtime, actor: Principal, project: str, *, agent: str | None = None
) -> DetectorSettingsView:
    """The detector settings of a project, or of one agent in it."""
    agent = _agent(agent)
    with rt.db.read() as uow:
        row = resolve_project(uow, actor, project, Permission.TRACES_READ)
        return _view(row, agent, _overrides(uow, row.id))


def update_settings(
    rt: Runtime,
    actor: Principal,
    project: str,
    body: DetectorSettingsUpdate,
    *,
    agent: str | None = None,
) -> DetectorSettingsView:
    """Set and unset overrides (project admins; audited as ``detector_settings.update``).

    The circuit breaker (``halt_on``) stops agents' calls, hence the admin role."""
    agent = _agent(agent)
    fields = DetectorSettings.model_fields
    unknown = sorted((set(body.set) | set(body.unset)) - set(fields))
    if unknown:
        raise InvalidRequest(
            f"unknown detector settings {unknown}; known: {', '.join(fields)}.",
            code="unknown_setting",
            details={"unknown": unknown},
        )
    now = rt.clock.now()
    with rt.db.write() as uow:
        project_row = resolve_project(uow, actor, project, Permission.PROJECTS_ADMIN)
        stored = _overrides(uow, project_row.id)
        level = agent or PROJECT_LEVEL
        changed = {k: v for k, v in stored.get(level, {}).items() if k not in body.unset}
        changed.update(body.set)
        base = {} if level == PROJECT_LEVEL else stored.get(PROJECT_LEVEL, {})
        try:
            validated = DetectorSettings.model_validate({**base, **changed})
        except ValidationError as exc:
            raise InvalidRequest(
                "those detector settings are not valid: "
                + "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()),
                code="invalid_detector_settings",
            ) from exc
        # Keep the values as validated (e.g. "3" becomes 3), but only the ones set here.
        clean = validated.model_dump(mode="json", include=set(changed))
        row = uow.scalars(
            select(DetectorSettingsRow).where(
                DetectorSettingsRow.project_id == project_row.id,
                DetectorSettingsRow.agent_name == level,
            )
        ).one_or_none()
        if row is None:
            row = DetectorSettingsRow(
                project_id=project_row.id, agent_name=level, overrides={}, updated_by=""
            )
            uow.add(row)
        row.overrides, row.updated_by, row.updated_at = clean, actor.name, now
        record_audit(
            uow,
            actor=actor,
            action="detector_settings.update",
            target_kind="detector_settings",
            target_id=agent or project_row.name,
            project=project_row,
            details={"agent": agent, "set": body.set, "unset": body.unset},
            now=now,
        )
        stored[level] = clean
        return _view(project_row, agent, stored)
