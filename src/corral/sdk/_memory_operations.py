"""The memory calls, written once for both clients."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from corral.schemas.common import Page
from corral.schemas.memory import (
    Brief,
    ContextPack,
    ImportResult,
    ItemVersion,
    MemoryItem,
    MemoryItemCreate,
    RecallResult,
    RememberManyResult,
    RememberResult,
)
from corral.sdk._calls import Call, body_of, no_content, parser, segment

_item = parser(MemoryItem)
_items = parser(Page[MemoryItem])
_brief = parser(Brief)
_pack = parser(ContextPack)
_recall = parser(RecallResult)


def _text(body: Any) -> str:
    return "" if body is None else str(body)


def _base(project: str) -> str:
    return f"/v1/projects/{segment(project)}/memory"


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def remember(project: str, item: MemoryItemCreate, supersede: bool) -> Call[RememberResult]:
    body = {**item.model_dump(mode="json", exclude_defaults=True), "content": item.content}
    if supersede:
        body["supersede"] = True
    return Call("POST", f"{_base(project)}/items", parser(RememberResult), json=body)


def remember_many(
    project: str, items: Sequence[MemoryItemCreate], supersede: bool
) -> Call[RememberManyResult]:
    body: dict[str, Any] = {
        "items": [
            {**i.model_dump(mode="json", exclude_defaults=True), "content": i.content}
            for i in items
        ]
    }
    if supersede:
        body["supersede"] = True
    return Call("POST", f"{_base(project)}/items/batch", parser(RememberManyResult), json=body)


def filters(
    kinds: Sequence[str] | None,
    tags: Sequence[str] | None,
    key: str | None,
    validity: str | None,
    since: datetime | None,
    until: datetime | None,
) -> dict[str, Any]:
    return body_of(
        kind=list(kinds) if kinds else None,
        tag=list(tags) if tags else None,
        key=key,
        validity=validity,
        since=_iso(since),
        until=_iso(until),
    )


def list_items(project: str, params: dict[str, Any], limit: int) -> Any:
    def page(cursor: str | None) -> Call[Page[MemoryItem]]:
        return Call(
            "GET",
            f"{_base(project)}/items",
            _items,
            params={**params, **body_of(cursor=cursor, limit=limit)},
        )

    return page


def get_item(project: str, item_id: int) -> Call[MemoryItem]:
    return Call("GET", f"{_base(project)}/items/{segment(item_id)}", _item)


def history(project: str, item_id: int) -> Call[list[ItemVersion]]:
    path = f"{_base(project)}/items/{segment(item_id)}/history"
    return Call("GET", path, parser(list[ItemVersion]))


def update_item(project: str, item_id: int, changes: dict[str, Any]) -> Call[MemoryItem]:
    return Call("PATCH", f"{_base(project)}/items/{segment(item_id)}", _item, json=changes)


def complete(project: str, item_id: int) -> Call[MemoryItem]:
    return Call("POST", f"{_base(project)}/items/{segment(item_id)}/complete", _item)


def supersede(project: str, item_id: int, content: str) -> Call[RememberResult]:
    path = f"{_base(project)}/items/{segment(item_id)}/supersede"
    return Call("POST", path, parser(RememberResult), json={"content": content})


def forget(project: str, item_id: int) -> Call[None]:
    return Call("DELETE", f"{_base(project)}/items/{segment(item_id)}", no_content)


def recall(project: str, query: str, params: dict[str, Any], limit: int) -> Call[RecallResult]:
    return Call(
        "GET", f"{_base(project)}/recall", _recall, params={**params, "q": query, "limit": limit}
    )


def recall_across(
    projects: Sequence[str], query: str, params: dict[str, Any], limit: int
) -> Call[RecallResult]:
    all_params = {**params, "project": list(projects), "q": query, "limit": limit}
    return Call("GET", "/v1/memory/recall", _recall, params=all_params)


def restore(project: str, task: str | None, budget: int | None) -> Call[ContextPack]:
    params = body_of(task=task, budget=budget)
    return Call("GET", f"{_base(project)}/restore", _pack, params=params)


def open_project(
    project: str | None, recent: bool, task: str | None, budget: int | None
) -> Call[ContextPack]:
    body = body_of(project=project, recent=recent or None, task=task, budget=budget)
    return Call("POST", "/v1/memory/open", _pack, json=body)


def get_brief(project: str) -> Call[Brief]:
    return Call("GET", f"{_base(project)}/brief", _brief)


def update_brief(
    project: str, goal: str | None, directory: str | None, notes: str | None
) -> Call[Brief]:
    body = body_of(goal=goal, directory=directory, notes=notes)
    return Call("PATCH", f"{_base(project)}/brief", _brief, json=body)


def export(project: str, form: str) -> Call[str]:
    return Call("GET", f"{_base(project)}/export", _text, params={"format": form}, raw=True)


def import_jsonl(project: str, document: str) -> Call[ImportResult]:
    return Call(
        "POST",
        f"{_base(project)}/import",
        parser(ImportResult),
        content=document.encode(),
        content_type="application/x-ndjson",
    )
