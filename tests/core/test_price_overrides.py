"""Workspace price overrides: read before a transaction, never while pricing inside one."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import event

from corral.core.access import Principal
from corral.core.clock import ManualClock
from corral.core.prices import create_override, price_book_for
from corral.core.pricing import TokenUsage
from corral.core.runtime import Runtime
from corral.schemas.prices import PriceOverrideCreate

ADMIN = Principal(kind="user", id=1, name="admin", workspace_admin=True)
MILLION_IN = TokenUsage(input_tokens=1_000_000, output_tokens=0)


def test_pricing_never_reads_the_database(runtime: Runtime, clock: ManualClock) -> None:
    """Pricing runs inside ingest and gateway transactions: a read there waited for a pooled
    connection while holding one, and under load every connection ended up waiting."""
    create_override(
        runtime, ADMIN, PriceOverrideCreate(model="mine-*", input_per_mtok=1, output_per_mtok=0)
    )
    book = price_book_for(runtime)
    at = clock.now() + timedelta(seconds=1)
    first = book.price_call(None, "mine-1", MILLION_IN, at)
    assert first is not None
    assert first.usd == 1

    clock.advance(timedelta(seconds=10))
    create_override(
        runtime, ADMIN, PriceOverrideCreate(model="mine-*", input_per_mtok=2, output_per_mtok=0)
    )
    checkouts: list[object] = []
    event.listen(runtime.db.engine, "checkout", lambda *_: checkouts.append(1))
    stale = book.price_call(None, "mine-1", MILLION_IN, clock.now() + timedelta(seconds=1))
    assert checkouts == []
    assert stale is not None
    assert stale.usd == 1  # what the last refresh loaded

    fresh = price_book_for(runtime).price_call(
        None, "mine-1", MILLION_IN, clock.now() + timedelta(seconds=1)
    )
    assert checkouts  # the refresh, before any transaction, read the new override
    assert fresh is not None
    assert fresh.usd == 2
