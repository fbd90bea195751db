"""Agents: every agent's deployments and rollouts; one agent's versions, diffs, deployments,
rollouts with their analysis, and tool policy, with promote / abort / pause / resume / rollback."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import quote

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from corral.core import deployments, rollouts
from corral.core.console_agents import agent_detail, agent_summaries
from corral.errors import CorralError
from corral.server.console.rendering import (
    Viewer,
    error_page,
    read_form,
    redirect,
    render,
    viewer_of,
)
from corral.server.deps import get_runtime

router = APIRouter()


@router.get("/agents", response_class=HTMLResponse)
def agents_page(request: Request) -> Response:
    viewer = viewer_of(request)
    summaries = agent_summaries(get_runtime(request), viewer.principal)
    return render(request, "agents.html", viewer, agents=summaries)


def _compare(request: Request) -> tuple[int, int] | None:
    try:
        first, second = int(request.query_params["from"]), int(request.query_params["to"])
    except (KeyError, ValueError):
        return None
    return first, second


def _agent_page(
    request: Request,
    viewer: Viewer,
    name: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    detail = agent_detail(get_runtime(request), viewer.principal, name, _compare(request))
    return render(
        request,
        "agent.html",
        viewer,
        status=status,
        error=error,
        detail=detail,
        environments=sorted({d.environment for d in detail.deployments}) or ["production"],
    )


@router.get("/agents/{name}", response_class=HTMLResponse)
def agent_page(request: Request, name: str) -> Response:
    viewer = viewer_of(request)
    try:
        return _agent_page(request, viewer, name)
    except CorralError as exc:
        return error_page(request, viewer, exc)


Action = Callable[[Request, Viewer, str, dict[str, str]], str]


def _rollback(request: Request, viewer: Viewer, name: str, form: dict[str, str]) -> str:
    deployment = deployments.rollback(
        get_runtime(request),
        viewer.principal,
        name,
        form.get("environment") or "production",
        form.get("reason", ""),
    )
    return f"{deployment.environment} serves version {deployment.active_version} of {name} again."


def _rollout_action(verb: str) -> Action:
    act = {
        "pause": rollouts.pause_rollout,
        "resume": rollouts.resume_rollout,
        "promote": rollouts.promote_rollout,
        "abort": rollouts.abort_rollout,
    }[verb]

    def run(request: Request, viewer: Viewer, name: str, form: dict[str, str]) -> str:
        rollout = act(
            get_runtime(request),
            viewer.principal,
            name,
            int(form["rollout_id"]),
            form.get("reason", ""),
        )
        return f"Rollout {rollout.id} of version {rollout.version} is {rollout.status}."

    return run


ACTIONS: dict[str, Action] = {
    "rollback": _rollback,
    **{verb: _rollout_action(verb) for verb in ("pause", "resume", "promote", "abort")},
}


@router.post("/agents/{name}/{action}", response_class=HTMLResponse)
async def agent_action(request: Request, name: str, action: str) -> Response:
    form = await read_form(request)
    viewer = viewer_of(request)
    handler = ACTIONS.get(action)
    if handler is None:
        return error_page(
            request,
            viewer,
            CorralError("This page does not exist.", code="page_not_found", status=404),
        )
    try:
        notice = handler(request, viewer, name, form)
    except (KeyError, ValueError) as exc:
        return _agent_page(
            request, viewer, name, error=f"the form is incomplete: {exc}", status=422
        )
    except CorralError as exc:
        return _agent_page(request, viewer, name, error=exc.message, status=exc.status)
    return redirect(f"/console/agents/{quote(name, safe='')}", notice)
