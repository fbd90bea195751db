"""Calls for agent versions, deployments and resolution."""

from __future__ import annotations

from typing import Any

from corral.schemas.lifecycle import AgentVersion, Deployment, ResolvedVersion, VersionDiff
from corral.sdk._calls import Call, body_of, parser, segment

_version = parser(AgentVersion)
_deployment = parser(Deployment)


def _base(agent: str) -> str:
    return f"/v1/agents/{segment(agent)}"


def list_versions(agent: str) -> Call[list[AgentVersion]]:
    return Call("GET", f"{_base(agent)}/versions", parser(list[AgentVersion]))


def create_version(agent: str, body: dict[str, Any]) -> Call[AgentVersion]:
    return Call("POST", f"{_base(agent)}/versions", _version, json=body)


def get_version(agent: str, number: int) -> Call[AgentVersion]:
    return Call("GET", f"{_base(agent)}/versions/{segment(number)}", _version)


def update_draft(agent: str, number: int, body: dict[str, Any]) -> Call[AgentVersion]:
    return Call("PATCH", f"{_base(agent)}/versions/{segment(number)}", _version, json=body)


def transition(agent: str, number: int, state: str, reason: str) -> Call[AgentVersion]:
    path = f"{_base(agent)}/versions/{segment(number)}/transition"
    return Call("POST", path, _version, json={"state": state, "reason": reason})


def diff(agent: str, first: int, second: int) -> Call[VersionDiff]:
    path = f"{_base(agent)}/versions/{segment(first)}/diff/{segment(second)}"
    return Call("GET", path, parser(VersionDiff))


def list_deployments(agent: str) -> Call[list[Deployment]]:
    return Call("GET", f"{_base(agent)}/deployments", parser(list[Deployment]))


def deploy(agent: str, body: dict[str, Any]) -> Call[Deployment]:
    return Call("POST", f"{_base(agent)}/deployments", _deployment, json=body)


def rollback(agent: str, environment: str, reason: str) -> Call[Deployment]:
    body = {"environment": environment, "reason": reason}
    return Call("POST", f"{_base(agent)}/rollback", _deployment, json=body)


def resolve(agent: str, environment: str, session: str | None) -> Call[ResolvedVersion]:
    params = body_of(environment=environment, session=session)
    return Call("GET", f"{_base(agent)}/resolve", parser(ResolvedVersion), params=params)
