from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session

from corral.core.clock import ManualClock
from corral.core.gateway_cache import GatewayCache, NotKept
from corral.core.runtime import Runtime


def test_values_due_are_reloaded_together_and_one_that_fails_is_dropped(
    runtime: Runtime, clock: ManualClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = GatewayCache(runtime.db, 10)
    loads: dict[str, int] = {}
    transactions: list[str] = []
    read = runtime.db.read

    @contextmanager
    def counted_read() -> Iterator[Session]:
        transactions.append("read")
        with read() as uow:
            yield uow

    monkeypatch.setattr(runtime.db, "read", counted_read)
    failing = {"broken": False}

    def loader(key: str):  # type: ignore[no-untyped-def]
        def load(uow: Session) -> int:
            if key == "gone" and failing["broken"]:
                uow.execute(text("SELECT * FROM no_such_table"))
            loads[key] = loads.get(key, 0) + 1
            return uow.execute(text("SELECT 1")).scalar_one() + loads[key]

        return load

    keys = ["a", "gone", "b", "c"]
    for key in keys:
        assert cache.get(key, loader(key), clock.now()) == 2
    clock.advance(timedelta(seconds=6))  # past half their time: due, still served
    for key in keys:
        assert cache.get(key, loader(key), clock.now(), may_read=False) == 2
    assert cache.due
    failing["broken"] = True
    transactions.clear()
    cache.refresh_due(clock.now())
    assert not cache.due
    for key in ("a", "b", "c"):
        assert cache.get(key, loader(key), clock.now(), may_read=False) == 3
    with pytest.raises(NotKept):  # dropped: the next call reads it and gets the error
        cache.get("gone", loader("gone"), clock.now(), may_read=False)
    # One transaction for all, and a second only for what was left when the failure ended it.
    assert len(transactions) == 2
