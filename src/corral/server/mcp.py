"""``/mcp``: the memory tools over streamable HTTP, inside the server.

Each request is authenticated with the same API key handling as REST (``Authorization: Bearer``
or ``X-API-Key``), and each tool calls the core services as that principal, so access rules are
exactly those of the REST API. The endpoint is stateless (JSON responses, no server-side MCP
session), so any replica can answer any request.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from anyio import to_thread
from fastapi import FastAPI
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.transport_security import TransportSecuritySettings
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from corral.core import projects as project_service
from corral.core.access import Principal
from corral.core.keys import authenticate
from corral.core.memory import items, recall, remember, restore
from corral.core.memory.recall import RecallQuery
from corral.core.runtime import Runtime
from corral.errors import CorralError, Unauthenticated
from corral.mcp.backend import MemoryBackend
from corral.mcp.tools import build_server
from corral.schemas.memory import (
    ContextPack,
    MemoryItem,
    MemoryItemCreate,
    MemoryKind,
    RecallResult,
    RememberManyResult,
    RememberResult,
    Validity,
)
from corral.schemas.tenancy import Project
from corral.server.errors import error_response

MCP_PATH = "/mcp"


class CoreBackend:
    """The memory tools' operations as direct calls of the core services (in a worker thread,
    since they block on the database)."""

    def __init__(self, rt: Runtime, actor: Principal) -> None:
        self.rt, self.actor = rt, actor

    async def list_projects(self) -> list[Project]:
        page = await to_thread.run_sync(
            lambda: project_service.list_projects(self.rt, self.actor, limit=500)
        )
        return page.data

    async def open_project(
        self, name: str | None, recent: bool, task: str | None, budget: int | None
    ) -> ContextPack:
        return await to_thread.run_sync(
            lambda: restore.open_project(
                self.rt, self.actor, name=name, recent=recent, task=task, budget=budget
            )
        )

    async def remember(
        self, project: str, item: MemoryItemCreate, supersede: bool
    ) -> RememberResult:
        result: RememberManyResult = await to_thread.run_sync(
            lambda: remember.remember_many(
                self.rt, self.actor, project, [item], supersede=supersede
            )
        )
        return result.results[0]

    async def recall(
        self,
        project: str,
        query: str,
        kinds: list[str],
        tags: list[str],
        include_history: bool,
        limit: int,
    ) -> RecallResult:
        wanted = RecallQuery(
            query=query,
            kinds=tuple(MemoryKind(k) for k in kinds),
            tags=tuple(tags),
            validity=Validity.ALL if include_history else Validity.CURRENT,
            limit=limit,
        )
        return await to_thread.run_sync(lambda: recall.recall(self.rt, self.actor, project, wanted))

    async def restore(self, project: str, task: str | None, budget: int | None) -> ContextPack:
        return await to_thread.run_sync(
            lambda: restore.restore(self.rt, self.actor, project, task=task, budget=budget)
        )

    async def complete_task(self, project: str, item_id: int) -> MemoryItem:
        return await to_thread.run_sync(
            lambda: items.complete_task(self.rt, self.actor, project, item_id)
        )

    async def forget(self, project: str, item_id: int) -> None:
        await to_thread.run_sync(lambda: items.forget_item(self.rt, self.actor, project, item_id))


def _token(headers: Any) -> str | None:
    authorization = headers.get("authorization") if headers else None
    if authorization:
        scheme, _, token = str(authorization).partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
    api_key = headers.get("x-api-key") if headers else None
    return str(api_key).strip() if api_key else None


class _AsgiEndpoint:
    """Makes Starlette route to a raw ASGI callable (it calls plain functions with a Request)."""

    def __init__(self, handler: Callable[[Scope, Receive, Send], Awaitable[None]]) -> None:
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handler(scope, receive, send)


def mount_mcp(app: FastAPI) -> Any:
    """Serve the MCP tools at ``/mcp`` of ``app``; returns a lifespan context to enter while the
    app runs (it drives the MCP session manager)."""

    async def backend_for(ctx: Context) -> MemoryBackend:
        rt: Runtime = app.state.runtime
        token = _token(ctx.headers)
        if token is None:
            raise ToolError("missing_credentials: send 'Authorization: Bearer crl_…'.")
        try:
            actor = await to_thread.run_sync(authenticate, rt, token)
        except CorralError as exc:
            raise ToolError(f"{exc.code}: {exc.message}") from exc
        return CoreBackend(rt, actor)

    def new_manager() -> Any:
        server = build_server(backend_for)
        # Every request must carry an API key in a header, which a DNS-rebinding page cannot
        # supply, so the Host check (meant for unauthenticated local servers) is off.
        server.streamable_http_app(
            streamable_http_path=MCP_PATH,
            stateless_http=True,
            json_response=True,
            transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
        )
        return server.session_manager

    # A session manager runs once; each start of the app (tests start one app several times)
    # gets a fresh one.
    current: dict[str, Any] = {}

    async def endpoint(scope: Scope, receive: Receive, send: Send) -> None:
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        rt: Runtime = app.state.runtime
        token = _token(headers)
        try:
            if token is None:
                raise Unauthenticated(
                    "the MCP endpoint needs an API key: send 'Authorization: Bearer crl_…'.",
                    code="missing_credentials",
                )
            await to_thread.run_sync(authenticate, rt, token)
        except CorralError as exc:
            response = error_response(
                exc, {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
            )
            await response(scope, receive, send)
            return
        await current["manager"].handle_request(scope, receive, send)

    route = Route(MCP_PATH, endpoint=_AsgiEndpoint(endpoint), methods=["GET", "POST", "DELETE"])
    app.router.routes.append(route)

    @asynccontextmanager
    async def running() -> AsyncIterator[None]:
        current["manager"] = new_manager()
        async with current["manager"].run():
            yield

    return running
