"""The tamper-evident audit trail.

Each event's hash is SHA-256 over the RFC 8785 canonical JSON of the event followed by the previous
event's hash. Events are appended inside the same unit of work as the action they record, so an
action and its audit entry commit (or vanish) together.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

import rfc8785
from sqlalchemy import select
from sqlalchemy.orm import Session

from corral.core.access import Principal
from corral.core.gateway_cache import forget_gateway_reads_after_commit
from corral.core.principal_cache import forget_principals_after_commit
from corral.core.request_context import current_request_id
from corral.db.schema import AuditEventRow, AuditHeadRow, ProjectRow
from corral.db.upsert import insert_ignoring_conflicts

GENESIS_HASH = "0" * 64
Outcome = Literal["success", "denied", "failure"]


def canonical_entry(row: AuditEventRow) -> dict[str, Any]:
    """The fields an event's hash covers, as plain JSON values."""
    return {
        "seq": row.seq,
        "occurred_at": row.occurred_at.isoformat(),
        "actor_kind": row.actor_kind,
        "actor_id": row.actor_id,
        "actor_name": row.actor_name,
        "key_id": row.key_id,
        "action": row.action,
        "target_kind": row.target_kind,
        "target_id": row.target_id,
        "project_id": row.project_id,
        "project_name": row.project_name,
        "outcome": row.outcome,
        "policy_version": row.policy_version,
        "request_id": row.request_id,
        "details": row.details,
    }


def chain_hash(row: AuditEventRow, prev_hash: str) -> str:
    return hashlib.sha256(rfc8785.dumps(canonical_entry(row)) + prev_hash.encode()).hexdigest()


def record_audit(
    uow: Session,
    *,
    actor: Principal | None,
    action: str,
    target_kind: str,
    target_id: str | int | None = None,
    project: ProjectRow | None = None,
    outcome: Outcome = "success",
    details: Mapping[str, Any] | None = None,
    policy_version: str | None = None,
    now: datetime,
) -> AuditEventRow:
    """Append one event to the chain, in the caller's unit of work.

    ``action`` is ``<object>.<verb>`` (``api_key.create``, ``memory.forget``,
    ``tool.authorize``). ``actor`` None means Corral itself (a background job).
    """
    forget_principals_after_commit(uow, action)
    forget_gateway_reads_after_commit(uow, action)
    head = _lock_head(uow)
    row = AuditEventRow(
        seq=head.last_seq + 1,
        occurred_at=now.astimezone(UTC),
        actor_kind=actor.kind if actor else "system",
        actor_id=actor.id if actor else None,
        actor_name=actor.name if actor else "corral",
        key_id=actor.key_id if actor else None,
        action=action,
        target_kind=target_kind,
        target_id=None if target_id is None else str(target_id),
        project_id=project.id if project else None,
        project_name=project.name if project else None,
        outcome=outcome,
        policy_version=policy_version,
        request_id=current_request_id(),
        details=dict(details or {}),
        prev_hash=head.last_hash,
        hash="",
    )
    # Hash what the database will give back: timestamps at microsecond precision, details as
    # plain JSON (canonical_entry reads the same attributes when verifying).
    row.hash = chain_hash(row, head.last_hash)
    uow.add(row)
    head.last_seq, head.last_hash = row.seq, row.hash
    uow.flush()
    return row


def _lock_head(uow: Session) -> AuditHeadRow:
    query = select(AuditHeadRow).where(AuditHeadRow.id == 1).with_for_update()
    head = uow.scalars(query).one_or_none()
    if head is None:
        insert_ignoring_conflicts(
            uow,
            AuditHeadRow.__table__,  # type: ignore[arg-type]
            [{"id": 1, "last_seq": 0, "last_hash": GENESIS_HASH}],
        )
        head = uow.scalars(query).one()
    return head


@dataclass(frozen=True)
class ChainVerification:
    """The result of walking the chain. ``first_bad_seq`` names the first event that does not
    verify, and ``problem`` says how."""

    ok: bool
    checked: int
    head_seq: int
    first_bad_seq: int | None = None
    problem: str | None = None


def verify_chain(uow: Session, *, batch: int = 5000) -> ChainVerification:
    """Recompute every hash in order and check the links, the sequence and the head."""
    head = uow.get(AuditHeadRow, 1)
    head_seq, head_hash = (head.last_seq, head.last_hash) if head else (0, GENESIS_HASH)
    expected_seq, prev_hash, checked = 1, GENESIS_HASH, 0
    while True:
        rows = uow.scalars(
            select(AuditEventRow)
            .where(AuditEventRow.seq >= expected_seq)
            .order_by(AuditEventRow.seq)
            .limit(batch)
        ).all()
        for row in rows:
            problem = None
            if row.seq != expected_seq:
                problem = f"event {expected_seq} is missing (removed from the trail)"
                bad = expected_seq
            elif row.prev_hash != prev_hash:
                problem = "its link to the previous event is broken (events removed or reordered)"
                bad = row.seq
            elif chain_hash(row, prev_hash) != row.hash:
                problem = "its content does not match its hash (the event was edited)"
                bad = row.seq
            if problem:
                return ChainVerification(False, checked, head_seq, bad, problem)
            prev_hash, expected_seq, checked = row.hash, row.seq + 1, checked + 1
            uow.expunge(row)
        if len(rows) < batch:
            break
    if checked != head_seq or prev_hash != head_hash:
        return ChainVerification(
            False,
            checked,
            head_seq,
            checked + 1,
            f"the trail ends at event {checked} but its head records event {head_seq} "
            "(events removed from the end)",
        )
    return ChainVerification(True, checked, head_seq)
