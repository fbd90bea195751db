"""Settings: users and roles, API keys, providers, budgets and retention."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response

from corral.core import budgets, keys, logins, members, projects, providers, users
from corral.errors import CorralError, Forbidden
from corral.schemas.access import Role
from corral.schemas.budgets import BudgetCreate
from corral.schemas.keys import ApiKeyCreate
from corral.schemas.providers import ProviderCreate
from corral.schemas.tenancy import ProjectUpdate, UserCreate, UserUpdate
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


def _settings_page(
    request: Request,
    viewer: Viewer,
    *,
    error: str | None = None,
    created_key: str | None = None,
    invite_link: str | None = None,
    notice: str | None = None,
    status: int = 200,
) -> Response:
    rt = get_runtime(request)
    actor = viewer.principal
    all_users = users.list_users(rt, actor, limit=500).data
    visible_projects = projects.list_projects(rt, actor, limit=500).data
    project_members = {
        p.name: members.list_members(rt, actor, p.name)
        for p in visible_projects
        if actor.role_in(p.id) is not None
    }
    try:
        provider_list = providers.list_providers(rt, actor) if viewer.is_admin else []
    except Forbidden:
        provider_list = []
    return render(
        request,
        "settings.html",
        viewer,
        status=status,
        error=error,
        notice=notice,
        users=all_users,
        projects=visible_projects,
        members=project_members,
        keys=keys.list_keys(rt, actor),
        providers=provider_list,
        budgets=budgets.list_budgets(rt, actor),
        roles=[r.value for r in Role],
        created_key=created_key,
        invite_link=invite_link,
    )


@router.get("/settings", response_class=HTMLResponse)
def settings_page(request: Request) -> Response:
    return _settings_page(request, viewer_of(request))


Action = Callable[[dict[str, str], Viewer, Request], str | tuple[str, dict[str, str]]]


def _create_user(form: dict[str, str], viewer: Viewer, request: Request) -> str:
    rt = get_runtime(request)
    user = users.create_user(
        rt,
        viewer.principal,
        UserCreate(
            email=form["email"],
            name=form.get("name", ""),
            workspace_admin=form.get("admin") == "on",
        ),
    )
    return f"User {user.email} created; invite them to set a password."


def _invite(form: dict[str, str], viewer: Viewer, request: Request) -> tuple[str, dict[str, str]]:
    invite = logins.create_invite(get_runtime(request), viewer.principal, int(form["user_id"]), 72)
    return "Invitation created.", {
        "invite_link": f"{request.base_url}".rstrip("/") + invite.accept_path
    }


def _toggle_user(form: dict[str, str], viewer: Viewer, request: Request) -> str:
    disabled = form.get("disabled") == "true"
    user = users.update_user(
        get_runtime(request), viewer.principal, int(form["user_id"]), UserUpdate(disabled=disabled)
    )
    return f"{user.email} is {'disabled' if disabled else 'enabled'}."


def _set_role(form: dict[str, str], viewer: Viewer, request: Request) -> str:
    membership = members.set_user_role(
        get_runtime(request),
        viewer.principal,
        form["project"],
        int(form["user_id"]),
        Role(form["role"]),
    )
    return f"{membership.principal_name} is {membership.role.value} in {membership.project}."


def _create_key(
    form: dict[str, str], viewer: Viewer, request: Request
) -> tuple[str, dict[str, str]]:
    project = form.get("project") or None
    created = keys.create_key(
        get_runtime(request),
        viewer.principal,
        ApiKeyCreate(
            name=form["name"],
            agent=form.get("agent") or None,
            projects=[project] if project else None,
        ),
    )
    return "Key created. Copy it now: it is shown only once.", {"created_key": created.secret}


def _revoke_key(form: dict[str, str], viewer: Viewer, request: Request) -> str:
    key = keys.revoke_key(get_runtime(request), viewer.principal, form["key_id"])
    return f"Key {key.id} revoked."


def _add_provider(form: dict[str, str], viewer: Viewer, request: Request) -> str:
    patterns = [p.strip() for p in form.get("models", "*").split(",") if p.strip()] or ["*"]
    provider = providers.create_provider(
        get_runtime(request),
        viewer.principal,
        ProviderCreate(
            name=form["name"],
            kind=form["kind"],
            base_url=form["base_url"],
            api_key=form.get("api_key") or None,
            models=patterns,
        ),
    )
    return f"Provider {provider.name} added."


def _remove_provider(form: dict[str, str], viewer: Viewer, request: Request) -> str:
    providers.delete_provider(get_runtime(request), viewer.principal, form["name"])
    return f"Provider {form['name']} removed."


def _create_budget(form: dict[str, str], viewer: Viewer, request: Request) -> str:
    body = BudgetCreate.model_validate(
        {
            "name": form["name"],
            "scope": form["scope"],
            "limit": float(form["limit"]),
            "unit": form.get("unit", "usd"),
            "window": form.get("window", "month"),
            "project": form.get("project") or None,
            "subject": form.get("subject") or None,
            "enforce": form.get("soft") != "on",
        }
    )
    budget = budgets.create_budget(get_runtime(request), viewer.principal, body)
    return f"Budget {budget.name} created."


def _delete_budget(form: dict[str, str], viewer: Viewer, request: Request) -> str:
    budgets.delete_budget(get_runtime(request), viewer.principal, int(form["budget_id"]))
    return "Budget deleted."


def _retention(form: dict[str, str], viewer: Viewer, request: Request) -> str:
    days = form.get("retention_days")
    project = projects.update_project(
        get_runtime(request),
        viewer.principal,
        form["project"],
        ProjectUpdate(retention_days=int(days) if days else None),
    )
    return f"{project.name} keeps traces {project.retention_days or 'forever'} days."


ACTIONS: dict[str, Action] = {
    "create-user": _create_user,
    "invite": _invite,
    "toggle-user": _toggle_user,
    "set-role": _set_role,
    "create-key": _create_key,
    "revoke-key": _revoke_key,
    "add-provider": _add_provider,
    "remove-provider": _remove_provider,
    "create-budget": _create_budget,
    "delete-budget": _delete_budget,
    "retention": _retention,
}


@router.post("/settings/{action}", response_class=HTMLResponse)
async def settings_action(request: Request, action: str) -> Response:
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
        outcome = handler(form, viewer, request)
    except (CorralError, KeyError, ValueError) as exc:
        message = (
            exc.message
            if isinstance(exc, CorralError)
            else f"the form is incomplete or invalid: {exc}"
        )
        status = exc.status if isinstance(exc, CorralError) else 422
        return _settings_page(request, viewer, error=message, status=status)
    if isinstance(outcome, tuple):  # something to show once: render instead of redirecting
        notice, shown = outcome
        return _settings_page(
            request,
            viewer,
            notice=notice,
            created_key=shown.get("created_key"),
            invite_link=shown.get("invite_link"),
        )
    return redirect("/console/settings", outcome)
