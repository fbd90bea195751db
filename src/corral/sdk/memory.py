"""``client.memory``: project memory from Python, sync and async."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any

from corral.schemas.memory import (
    Brief,
    ContextPack,
    ImportResult,
    ItemVersion,
    MemoryItem,
    MemoryItemCreate,
    MemoryItemUpdate,
    RecallResult,
    RememberManyResult,
    RememberResult,
)
from corral.sdk import _memory_operations as ops

if TYPE_CHECKING:
    from corral.sdk.client import AsyncClient, Client

BATCH = 5000
"""Items per request of ``remember_many`` (the server's limit per batch)."""

ItemLike = MemoryItemCreate | Mapping[str, Any]


def _item(
    content: str,
    *,
    kind: str,
    key: str | None,
    tags: Sequence[str] | None,
    source: str | None,
    session: str | None,
    pinned: bool,
    importance: float | None,
    status: str | None,
    valid_from: datetime | None,
    valid_to: datetime | None,
) -> MemoryItemCreate:
    values: dict[str, Any] = {"content": content, "kind": kind, "pinned": pinned}
    optional = {
        "key": key,
        "tags": list(tags) if tags else None,
        "source": source,
        "session": session,
        "importance": importance,
        "status": status,
        "valid_from": valid_from,
        "valid_to": valid_to,
    }
    values.update({k: v for k, v in optional.items() if v is not None})
    return MemoryItemCreate.model_validate(values)


def _items(items: Sequence[ItemLike]) -> list[MemoryItemCreate]:
    return [
        i if isinstance(i, MemoryItemCreate) else MemoryItemCreate.model_validate(i) for i in items
    ]


def _changes(**values: Any) -> dict[str, Any]:
    update = MemoryItemUpdate.model_validate({k: v for k, v in values.items() if v is not None})
    return update.model_dump(mode="json", exclude_unset=True)


def _merge(results: Sequence[RememberManyResult]) -> RememberManyResult:
    return RememberManyResult(
        results=[r for part in results for r in part.results],
        created=sum(part.created for part in results),
        duplicates=sum(part.duplicates for part in results),
    )


class Memory:
    """Project memory through a :class:`~corral.Client`.

    Every method names the project; the server refuses projects the key does not reach.
    """

    def __init__(self, client: Client) -> None:
        self._client = client

    def remember(
        self,
        project: str,
        content: str,
        *,
        kind: str = "note",
        key: str | None = None,
        tags: Sequence[str] | None = None,
        source: str | None = None,
        session: str | None = None,
        pinned: bool = False,
        importance: float | None = None,
        status: str | None = None,
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
        supersede: bool = False,
    ) -> RememberResult:
        """Remember one item. ``outcome`` says whether it was created, a duplicate, or
        superseded older items with the same key; a contradicting decision or constraint raises
        :class:`corral.Conflict` unless ``supersede=True``."""
        item = _item(
            content,
            kind=kind,
            key=key,
            tags=tags,
            source=source,
            session=session,
            pinned=pinned,
            importance=importance,
            status=status,
            valid_from=valid_from,
            valid_to=valid_to,
        )
        return self._client.call(ops.remember(project, item, supersede))

    def remember_many(
        self, project: str, items: Sequence[ItemLike], *, supersede: bool = False
    ) -> RememberManyResult:
        """Remember a batch (sent in requests of up to 5000 items, each all-or-nothing)."""
        parsed = _items(items)
        return _merge(
            [
                self._client.call(ops.remember_many(project, parsed[i : i + BATCH], supersede))
                for i in range(0, len(parsed), BATCH)
            ]
        )

    def recall(
        self,
        project: str,
        query: str,
        *,
        kinds: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        key: str | None = None,
        validity: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 10,
    ) -> RecallResult:
        """Ranked items of one project, each with its score breakdown."""
        params = ops.filters(kinds, tags, key, validity, since, until)
        return self._client.call(ops.recall(project, query, params, limit))

    def recall_across(
        self,
        projects: Sequence[str],
        query: str,
        *,
        kinds: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        validity: str | None = None,
        limit: int = 10,
    ) -> RecallResult:
        """Recall over several projects the key may read (audited on the server)."""
        params = ops.filters(kinds, tags, None, validity, None, None)
        return self._client.call(ops.recall_across(projects, query, params, limit))

    def restore(
        self, project: str, *, task: str | None = None, budget: int | None = None
    ) -> ContextPack:
        """The context pack of a project within ``budget`` tokens."""
        return self._client.call(ops.restore(project, task, budget))

    def open(
        self, project: str, *, task: str | None = None, budget: int | None = None
    ) -> ContextPack:
        """Restore a project named exactly or approximately (``"acme"`` finds ``acme-web``)."""
        return self._client.call(ops.open_project(project, False, task, budget))

    def open_recent(self, *, task: str | None = None, budget: int | None = None) -> ContextPack:
        """Restore the project this key's owner worked in most recently."""
        return self._client.call(ops.open_project(None, True, task, budget))

    def forget(self, project: str, item_id: int) -> None:
        """Delete an item, its history and its index entries for good (audited)."""
        self._client.call(ops.forget(project, item_id))

    def get(self, project: str, item_id: int) -> MemoryItem:
        return self._client.call(ops.get_item(project, item_id))

    def list(
        self,
        project: str,
        *,
        kinds: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        key: str | None = None,
        status: Sequence[str] | None = None,
        validity: str | None = None,
        pinned: bool | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> builtins.list[MemoryItem]:
        """Every matching item, newest first (pages are followed for you)."""
        params = ops.filters(kinds, tags, key, validity, since, until)
        if status:
            params["status"] = builtins.list(status)
        if pinned is not None:
            params["pinned"] = "true" if pinned else "false"
        return self._client.collect(ops.list_items(project, params, 500))

    def history(self, project: str, item_id: int) -> builtins.list[ItemVersion]:
        return self._client.call(ops.history(project, item_id))

    def update(
        self,
        project: str,
        item_id: int,
        *,
        content: str | None = None,
        tags: Sequence[str] | None = None,
        pinned: bool | None = None,
        importance: float | None = None,
        status: str | None = None,
        valid_to: datetime | None = None,
    ) -> MemoryItem:
        changes = _changes(
            content=content,
            tags=builtins.list(tags) if tags is not None else None,
            pinned=pinned,
            importance=importance,
            status=status,
            valid_to=valid_to,
        )
        return self._client.call(ops.update_item(project, item_id, changes))

    def complete(self, project: str, item_id: int) -> MemoryItem:
        """Mark a task done."""
        return self._client.call(ops.complete(project, item_id))

    def supersede(self, project: str, item_id: int, content: str) -> RememberResult:
        """Replace a current item by a new one with ``content`` (same kind, key, tags, pin,
        importance and status); the old one is closed and stays in history."""
        return self._client.call(ops.supersede(project, item_id, content))

    def brief(self, project: str) -> Brief:
        return self._client.call(ops.get_brief(project))

    def update_brief(
        self,
        project: str,
        *,
        goal: str | None = None,
        directory: str | None = None,
        notes: str | None = None,
    ) -> Brief:
        return self._client.call(ops.update_brief(project, goal, directory, notes))

    def export(self, project: str, *, format: str = "jsonl") -> str:
        """JSONL (lossless, for import) or Markdown (for people)."""
        return self._client.call(ops.export(project, format))

    def import_jsonl(self, project: str, document: str) -> ImportResult:
        """Import a JSONL export: all lines, or none when any is bad."""
        return self._client.call(ops.import_jsonl(project, document))


class AsyncMemory:
    """Project memory through a :class:`~corral.AsyncClient`; the methods of :class:`Memory`."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def remember(
        self,
        project: str,
        content: str,
        *,
        kind: str = "note",
        key: str | None = None,
        tags: Sequence[str] | None = None,
        source: str | None = None,
        session: str | None = None,
        pinned: bool = False,
        importance: float | None = None,
        status: str | None = None,
        valid_from: datetime | None = None,
        valid_to: datetime | None = None,
        supersede: bool = False,
    ) -> RememberResult:
        item = _item(
            content,
            kind=kind,
            key=key,
            tags=tags,
            source=source,
            session=session,
            pinned=pinned,
            importance=importance,
            status=status,
            valid_from=valid_from,
            valid_to=valid_to,
        )
        return await self._client.call(ops.remember(project, item, supersede))

    async def remember_many(
        self, project: str, items: Sequence[ItemLike], *, supersede: bool = False
    ) -> RememberManyResult:
        parsed = _items(items)
        parts = [
            await self._client.call(ops.remember_many(project, parsed[i : i + BATCH], supersede))
            for i in range(0, len(parsed), BATCH)
        ]
        return _merge(parts)

    async def recall(
        self,
        project: str,
        query: str,
        *,
        kinds: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        key: str | None = None,
        validity: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 10,
    ) -> RecallResult:
        params = ops.filters(kinds, tags, key, validity, since, until)
        return await self._client.call(ops.recall(project, query, params, limit))

    async def recall_across(
        self,
        projects: Sequence[str],
        query: str,
        *,
        kinds: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        validity: str | None = None,
        limit: int = 10,
    ) -> RecallResult:
        params = ops.filters(kinds, tags, None, validity, None, None)
        return await self._client.call(ops.recall_across(projects, query, params, limit))

    async def restore(
        self, project: str, *, task: str | None = None, budget: int | None = None
    ) -> ContextPack:
        return await self._client.call(ops.restore(project, task, budget))

    async def open(
        self, project: str, *, task: str | None = None, budget: int | None = None
    ) -> ContextPack:
        return await self._client.call(ops.open_project(project, False, task, budget))

    async def open_recent(
        self, *, task: str | None = None, budget: int | None = None
    ) -> ContextPack:
        return await self._client.call(ops.open_project(None, True, task, budget))

    async def forget(self, project: str, item_id: int) -> None:
        await self._client.call(ops.forget(project, item_id))

    async def get(self, project: str, item_id: int) -> MemoryItem:
        return await self._client.call(ops.get_item(project, item_id))

    async def list(
        self,
        project: str,
        *,
        kinds: Sequence[str] | None = None,
        tags: Sequence[str] | None = None,
        key: str | None = None,
        status: Sequence[str] | None = None,
        validity: str | None = None,
        pinned: bool | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> builtins.list[MemoryItem]:
        params = ops.filters(kinds, tags, key, validity, since, until)
        if status:
            params["status"] = builtins.list(status)
        if pinned is not None:
            params["pinned"] = "true" if pinned else "false"
        return await self._client.collect(ops.list_items(project, params, 500))

    async def history(self, project: str, item_id: int) -> builtins.list[ItemVersion]:
        return await self._client.call(ops.history(project, item_id))

    async def update(
        self,
        project: str,
        item_id: int,
        *,
        content: str | None = None,
        tags: Sequence[str] | None = None,
        pinned: bool | None = None,
        importance: float | None = None,
        status: str | None = None,
        valid_to: datetime | None = None,
    ) -> MemoryItem:
        changes = _changes(
            content=content,
            tags=builtins.list(tags) if tags is not None else None,
            pinned=pinned,
            importance=importance,
            status=status,
            valid_to=valid_to,
        )
        return await self._client.call(ops.update_item(project, item_id, changes))

    async def complete(self, project: str, item_id: int) -> MemoryItem:
        return await self._client.call(ops.complete(project, item_id))

    async def supersede(self, project: str, item_id: int, content: str) -> RememberResult:
        return await self._client.call(ops.supersede(project, item_id, content))

    async def brief(self, project: str) -> Brief:
        return await self._client.call(ops.get_brief(project))

    async def update_brief(
        self,
        project: str,
        *,
        goal: str | None = None,
        directory: str | None = None,
        notes: str | None = None,
    ) -> Brief:
        return await self._client.call(ops.update_brief(project, goal, directory, notes))

    async def export(self, project: str, *, format: str = "jsonl") -> str:
        return await self._client.call(ops.export(project, format))

    async def import_jsonl(self, project: str, document: str) -> ImportResult:
        return await self._client.call(ops.import_jsonl(project, document))
