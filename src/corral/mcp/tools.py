"""The MCP tools of Corral memory, defined once for every transport."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import Field

from corral import __version__
from corral.errors import CorralError
from corral.mcp.backend import MemoryBackend
from corral.schemas.memory import (
    ContextPack,
    MemoryItem,
    MemoryItemCreate,
    MemoryKind,
    RecallResult,
    RememberResult,
)

BackendFor = Callable[[Context], Awaitable[MemoryBackend]]
"""How a transport finds the backend (and so the principal) of one tool call."""

TOOL_NAMES = (
    "list_projects",
    "open_project",
    "remember",
    "recall",
    "restore",
    "complete_task",
    "forget",
)

INSTRUCTIONS = (
    "Corral keeps each project's memory: decisions, constraints, facts, preferences, tasks and "
    "notes. At the start of work call open_project (recent=true resumes the last project) and "
    "follow its rules and decisions. Remember decisions and constraints with a key naming their "
    "subject; a contradiction is refused unless you pass supersede=true on purpose."
)


async def _run(call: Awaitable[Any]) -> Any:
    try:
        return await call
    except CorralError as exc:
        raise ToolError(f"{exc.code}: {exc.message}") from exc


def build_server(backend_for: BackendFor) -> MCPServer:
    """An MCP server exposing the memory tools, each served by ``backend_for(context)``."""
    server: MCPServer = MCPServer(name="corral", version=__version__, instructions=INSTRUCTIONS)

    @server.tool()
    async def list_projects(ctx: Context) -> list[dict[str, Any]]:
        """List the projects this key reaches, most recently active first."""
        backend = await backend_for(ctx)
        projects = await _run(backend.list_projects())
        return [
            {
                "name": p.name,
                "description": p.description,
                "role": p.role,
                "last_active_at": p.last_active_at.isoformat(),
            }
            for p in projects
        ]

    @server.tool()
    async def open_project(
        ctx: Context,
        name: Annotated[str | None, Field(description="Project name or part of it")] = None,
        recent: Annotated[bool, Field(description="Open the project used most recently")] = False,
        task: Annotated[str | None, Field(description="What you are about to do")] = None,
        budget: Annotated[int | None, Field(ge=64, le=200_000)] = None,
    ) -> ContextPack:
        """Open a project (by name, fuzzy, or the most recent) and return its context pack:
        goal, rules, decisions, open tasks and the items most relevant to the task."""
        backend = await backend_for(ctx)
        return await _run(backend.open_project(name, recent, task, budget))  # type: ignore[no-any-return]

    @server.tool()
    async def remember(
        ctx: Context,
        project: str,
        content: str,
        kind: MemoryKind = MemoryKind.NOTE,
        key: Annotated[str | None, Field(description="The subject, e.g. 'database'")] = None,
        tags: list[str] | None = None,
        pinned: bool = False,
        importance: Annotated[float | None, Field(ge=0, le=1)] = None,
        session: str | None = None,
        supersede: Annotated[
            bool, Field(description="Replace a contradicting decision or constraint")
        ] = False,
    ) -> RememberResult:
        """Remember one item in a project. Duplicates are not stored twice; an item with the key
        of an active one supersedes it; a contradicting decision or constraint is refused unless
        supersede is true."""
        values: dict[str, Any] = {"content": content, "kind": kind, "pinned": pinned}
        if key is not None:
            values["key"] = key
        if tags:
            values["tags"] = tags
        if importance is not None:
            values["importance"] = importance
        if session is not None:
            values["session"] = session
        try:
            item = MemoryItemCreate.model_validate(values)
        except ValueError as exc:
            raise ToolError(f"invalid_request: {exc}") from exc
        backend = await backend_for(ctx)
        return await _run(backend.remember(project, item, supersede))  # type: ignore[no-any-return]

    @server.tool()
    async def recall(
        ctx: Context,
        project: str,
        query: str,
        kinds: list[MemoryKind] | None = None,
        tags: list[str] | None = None,
        include_history: bool = False,
        limit: Annotated[int, Field(ge=1, le=100)] = 10,
    ) -> RecallResult:
        """Search a project's memory; results are ranked, with ids and score breakdowns."""
        backend = await backend_for(ctx)
        names = [k.value for k in kinds or []]
        call = backend.recall(project, query, names, list(tags or []), include_history, limit)
        return await _run(call)  # type: ignore[no-any-return]

    @server.tool()
    async def restore(
        ctx: Context,
        project: str,
        task: str | None = None,
        budget: Annotated[int | None, Field(ge=64, le=200_000)] = None,
    ) -> ContextPack:
        """The context pack of a project within a token budget."""
        backend = await backend_for(ctx)
        return await _run(backend.restore(project, task, budget))  # type: ignore[no-any-return]

    @server.tool()
    async def complete_task(ctx: Context, project: str, item_id: int) -> MemoryItem:
        """Mark a task done."""
        backend = await backend_for(ctx)
        return await _run(backend.complete_task(project, item_id))  # type: ignore[no-any-return]

    @server.tool()
    async def forget(ctx: Context, project: str, item_id: int) -> dict[str, Any]:
        """Delete an item for good (with its history); audited."""
        backend = await backend_for(ctx)
        await _run(backend.forget(project, item_id))
        return {"forgotten": item_id, "project": project}

    return server
