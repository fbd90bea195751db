from __future__ import annotations

from fastapi import APIRouter, Response

from corral.core import budgets
from corral.schemas.budgets import Budget, BudgetAlert, BudgetCreate, BudgetUpdate, BudgetUsage
from corral.server.deps import Actor, RuntimeDep

router = APIRouter(prefix="/budgets", tags=["budgets"])


@router.get("", summary="Budgets: workspace-wide ones and those of projects you reach")
def list_budgets(rt: RuntimeDep, actor: Actor, project: str | None = None) -> list[Budget]:
    return budgets.list_budgets(rt, actor, project=project)


@router.post(
    "",
    status_code=201,
    summary="Create a budget (project admins for a project; workspace admins otherwise)",
)
def create_budget(rt: RuntimeDep, actor: Actor, body: BudgetCreate) -> Budget:
    return budgets.create_budget(rt, actor, body)


@router.get("/alerts", summary="Soft thresholds crossed, newest first")
def list_alerts(rt: RuntimeDep, actor: Actor) -> list[BudgetAlert]:
    return budgets.list_alerts(rt, actor)


@router.get("/{budget_id}", summary="One budget")
def get_budget(rt: RuntimeDep, actor: Actor, budget_id: int) -> Budget:
    return budgets.get_budget(rt, actor, budget_id)


@router.patch("/{budget_id}", summary="Change a budget's limit, thresholds or enforcement")
def update_budget(rt: RuntimeDep, actor: Actor, budget_id: int, body: BudgetUpdate) -> Budget:
    return budgets.update_budget(rt, actor, budget_id, body)


@router.delete("/{budget_id}", status_code=204, summary="Delete a budget")
def delete_budget(rt: RuntimeDep, actor: Actor, budget_id: int) -> Response:
    budgets.delete_budget(rt, actor, budget_id)
    return Response(status_code=204)


@router.get("/{budget_id}/usage", summary="Spent and held in the current window, per subject")
def budget_usage(rt: RuntimeDep, actor: Actor, budget_id: int) -> list[BudgetUsage]:
    return budgets.budget_usage(rt, actor, budget_id)
