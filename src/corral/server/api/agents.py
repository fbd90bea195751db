from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from corral.core import agents
from corral.core.pagination import MAX_PAGE_SIZE
from corral.schemas.common import Page
from corral.schemas.tenancy import Agent, AgentCreate, AgentUpdate
from corral.server.deps import Actor, RuntimeDep

router = APIRouter(prefix="/agents", tags=["agents"])


@router.get("", summary="Agents granted to projects the caller reaches")
def list_agents(
    rt: RuntimeDep,
    actor: Actor,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 100,
    cursor: str | None = None,
) -> Page[Agent]:
    return agents.list_agents(rt, actor, limit=limit, cursor=cursor)


@router.post("", status_code=201, summary="Create an agent identity (workspace admins)")
def create_agent(rt: RuntimeDep, actor: Actor, body: AgentCreate) -> Agent:
    return agents.create_agent(rt, actor, body)


@router.get("/{agent}", summary="One agent")
def get_agent(rt: RuntimeDep, actor: Actor, agent: str) -> Agent:
    return agents.get_agent(rt, actor, agent)


@router.patch("/{agent}", summary="Describe, disable or enable an agent (workspace admins)")
def update_agent(rt: RuntimeDep, actor: Actor, agent: str, body: AgentUpdate) -> Agent:
    return agents.update_agent(rt, actor, agent, body)
