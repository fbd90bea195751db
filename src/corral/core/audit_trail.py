"""Reading the audit trail: filtered lists, exports, verification and signed checkpoints.

(Writing is :func:`corral.core.audit.record_audit`, called by every privileged action.)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Select, or_, select

from corral.core.access import Principal, authorize
from corral.core.audit import verify_chain
from corral.core.pagination import decode_cursor, encode_cursor
from corral.core.runtime import Runtime
from corral.core.secrets import derive_key
from corral.db.schema import AuditCheckpointRow, AuditEventRow, AuditHeadRow, ProjectRow
from corral.errors import Forbidden
from corral.schemas.access import Permission
from corral.schemas.audit import AuditCheckpoint, AuditEvent, AuditVerification
from corral.schemas.common import Page


@dataclass(frozen=True)
class AuditFilter:
    action: str | None = None
    actor: str | None = None
    project: str | None = None
    outcome: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def describe_event(row: AuditEventRow) -> AuditEvent:
    return AuditEvent(
        seq=row.seq,
        occurred_at=row.occurred_at,
        actor_kind=row.actor_kind,
        actor_id=row.actor_id,
        actor_name=row.actor_name,
        key_id=row.key_id,
        action=row.action,
        target_kind=row.target_kind,
        target_id=row.target_id,
        project=row.project_name,
        outcome=row.outcome,
        policy_version=row.policy_version,
        request_id=row.request_id,
        details=row.details,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )


def _visible_query(rt: Runtime, actor: Principal, filters: AuditFilter) -> Select[AuditEventRow]:
    """Workspace admins read everything; project admins (``audit:read``) the events of their
    projects; nobody else anything."""
    query = select(AuditEventRow)
    if not actor.may(Permission.WORKSPACE_ADMIN):
        with rt.db.read() as uow:
            ids = list(uow.scalars(select(ProjectRow.id)))
        readable = [pid for pid in ids if actor.may(Permission.AUDIT_READ, pid)]
        if not readable:
            raise Forbidden(
                f"{actor.label} may not read the audit trail: it needs the admin role in a "
                "project, or workspace administration.",
                code="permission_denied",
                details={"permission": Permission.AUDIT_READ.value},
            )
        query = query.where(AuditEventRow.project_id.in_(readable))
    if filters.action:
        action = filters.action
        query = query.where(
            AuditEventRow.action.startswith(action[:-1])
            if action.endswith("*")
            else AuditEventRow.action == action
        )
    if filters.actor:
        query = query.where(
            or_(AuditEventRow.actor_name == filters.actor, AuditEventRow.key_id == filters.actor)
        )
    if filters.project:
        query = query.where(AuditEventRow.project_name == filters.project)
    if filters.outcome:
        query = query.where(AuditEventRow.outcome == filters.outcome)
    if filters.since:
        query = query.where(AuditEventRow.occurred_at >= filters.since)
    if filters.until:
        query = query.where(AuditEventRow.occurred_at < filters.until)
    return query


def list_events(
    rt: Runtime,
    actor: Principal,
    filters: AuditFilter,
    *,
    limit: int = 100,
    cursor: str | None = None,
) -> Page[AuditEvent]:
    """Events matching ``filters``, newest first."""
    query = _visible_query(rt, actor, filters).order_by(AuditEventRow.seq.desc())
    if cursor:
        (before,) = decode_cursor(cursor, 1)
        query = query.where(AuditEventRow.seq < int(before))
    with rt.db.read() as uow:
        rows = uow.scalars(query.limit(limit + 1)).all()
    next_cursor = encode_cursor(rows[limit - 1].seq) if len(rows) > limit else None
    return Page[AuditEvent](data=[describe_event(r) for r in rows[:limit]], next_cursor=next_cursor)


def export_events(
    rt: Runtime, actor: Principal, filters: AuditFilter, *, batch: int = 2000
) -> Iterator[AuditEvent]:
    """Every matching event, oldest first, read in batches (for JSONL export)."""
    query = _visible_query(rt, actor, filters).order_by(AuditEventRow.seq)
    after = 0
    while True:
        with rt.db.read() as uow:
            rows = uow.scalars(query.where(AuditEventRow.seq > after).limit(batch)).all()
        yield from (describe_event(r) for r in rows)
        if len(rows) < batch:
            return
        after = rows[-1].seq


def _signing_key(rt: Runtime) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(derive_key(rt.master_secret, "audit-checkpoint"))


def _message(seq: int, chain_hash: str) -> bytes:
    return f"corral-audit:{seq}:{chain_hash}".encode()


def public_key_hex(rt: Runtime) -> str:
    return _signing_key(rt).public_key().public_bytes_raw().hex()


def write_checkpoint(rt: Runtime) -> AuditCheckpoint | None:
    """Sign the chain head if it moved since the last checkpoint (the periodic job)."""
    key = _signing_key(rt)
    with rt.db.write() as uow:
        head = uow.get(AuditHeadRow, 1)
        last = uow.scalars(
            select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq.desc()).limit(1)
        ).first()
        if head is None or head.last_seq == 0 or (last and last.seq >= head.last_seq):
            return None
        row = AuditCheckpointRow(
            seq=head.last_seq,
            hash=head.last_hash,
            signed_at=rt.clock.now(),
            public_key=key.public_key().public_bytes_raw().hex(),
            signature=key.sign(_message(head.last_seq, head.last_hash)).hex(),
        )
        uow.add(row)
        uow.flush()
        return _describe_checkpoint(row, valid=True)


def _describe_checkpoint(row: AuditCheckpointRow, *, valid: bool | None) -> AuditCheckpoint:
    return AuditCheckpoint(
        seq=row.seq,
        hash=row.hash,
        signed_at=row.signed_at,
        public_key=row.public_key,
        signature=row.signature,
        valid=valid,
    )


def signature_valid(row: AuditCheckpointRow) -> bool:
    try:
        public = Ed25519PublicKey.from_public_bytes(bytes.fromhex(row.public_key))
        public.verify(bytes.fromhex(row.signature), _message(row.seq, row.hash))
    except (InvalidSignature, ValueError):
        return False
    return True


def list_checkpoints(rt: Runtime, actor: Principal, *, limit: int = 100) -> list[AuditCheckpoint]:
    authorize(actor, Permission.WORKSPACE_ADMIN)
    with rt.db.read() as uow:
        rows = uow.scalars(
            select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq.desc()).limit(limit)
        ).all()
    return [_describe_checkpoint(r, valid=signature_valid(r)) for r in rows]


def verify_trail(rt: Runtime, actor: Principal) -> AuditVerification:
    """Walk the whole chain, then check every signed checkpoint against it (workspace admins)."""
    authorize(actor, Permission.WORKSPACE_ADMIN)
    trusted = public_key_hex(rt)
    with rt.db.read() as uow:
        chain = verify_chain(uow)
        checkpoints = uow.scalars(select(AuditCheckpointRow).order_by(AuditCheckpointRow.seq)).all()
        hashes: dict[int, str] = dict(
            uow.execute(
                select(AuditEventRow.seq, AuditEventRow.hash).where(
                    AuditEventRow.seq.in_([c.seq for c in checkpoints])
                )
            ).all()
        )
    result = AuditVerification(
        ok=chain.ok,
        checked=chain.checked,
        head_seq=chain.head_seq,
        first_bad_seq=chain.first_bad_seq,
        problem=chain.problem,
        checkpoints_checked=len(checkpoints),
    )
    if not chain.ok:
        return result
    for checkpoint in checkpoints:
        problem = None
        if checkpoint.public_key != trusted or not signature_valid(checkpoint):
            problem = f"the checkpoint at event {checkpoint.seq} is not signed by this server"
        elif hashes.get(checkpoint.seq) != checkpoint.hash:
            problem = (
                f"event {checkpoint.seq} differs from the signed checkpoint of "
                f"{checkpoint.signed_at.isoformat()} (the trail was rewritten)"
            )
        if problem:
            return result.model_copy(
                update={"ok": False, "first_bad_seq": checkpoint.seq, "problem": problem}
            )
    return result
