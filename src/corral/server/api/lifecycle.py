from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from corral.core import deployments, rollouts, versions
from corral.schemas.lifecycle import (
    AgentVersion,
    Deployment,
    DeployRequest,
    DraftUpdate,
    ResolvedVersion,
    RollbackRequest,
    Rollout,
    RolloutAction,
    RolloutCreate,
    RolloutStatus,
    VersionCreate,
    VersionDiff,
    VersionTransition,
)
from corral.server.deps import Actor, RuntimeDep

router = APIRouter(prefix="/agents/{agent}", tags=["lifecycle"])


@router.get("/versions", summary="An agent's versions, newest first")
def list_versions(rt: RuntimeDep, actor: Actor, agent: str) -> list[AgentVersion]:
    return versions.list_versions(rt, actor, agent)


@router.post(
    "/versions",
    status_code=201,
    summary="Create a version from a config, or from an earlier version with changes",
)
def create_version(rt: RuntimeDep, actor: Actor, agent: str, body: VersionCreate) -> AgentVersion:
    return versions.create_version(rt, actor, agent, body)


@router.get("/versions/{number}", summary="One version")
def get_version(rt: RuntimeDep, actor: Actor, agent: str, number: int) -> AgentVersion:
    return versions.get_version(rt, actor, agent, number)


@router.patch("/versions/{number}", summary="Change a draft (other versions are immutable)")
def update_draft(
    rt: RuntimeDep, actor: Actor, agent: str, number: int, body: DraftUpdate
) -> AgentVersion:
    return versions.update_draft(rt, actor, agent, number, body)


@router.post(
    "/versions/{number}/transition",
    summary="Move a version: freeze a draft (candidate), deprecate or retire",
)
def transition(
    rt: RuntimeDep, actor: Actor, agent: str, number: int, body: VersionTransition
) -> AgentVersion:
    return versions.transition_version(rt, actor, agent, number, body.state, body.reason)


@router.get("/versions/{first}/diff/{second}", summary="What changed between two versions")
def diff(rt: RuntimeDep, actor: Actor, agent: str, first: int, second: int) -> VersionDiff:
    return versions.diff_versions(rt, actor, agent, first, second)


@router.get("/deployments", summary="What each environment serves")
def list_deployments(rt: RuntimeDep, actor: Actor, agent: str) -> list[Deployment]:
    return deployments.list_deployments(rt, actor, agent)


@router.post("/deployments", summary="Deploy a version to an environment, as active or as canary")
def deploy(rt: RuntimeDep, actor: Actor, agent: str, body: DeployRequest) -> Deployment:
    return deployments.deploy(rt, actor, agent, body)


@router.post("/rollback", summary="Serve the previous version again, at once")
def rollback(rt: RuntimeDep, actor: Actor, agent: str, body: RollbackRequest) -> Deployment:
    return deployments.rollback(rt, actor, agent, body.environment, body.reason)


@router.get("/resolve", summary="The version a session must use (the same for its whole life)")
def resolve(
    rt: RuntimeDep,
    actor: Actor,
    agent: str,
    environment: Annotated[str, Query(pattern=r"^[a-z][a-z0-9_-]{0,62}$")] = "production",
    session: Annotated[str | None, Query(max_length=256)] = None,
) -> ResolvedVersion:
    return deployments.resolve(rt, actor, agent, environment, session)


@router.get("/rollouts", summary="An agent's rollouts, newest first")
def list_rollouts(
    rt: RuntimeDep,
    actor: Actor,
    agent: str,
    status: Annotated[RolloutStatus | None, Query()] = None,
) -> list[Rollout]:
    return rollouts.list_rollouts(rt, actor, agent, status=status)


@router.post(
    "/rollouts",
    status_code=201,
    summary="Start a staged rollout of a version as a canary, judged step by step",
)
def start_rollout(rt: RuntimeDep, actor: Actor, agent: str, body: RolloutCreate) -> Rollout:
    return rollouts.start_rollout(rt, actor, agent, body)


@router.get("/rollouts/{rollout_id}", summary="A rollout with the analysis of every step")
def get_rollout(rt: RuntimeDep, actor: Actor, agent: str, rollout_id: int) -> Rollout:
    return rollouts.get_rollout(rt, actor, agent, rollout_id)


@router.post(
    "/rollouts/{rollout_id}/analyze",
    summary="Judge the current step now if it is due (the background job does it periodically)",
)
def analyze_rollout(rt: RuntimeDep, actor: Actor, agent: str, rollout_id: int) -> Rollout:
    return rollouts.analyze_rollout(rt, actor, agent, rollout_id)


@router.post("/rollouts/{rollout_id}/pause", summary="Stop judging; the canary keeps its weight")
def pause_rollout(
    rt: RuntimeDep, actor: Actor, agent: str, rollout_id: int, body: RolloutAction
) -> Rollout:
    return rollouts.pause_rollout(rt, actor, agent, rollout_id, body.reason)


@router.post("/rollouts/{rollout_id}/resume", summary="Judge again; the current step starts over")
def resume_rollout(
    rt: RuntimeDep, actor: Actor, agent: str, rollout_id: int, body: RolloutAction
) -> Rollout:
    return rollouts.resume_rollout(rt, actor, agent, rollout_id, body.reason)


@router.post("/rollouts/{rollout_id}/promote", summary="Make the canary active now")
def promote_rollout(
    rt: RuntimeDep, actor: Actor, agent: str, rollout_id: int, body: RolloutAction
) -> Rollout:
    return rollouts.promote_rollout(rt, actor, agent, rollout_id, body.reason)


@router.post("/rollouts/{rollout_id}/abort", summary="Take the canary out now (weight 0, aborted)")
def abort_rollout(
    rt: RuntimeDep, actor: Actor, agent: str, rollout_id: int, body: RolloutAction
) -> Rollout:
    return rollouts.abort_rollout(rt, actor, agent, rollout_id, body.reason)
