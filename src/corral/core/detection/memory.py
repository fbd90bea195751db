"""What the contradiction and constraint rules need from project memory.

Integration note: project memory (``memory_items`` and its companions) is not part of this
schema yet, so :func:`memory_context` returns nothing and those two rules stay quiet on live
traffic (they are exercised by the generated suite). When memory is merged, this function is
the one place to fill in, in the caller's unit of work and scoped to ``project_id``:

- ``decisions``: every active item (``valid_to`` unset, not superseded) of kind ``decision``
  or ``constraint`` that has a ``key``, as ``{key: (str(item id), content)}``;
- ``constraints``: active ``constraint`` items whose content is a checkable rule
  (``corral.schemas.policies.parse_rule`` accepts it, e.g. ``deny refund when amount > 500``),
  as ``CheckableConstraint(str(item id), content, parsed rule)``; items that do not parse are
  prose for people and are skipped.

Nothing else changes: the live detector and the evaluation already pass these to the rules.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from corral.core.detection.rules import CheckableConstraint

Decisions = dict[str, tuple[str, str]]


def memory_context(uow: Session, project_id: int) -> tuple[Decisions, list[CheckableConstraint]]:
    """The project's active decisions (by key) and its checkable constraints."""
    del uow, project_id  # read from project memory once it exists (see the module note)
    return {}, []
