from __future__ import annotations

import concurrent.futures
from datetime import timedelta

import pytest
from sqlalchemy import delete, update

from corral.core.access import Principal
from corral.core.audit import GENESIS_HASH, record_audit, verify_chain
from corral.core.clock import ManualClock
from corral.core.request_context import request_id_var
from corral.core.runtime import Runtime
from corral.db.schema import AuditEventRow

ACTOR = Principal(kind="user", id=1, name="ada@example.com", key_id="abc123")


def record_many(runtime: Runtime, clock: ManualClock, count: int) -> None:
    for i in range(count):
        clock.advance(timedelta(seconds=1))
        with runtime.db.write() as uow:
            record_audit(
                uow,
                actor=ACTOR,
                action="api_key.create",
                target_kind="api_key",
                target_id=f"k{i}",
                details={"name": f"key {i}", "limits": {"projects": [1, 2]}, "ratio": 0.5},
                now=clock.now(),
            )


def test_untouched_chain_verifies(runtime: Runtime, clock: ManualClock) -> None:
    token = request_id_var.set("req_test")
    try:
        record_many(runtime, clock, 5)
    finally:
        request_id_var.reset(token)
    with runtime.db.read() as uow:
        result = verify_chain(uow, batch=2)
        first = uow.get_one(AuditEventRow, 1)
    assert (result.ok, result.checked, result.head_seq) == (True, 5, 5)
    assert first.prev_hash == GENESIS_HASH
    assert (first.actor_name, first.key_id, first.request_id) == (
        "ada@example.com",
        "abc123",
        "req_test",
    )


def test_empty_chain_verifies(runtime: Runtime) -> None:
    with runtime.db.read() as uow:
        assert verify_chain(uow).ok


@pytest.mark.parametrize(
    ("tamper", "bad_seq", "words"),
    [
        (
            update(AuditEventRow).where(AuditEventRow.seq == 3).values(actor_name="mallory"),
            3,
            "edited",
        ),
        (
            update(AuditEventRow).where(AuditEventRow.seq == 2).values(details={"name": "x"}),
            2,
            "edited",
        ),
        (delete(AuditEventRow).where(AuditEventRow.seq == 2), 2, "missing"),
        (delete(AuditEventRow).where(AuditEventRow.seq == 5), 5, "end"),
    ],
    ids=["edit-column", "edit-details", "remove-middle", "remove-last"],
)
def test_tampering_is_detected_and_named(
    runtime: Runtime, clock: ManualClock, tamper: object, bad_seq: int, words: str
) -> None:
    record_many(runtime, clock, 5)
    with runtime.db.write() as uow:
        uow.execute(tamper)  # type: ignore[call-overload]
    with runtime.db.read() as uow:
        result = verify_chain(uow)
    assert not result.ok
    assert result.first_bad_seq == bad_seq
    assert words in (result.problem or "")


def test_reordering_is_detected(runtime: Runtime, clock: ManualClock) -> None:
    record_many(runtime, clock, 4)
    with runtime.db.write() as uow:
        # Swap the contents of events 2 and 3, keeping every row's own hash.
        two, three = uow.get_one(AuditEventRow, 2), uow.get_one(AuditEventRow, 3)
        fields = ["occurred_at", "target_id", "details", "prev_hash", "hash"]
        saved = {f: getattr(two, f) for f in fields}
        for f in fields:
            setattr(two, f, getattr(three, f))
            setattr(three, f, saved[f])
    with runtime.db.read() as uow:
        result = verify_chain(uow)
    assert (result.ok, result.first_bad_seq) == (False, 2)


def test_concurrent_appends_keep_one_chain(runtime: Runtime, clock: ManualClock) -> None:
    def append(i: int) -> None:
        with runtime.db.write() as uow:
            record_audit(
                uow, actor=None, action="test.append", target_kind="n", target_id=i, now=clock.now()
            )

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(append, range(64)))
    with runtime.db.read() as uow:
        result = verify_chain(uow)
    assert (result.ok, result.checked) == (True, 64)


def test_rolled_back_action_leaves_no_audit_entry(runtime: Runtime, clock: ManualClock) -> None:
    def fail_after_recording() -> None:
        with runtime.db.write() as uow:
            record_audit(uow, actor=ACTOR, action="x.y", target_kind="x", now=clock.now())
            raise RuntimeError("the action failed")

    with pytest.raises(RuntimeError):
        fail_after_recording()
    record_many(runtime, clock, 1)
    with runtime.db.read() as uow:
        result = verify_chain(uow)
    assert (result.ok, result.checked) == (True, 1)
