"""Memory: projects by recent activity, and a project's page — its brief, its items and recall
with score breakdowns — and export. Every read and write goes through the memory services the
REST API calls, so access, supersession, history and audit follow the same rules. One item's
page and its changes are in :mod:`memory_item_pages`."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError

from corral.core import projects
from corral.core.memory import brief, items, overview, recall, transfer
from corral.core.memory.recall import RecallQuery
from corral.errors import CorralError, InvalidRequest
from corral.schemas.access import Permission
from corral.schemas.memory import (
    BriefUpdate,
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


def base_path(project: str) -> str:
    """Where a project's memory pages live."""
    return f"/console/memory/{quote(project, safe='')}"


def may_write(viewer: Viewer, project: Project) -> bool:
    """Whether to show write controls (the services decide again on every change)."""
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
    base = base_path(project)
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
        may_write=may_write(viewer, info),
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
        return _project_page(request, viewer, project, error=invalid_form(exc), status=422)
    except CorralError as exc:
        if exc.status in (401, 403, 404):
            return error_page(request, viewer, exc)
        return _project_page(request, viewer, project, error=exc.message, status=exc.status)
    return redirect_to(f"{base_path(project)}#brief", "Brief saved.")


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


def redirect_to(target: str, notice: str) -> Response:
    """A redirect with a notice; an anchor in ``target`` stays at the end of the address."""
    path, _, anchor = target.partition("#")
    response = redirect(path, notice)
    if anchor:
        response.headers["location"] += f"#{anchor}"
    return response


def invalid_form(error: ValidationError) -> str:
    problems = "; ".join(
        f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" if e["loc"] else e["msg"]
        for e in error.errors()
    )
    return f"the form is invalid: {problems}"
