"""Memory: one item's page with its full history, and the changes people make to it (edit,
pin, supersede, complete, forget after a confirmation page). Each change calls the memory
service the REST API calls, which checks access, keeps the history and audits."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from corral.core import projects
from corral.core.memory import items, remember
from corral.core.memory.store import is_current
from corral.errors import CorralError, Forbidden, InvalidRequest
from corral.schemas.memory import ItemVersion, MemoryItem, MemoryItemUpdate
from corral.server.console.memory_pages import base_path, invalid_form, may_write, redirect_to
from corral.server.console.rendering import Viewer, error_page, read_form, render, viewer_of
from corral.server.deps import get_runtime

router = APIRouter()


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
        if needs_write and not may_write(viewer, info):
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
        base=base_path(project),
        item=item,
        current=is_current(item.valid_from, item.valid_to, rt.clock.now()),
        versions=_versions(history),
        may_write=may_write(viewer, info),
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
    page = f"{base_path(project)}/items/{item.id}"
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
        return f"{base_path(project)}/items/{item.id}", "Pinned." if pinned else "Unpinned."

    return action


def _complete(
    request: Request, viewer: Viewer, project: str, item: MemoryItem, form: dict[str, str]
) -> tuple[str, str]:
    items.complete_task(get_runtime(request), viewer.principal, project, item.id)
    return f"{base_path(project)}/items/{item.id}", "Task marked done."


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
        f"{base_path(project)}/items/{result.item.id}",
        f"Item {item.id} is superseded by this item ({result.item.id}).",
    )


def _forget(
    request: Request, viewer: Viewer, project: str, item: MemoryItem, form: dict[str, str]
) -> tuple[str, str]:
    items.forget_item(get_runtime(request), viewer.principal, project, item.id)
    return f"{base_path(project)}#items", f"Item {item.id} is forgotten: removed with its history."


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
        return _item_page(request, viewer, project, item_id, error=invalid_form(exc), status=422)
    except ValueError as exc:
        message = f"the form is invalid: {exc}"
        return _item_page(request, viewer, project, item_id, error=message, status=422)
    except CorralError as exc:
        if exc.status in (401, 403, 404):  # not theirs to change, or gone: a page of its own
            return error_page(request, viewer, exc)
        return _item_page(request, viewer, project, item_id, error=exc.message, status=exc.status)
    return redirect_to(target, notice)
