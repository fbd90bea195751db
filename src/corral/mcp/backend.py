"""What the MCP tools need from Corral, and the backend that reaches a server through the SDK."""

from __future__ import annotations

from typing import Protocol

from corral.schemas.memory import (
    ContextPack,
    MemoryItem,
    MemoryItemCreate,
    RecallResult,
    RememberResult,
)
from corral.schemas.tenancy import Project


class MemoryBackend(Protocol):
    """The operations behind the MCP tools, as the calling principal."""

    async def list_projects(self) -> list[Project]: ...

    async def open_project(
        self, name: str | None, recent: bool, task: str | None, budget: int | None
    ) -> ContextPack: ...

    async def remember(
        self, project: str, item: MemoryItemCreate, supersede: bool
    ) -> RememberResult: ...

    async def recall(
        self,
        project: str,
        query: str,
        kinds: list[str],
        tags: list[str],
        include_history: bool,
        limit: int,
    ) -> RecallResult: ...

    async def restore(self, project: str, task: str | None, budget: int | None) -> ContextPack: ...

    async def complete_task(self, project: str, item_id: int) -> MemoryItem: ...

    async def forget(self, project: str, item_id: int) -> None: ...


class SdkBackend:
    """Reaches a Corral server over HTTP with an API key (what ``corral mcp`` uses)."""

    def __init__(self, url: str, api_key: str) -> None:
        from corral.sdk.client import AsyncClient

        self._client = AsyncClient(url=url, api_key=api_key)

    async def list_projects(self) -> list[Project]:
        return await self._client.projects.list()

    async def open_project(
        self, name: str | None, recent: bool, task: str | None, budget: int | None
    ) -> ContextPack:
        if recent:
            return await self._client.memory.open_recent(task=task, budget=budget)
        return await self._client.memory.open(name or "", task=task, budget=budget)

    async def remember(
        self, project: str, item: MemoryItemCreate, supersede: bool
    ) -> RememberResult:
        from corral.sdk import _memory_operations as ops

        return await self._client.call(ops.remember(project, item, supersede))

    async def recall(
        self,
        project: str,
        query: str,
        kinds: list[str],
        tags: list[str],
        include_history: bool,
        limit: int,
    ) -> RecallResult:
        return await self._client.memory.recall(
            project,
            query,
            kinds=kinds,
            tags=tags,
            validity="all" if include_history else None,
            limit=limit,
        )

    async def restore(self, project: str, task: str | None, budget: int | None) -> ContextPack:
        return await self._client.memory.restore(project, task=task, budget=budget)

    async def complete_task(self, project: str, item_id: int) -> MemoryItem:
        return await self._client.memory.complete(project, item_id)

    async def forget(self, project: str, item_id: int) -> None:
        await self._client.memory.forget(project, item_id)

    async def aclose(self) -> None:
        await self._client.aclose()
