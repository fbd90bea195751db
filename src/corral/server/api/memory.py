"""Project memory over REST: ``/v1/projects/{project}/memory/…`` and the self-scoped
``/v1/memory/…`` (opening a project, recall across projects)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import PlainTextResponse

from corral.core.memory import brief, items, recall, remember, restore, transfer
from corral.core.memory.recall import RecallQuery
from corral.core.pagination import MAX_PAGE_SIZE
from corral.errors import InvalidRequest
from corral.schemas.common import Page
from corral.schemas.memory import (
    Brief,
    BriefUpdate,
    ContextPack,
    ImportResult,
    ItemVersion,
    MemoryItem,
    MemoryItemUpdate,
    MemoryKind,
    OpenRequest,
    RecallResult,
    RememberManyRequest,
    RememberManyResult,
    RememberRequest,
    RememberResult,
    SupersedeRequest,
    TaskStatus,
    Validity,
)
from corral.server.deps import Actor, RuntimeDep

router = APIRouter(prefix="/projects/{project}/memory", tags=["memory"])
workspace_router = APIRouter(prefix="/memory", tags=["memory"])

Kinds = Annotated[list[MemoryKind] | None, Query(alias="kind")]
Tags = Annotated[list[str] | None, Query(alias="tag")]
Statuses = Annotated[list[TaskStatus] | None, Query(alias="status")]
Limit = Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)]
RecallLimit = Annotated[int, Query(ge=1, le=100)]
Budget = Annotated[int | None, Query(ge=64, le=200_000)]
ItemResponses: dict[int | str, dict[str, object]] = {
    409: {"description": "Contradicts an active decision or constraint with the same key"},
    413: {"description": "Content over CORRAL_MEMORY_MAX_ITEM_BYTES"},
}


@router.post(
    "/items",
    status_code=201,
    summary="Remember one item (200 when it is a duplicate of a current item)",
    responses=ItemResponses,
)
def remember_item(
    rt: RuntimeDep, actor: Actor, project: str, body: RememberRequest, response: Response
) -> RememberResult:
    result = remember.remember(rt, actor, project, body)
    if result.outcome == "duplicate":
        response.status_code = 200
    return result


@router.post(
    "/items/batch",
    summary="Remember many items in one transaction (all or, on a conflict, none)",
    responses=ItemResponses,
)
def remember_items(
    rt: RuntimeDep, actor: Actor, project: str, body: RememberManyRequest
) -> RememberManyResult:
    return remember.remember_many(rt, actor, project, body.items, supersede=body.supersede)


@router.get("/items", summary="Items of the project, newest first")
def list_items(
    rt: RuntimeDep,
    actor: Actor,
    project: str,
    kind: Kinds = None,
    tag: Tags = None,
    key: str | None = None,
    status: Statuses = None,
    validity: Validity = Validity.CURRENT,
    pinned: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Limit = 100,
    cursor: str | None = None,
) -> Page[MemoryItem]:
    return items.list_items(
        rt,
        actor,
        project,
        kinds=tuple(kind or ()),
        tags=tuple(tag or ()),
        key=key,
        status=tuple(status or ()),
        validity=validity,
        pinned=pinned,
        since=since,
        until=until,
        limit=limit,
        cursor=cursor,
    )


@router.get("/items/{item_id}", summary="One item")
def get_item(rt: RuntimeDep, actor: Actor, project: str, item_id: int) -> MemoryItem:
    return items.get_item(rt, actor, project, item_id)


@router.get("/items/{item_id}/history", summary="Every version of an item, oldest first")
def item_history(rt: RuntimeDep, actor: Actor, project: str, item_id: int) -> list[ItemVersion]:
    return items.item_history(rt, actor, project, item_id)


@router.patch("/items/{item_id}", summary="Change an item (a new version)", responses=ItemResponses)
def update_item(
    rt: RuntimeDep, actor: Actor, project: str, item_id: int, body: MemoryItemUpdate
) -> MemoryItem:
    return items.update_item(rt, actor, project, item_id, body)


@router.post(
    "/items/{item_id}/supersede",
    summary="Replace a current item by a new one with new content (the old one stays in history)",
    responses={
        409: {"description": "The item is no longer current"},
        413: {"description": "Content over CORRAL_MEMORY_MAX_ITEM_BYTES"},
    },
)
def supersede_item(
    rt: RuntimeDep, actor: Actor, project: str, item_id: int, body: SupersedeRequest
) -> RememberResult:
    return remember.supersede_item(rt, actor, project, item_id, body.content)


@router.post("/items/{item_id}/complete", summary="Mark a task done")
def complete_task(rt: RuntimeDep, actor: Actor, project: str, item_id: int) -> MemoryItem:
    return items.complete_task(rt, actor, project, item_id)


@router.delete(
    "/items/{item_id}",
    status_code=204,
    summary="Forget an item for good: row, history and index entries (audited)",
)
def forget_item(rt: RuntimeDep, actor: Actor, project: str, item_id: int) -> Response:
    items.forget_item(rt, actor, project, item_id)
    return Response(status_code=204)


@router.get("/recall", summary="Ranked search in the project's memory, with score breakdowns")
def recall_items(
    rt: RuntimeDep,
    actor: Actor,
    project: str,
    q: Annotated[str, Query(max_length=4000)] = "",
    kind: Kinds = None,
    tag: Tags = None,
    key: str | None = None,
    validity: Validity = Validity.CURRENT,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: RecallLimit = 10,
) -> RecallResult:
    query = RecallQuery(
        query=q,
        kinds=tuple(kind or ()),
        tags=tuple(tag or ()),
        key=key,
        validity=validity,
        since=since,
        until=until,
        limit=limit,
    )
    return recall.recall(rt, actor, project, query)


@router.get("/restore", summary="The context pack of the project, within a token budget")
def restore_context(
    rt: RuntimeDep,
    actor: Actor,
    project: str,
    task: Annotated[str | None, Query(max_length=4000)] = None,
    budget: Budget = None,
) -> ContextPack:
    return restore.restore(rt, actor, project, task=task, budget=budget)


@router.get("/brief", summary="The project brief (generated sections are always current)")
def get_brief(rt: RuntimeDep, actor: Actor, project: str) -> Brief:
    return brief.get_brief(rt, actor, project)


@router.patch("/brief", summary="Edit the brief's Goal, Directory or Notes")
def update_brief(rt: RuntimeDep, actor: Actor, project: str, body: BriefUpdate) -> Brief:
    return brief.update_brief(rt, actor, project, body)


@router.get(
    "/export",
    summary="Export the project's memory as JSONL (lossless) or Markdown (audited)",
    response_class=PlainTextResponse,
    responses={200: {"content": {"application/x-ndjson": {}, "text/markdown": {}}}},
)
def export_memory(
    rt: RuntimeDep,
    actor: Actor,
    project: str,
    format: Literal["jsonl", "markdown"] = "jsonl",
) -> PlainTextResponse:
    if format == "jsonl":
        return PlainTextResponse(
            transfer.export_jsonl(rt, actor, project), media_type="application/x-ndjson"
        )
    return PlainTextResponse(
        transfer.export_markdown(rt, actor, project), media_type="text/markdown"
    )


@router.post(
    "/import",
    summary="Import a JSONL export: every line or, when any line is bad, none",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
        }
    },
)
async def import_memory(
    rt: RuntimeDep, actor: Actor, project: str, request: Request
) -> ImportResult:
    from starlette.concurrency import run_in_threadpool

    raw = await request.body()
    try:
        document = raw.decode()
    except UnicodeDecodeError as exc:
        raise InvalidRequest("the import must be UTF-8 text.", code="invalid_import") from exc
    return await run_in_threadpool(transfer.import_jsonl, rt, actor, project, document)


@workspace_router.post("/open", summary="Open a project by (fuzzy) name, or the most recent one")
def open_project(rt: RuntimeDep, actor: Actor, body: OpenRequest) -> ContextPack:
    return restore.open_project(
        rt, actor, name=body.project, recent=body.recent, task=body.task, budget=body.budget
    )


@workspace_router.get(
    "/recall", summary="Recall across named projects (each must be readable; audited)"
)
def recall_across(
    rt: RuntimeDep,
    actor: Actor,
    project: Annotated[list[str], Query(min_length=1)],
    q: Annotated[str, Query(min_length=1, max_length=4000)],
    kind: Kinds = None,
    tag: Tags = None,
    validity: Validity = Validity.CURRENT,
    limit: RecallLimit = 10,
) -> RecallResult:
    query = RecallQuery(
        query=q, kinds=tuple(kind or ()), tags=tuple(tag or ()), validity=validity, limit=limit
    )
    return recall.recall_across(rt, actor, project, query)
