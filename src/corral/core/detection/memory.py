"""What the contradiction and constraint rules need from project memory.

- ``decisions``: the project's current decisions and constraints that have a ``key``, as
  ``{key: (item id, content)}``, so an agent acting against one can be caught;
- ``constraints``: current constraints whose content is a checkable rule
  (``deny refund when amount > 500``), checked against the agent's tool calls. Constraints that
  do not parse as a rule are prose for people and are skipped.
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from corral.core.detection.rules import CheckableConstraint
from corral.db.schema import MemoryItemRow
from corral.schemas.policies import parse_rule

Decisions = dict[str, tuple[str, str]]
MAX_ITEMS = 2000
"""Newest current decisions and constraints read per pass; a project with more is unusual."""


def memory_context(uow: Session, project_id: int) -> tuple[Decisions, list[CheckableConstraint]]:
    """The project's current decisions (by key) and its checkable constraints."""
    rows = uow.execute(
        select(MemoryItemRow.id, MemoryItemRow.kind, MemoryItemRow.key, MemoryItemRow.content)
        .where(
            MemoryItemRow.project_id == project_id,
            MemoryItemRow.kind.in_(("decision", "constraint")),
            MemoryItemRow.valid_to.is_(None),
        )
        .order_by(MemoryItemRow.id.desc())
        .limit(MAX_ITEMS)
    ).all()
    decisions: Decisions = {}
    constraints: list[CheckableConstraint] = []
    for item_id, kind, key, content in reversed(rows):  # oldest first: newer keys win
        if key:
            decisions[key] = (str(item_id), content)
        if kind == "constraint":
            try:
                rule = parse_rule(content)
            except ValueError:
                continue
            constraints.append(CheckableConstraint(str(item_id), content, rule))
    return decisions, constraints
