"""Memory: projects by recent activity, a project's brief, items and recall, one item's history
and the changes people make to it. Every read and write goes through the memory services the
REST API calls, so access, supersession, history and audit follow the same rules."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from corral.core import projects
from corral.core.memory import brief, items, overview, recall, remember, transfer
from corral.core.memory.recall import RecallQuery
from corral.core.memory.store import is_current
from corral.errors import CorralError, Forbidden, InvalidRequest
from corral.schemas.access import Permission
from corral.schemas.memory import (
    BriefUpdate,
    ItemVersion,
    MemoryItem,
    MemoryItemUpdate,
    MemoryKind,
    RecallResult,
    TaskStatus,
    Validity,
)
from corral.schemas.tenancy import Project
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

PAGE_SIZE = 50
RECALL_LIMIT = 20
PINNED_CHOICES = {"yes": True, "no": False}


def _base(project: str) -> str:
    return f"/console/memory/{quote(project, safe='')}"


def _may_write(viewer: Viewer, project: Project) -> bool:
    return viewer.can(Permission.MEMORY_WRITE, project.id)


@router.get("/memory", response_class=HTMLResponse)
def memory_projects(request: Request, cursor: str | None = None) -> Response:
    viewer = viewer_of(request)
    try:
        page = overview.list_memory_projects(
            get_runtime(request), viewer.principal, limit=PAGE_SIZE, cursor=cursor
        )
    except CorralError as exc:
        return error_page(request, viewer, exc)
    next_url = (
        f"/console/memory?{urlencode({'cursor': page.next_cursor})}" if page.next_cursor else None
    )
    return render(request, "memory.html", viewer, projects=page.data, next_url=next_url)


@dataclass(frozen=True)
class ItemFilters:
    """The item list's filters as the page's query string gives them."""

    kind: MemoryKind | None
    validity: Validity
    pinned: bool | None
    status: TaskStatus | None

    @classmethod
    def parse(cls, params: dict[str, str]) -> ItemFilters:
        try:
            return cls(
                kind=MemoryKind(params["kind"]) if params.get("kind") else None,
                validity=Validity(params.get("validity") or Validity.CURRENT.value),
                pinned=PINNED_CHOICES[params["pinned"]] if params.get("pinned") else None,
                status=TaskStatus(params["status"]) if params.get("status") else None,
            )
        except (KeyError, ValueError) as exc:
            raise InvalidRequest(
                "unknown filter value: pick the filters from the form.", code="invalid_filter"
            ) from exc

    def query(self) -> dict[str, str]:
        values = {
            "kind": self.kind.value if self.kind else "",
            "validity": self.validity.value,
            "pinned": next((k for k, v in PINNED_CHOICES.items() if v is self.pinned), ""),
            "status": self.status.value if self.status else "",
        }
        return {k: v for k, v in values.items() if v}


def _project_page(
    request: Request,
    viewer: Viewer,
    project: str,
    *,
    error: str | None = None,
    status: int = 200,
) -> Response:
    rt = get_runtime(request)
    actor = viewer.principal
    params = {k: v.strip() for k, v in request.query_params.items()}
    try:
        filters = ItemFilters.parse(params)
        current_brief = brief.get_brief(rt, actor, project)
        info = projects.get_project(rt, actor, project)
        listed = items.list_items(
            rt,
            actor,
            project,
            kinds=(filters.kind,) if filters.kind else (),
            status=(filters.status,) if filters.status else (),
            validity=filters.validity,
            pinned=filters.pinned,
            limit=PAGE_SIZE,
            cursor=params.get("cursor") or None,
        )
    except CorralError as exc:
        return error_page(request, viewer, exc)
    search: RecallResult | None = None
    query = params.get("q", "")
    if query:
        try:
            search = recall.recall(
                rt,
                actor,
                project,
                RecallQuery(
                    query=query,
                    kinds=(filters.kind,) if filters.kind else (),
                    validity=filters.validity,
                    limit=RECALL_LIMIT,
                ),
            )
        except CorralError as exc:
            error, status = exc.message, exc.status
    base = _base(project)
    next_url = (
        f"{base}?{urlencode({**filters.query(), 'cursor': listed.next_cursor})}#items"
        if listed.next_cursor
        else None
    )
    return render(
        request,
        "memory_project.html",
        viewer,
        status=status,
        error=error,
        project=info,
        base=base,
        brief=current_brief,
        items=listed.data,
        paged=bool(params.get("cursor")),
        first_url=f"{base}?{urlencode(filters.query())}#items",
        next_url=next_url,
        filters=filters,
        query=query,
        search=search,
        may_write=_may_write(viewer, info),
        kinds=[k.value for k in MemoryKind],
        validities=[v.value for v in Validity],
        statuses=[s.value for s in TaskStatus],
    )


@router.get("/memory/{project}", response_class=HTMLResponse)
def memory_project(request: Request, project: str) -> Response:
    return _project_page(request, viewer_of(request), project)


@router.post("/memory/{project}/brief", response_class=HTMLResponse)
async def edit_brief(request: Request, project: str) -> Response:
    form = await read_form(request)
    viewer = viewer_of(request)
    try:
        body = BriefUpdate(
            goal=form.get("goal", ""),
            directory=form.get("directory", ""),
            notes=form.get("notes", ""),
        )
        brief.update_brief(get_runtime(request), viewer.principal, project, body)
    except ValidationError as exc:
        return _project_page(request, viewer, project, error=_invalid(exc), status=422)
    except CorralError as exc:
        if exc.status in (401, 403, 404):
            return error_page(request, viewer, exc)
        return _project_page(request, viewer, project, error=exc.message, status=exc.status)
    return _redirect(f"{_base(project)}#brief", "Brief saved.")


@router.get("/memory/{project}/export")
def export_memory(request: Request, project: str, format: str = "jsonl") -> Response:
    """The same export as ``GET /v1/projects/{project}/memory/export``, as a download."""
    viewer = viewer_of(request)
    rt = get_runtime(request)
    try:
        if format == "jsonl":
            body, media, suffix = (
                transfer.export_jsonl(rt, viewer.principal, project),
                "application/x-ndjson",
                "jsonl",
            )
        elif format == "markdown":
            body, media, suffix = (
                transfer.export_markdown(rt, viewer.principal, project),
                "text/markdown",
                "md",
            )
        else:
            raise InvalidRequest("format must be jsonl or markdown.", code="invalid_format")
    except CorralError as exc:
        return error_page(request, viewer, exc)
    filename = f"{project}-memory.{suffix}"
    return Response(
        body,
        media_type=media,
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


# -- one item ------------------------------------------------------------------------------


@dataclass(frozen=True)
class VersionView:
    """A version of an item with what changed since the previous one."""

    version: ItemVersion
    changed: list[tuple[str, Any, Any]]


def _versions(history: list[ItemVersion]) -> list[VersionView]:
    out: list[VersionView] = []
    previous: dict[str, object] = {}
    for version in history:
        snapshot = version.snapshot
        changed = (
            [
                (field, previous.get(field), value)
                for field, value in snapshot.items()
                if previous.get(field) != value and field != "content"
            ]
            if previous
            else []
        )
        out.append(VersionView(version, changed))
        previous = snapshot
    return list(reversed(out))  # newest first: the latest change is what people look for


def _item_page(
    request: Request,
    viewer: Viewer,
    project: str,
    item_id: int,
    *,
    template: str = "memory_item.html",
    error: str | None = None,
    status: int = 200,
    needs_write: bool = False,
) -> Response:
    rt = get_runtime(request)
    try:
        item = items.get_item(rt, viewer.principal, project, item_id)
        history = items.item_history(rt, viewer.principal, project, item_id)
        info = projects.get_project(rt, viewer.principal, project)
        if needs_write and not _may_write(viewer, info):
            raise Forbidden(
                f"you may read project {project!r}'s memory but not change it.",
                code="permission_denied",
            )
    except CorralError as exc:
        return error_page(request, viewer, exc)
    return render(
        request,
        template,
        viewer,
        status=status,
        error=error,
        project=info,
        base=_base(project),
        item=item,
        current=is_current(item.valid_from, item.valid_to, rt.clock.now()),
        versions=_versions(history),
        may_write=_may_write(viewer, info),
    )


@router.get("/memory/{project}/items/{item_id}", response_class=HTMLResponse)
def memory_item(request: Request, project: str, item_id: int) -> Response:
    return _item_page(request, viewer_of(request), project, item_id)


@router.get("/memory/{project}/items/{item_id}/forget", response_class=HTMLResponse)
def confirm_forget(request: Request, project: str, item_id: int) -> Response:
    """The confirmation step before forgetting: a page of its own, so it works without script."""
    viewer = viewer_of(request)
    return _item_page(
        request, viewer, project, item_id, template="memory_forget.html", needs_write=True
    )


ItemAction = Callable[[Request, Viewer, str, MemoryItem, dict[str, str]], tuple[str, str]]
"""Runs one change; answers the page to go to next and the notice to show there."""


def _edit(
    request: Request, viewer: Viewer, project: str, item: MemoryItem, form: dict[str, str]
) -> tuple[str, str]:
    changes: dict[str, Any] = {}
    content = form.get("content", "").replace("\r\n", "\n")
    if content and content != item.content:
        changes["content"] = content
    tags = [t for t in form.get("tags", "").replace(",", " ").split() if t]
    if tags != item.tags:
        changes["tags"] = tags
    if form.get("importance"):
        importance = float(form["importance"])
        if importance != item.importance:
            changes["importance"] = importance
    page = f"{_base(project)}/items/{item.id}"
    if not changes:
        return page, "Nothing changed."
    updated = items.update_item(
        get_runtime(request), viewer.principal, project, item.id, MemoryItemUpdate(**changes)
    )
    return page, f"Saved as version {updated.version}."


def _pin(pinned: bool) -> ItemAction:
    def action(
        request: Request, viewer: Viewer, project: str, item: MemoryItem, form: dict[str, str]
    ) -> tuple[str, str]:
        items.update_item(
            get_runtime(request),
            viewer.principal,
            project,
            item.id,
            MemoryItemUpdate(pinned=pinned),
        )
        return f"{_base(project)}/items/{item.id}", "Pinned." if pinned else "Unpinned."

    return action


def _complete(
    request: Request, viewer: Viewer, project: str, item: MemoryItem, form: dict[str, str]
) -> tuple[str, str]:
    items.complete_task(get_runtime(request), viewer.principal, project, item.id)
    return f"{_base(project)}/items/{item.id}", "Task marked done."


def _supersede(
    request: Request, viewer: Viewer, project: str, item: MemoryItem, form: dict[str, str]
) -> tuple[str, str]:
    content = form.get("content", "").replace("\r\n", "\n")
    if not content.strip():
        raise InvalidRequest("give the new content.", code="empty_content")
    result = remember.supersede_item(
        get_runtime(request), viewer.principal, project, item.id, content
    )
    return (
        f"{_base(project)}/items/{result.item.id}",
        f"Item {item.id} is superseded by this item ({result.item.id}).",
    )


def _forget(
    request: Request, viewer: Viewer, project: str, item: MemoryItem, form: dict[str, str]
) -> tuple[str, str]:
    items.forget_item(get_runtime(request), viewer.principal, project, item.id)
    return f"{_base(project)}#items", f"Item {item.id} is forgotten: removed with its history."


ITEM_ACTIONS: dict[str, ItemAction] = {
    "edit": _edit,
    "pin": _pin(True),
    "unpin": _pin(False),
    "complete": _complete,
    "supersede": _supersede,
    "forget": _forget,
}


@router.post("/memory/{project}/items/{item_id}/{action}", response_class=HTMLResponse)
async def item_action(request: Request, project: str, item_id: int, action: str) -> Response:
    form = await read_form(request)
    viewer = viewer_of(request)  # checks the CSRF token
    handler = ITEM_ACTIONS.get(action)
    if handler is None:
        return error_page(
            request,
            viewer,
            CorralError("This page does not exist.", code="page_not_found", status=404),
        )
    rt = get_runtime(request)
    try:
        item = items.get_item(rt, viewer.principal, project, item_id)
        target, notice = handler(request, viewer, project, item, form)
    except ValidationError as exc:
        return _item_page(request, viewer, project, item_id, error=_invalid(exc), status=422)
    except ValueError as exc:
        message = f"the form is invalid: {exc}"
        return _item_page(request, viewer, project, item_id, error=message, status=422)
    except CorralError as exc:
        if exc.status in (401, 403, 404):  # not theirs to change, or gone: a page of its own
            return error_page(request, viewer, exc)
        return _item_page(request, viewer, project, item_id, error=exc.message, status=exc.status)
    return _redirect(target, notice)


def _redirect(target: str, notice: str) -> Response:
    """A redirect with a notice; an anchor in ``target`` stays at the end of the address."""
    path, _, anchor = target.partition("#")
    response = redirect(path, notice)
    if anchor:
        response.headers["location"] += f"#{anchor}"
    return response


def _invalid(error: ValidationError) -> str:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" if e["loc"] else e["msg"]
        for e in error.errors()
    )
    return f"the form is invalid: {problems}"
