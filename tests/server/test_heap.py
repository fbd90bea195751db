"""The served app hides its start-up heap from the garbage collector; embedded apps do not."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from corral.core import pricing
from corral.core.runtime import Runtime
from corral.server.app import create_app


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


@pytest.mark.usefixtures("unfrozen", "admin_key")
def test_served_app_freezes_its_startup_heap(runtime: Runtime) -> None:
    with TestClient(create_app(runtime=runtime, freeze_heap=True)) as client:
        assert client.get("/healthz").status_code == 200
        # Everything alive once the app started (modules, routes, the runtime) is frozen.
        assert gc.get_freeze_count() > 10_000
        frozen = gc.get_freeze_count()
        # Only start-up is frozen: what serving makes stays the collector's to track and free
        # (frozen objects may still be freed by reference counting, so the count can drop).
        for _ in range(3):
            assert client.get("/readyz").status_code == 200
        assert gc.get_freeze_count() <= frozen


@pytest.mark.usefixtures("unfrozen", "admin_key")
def test_served_app_freezes_the_price_table_with_its_startup_heap(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As in a new server process, where the first gateway call would load the table.
    monkeypatch.setattr(pricing, "_default_book", None)
    with TestClient(create_app(runtime=runtime, freeze_heap=True)):
        book = pricing._default_book
        assert book is not None
        # Frozen: not among the objects the collector walks.
        assert not any(tracked is book for tracked in gc.get_objects())


@pytest.mark.usefixtures("unfrozen", "admin_key")
def test_embedded_app_leaves_the_collector_alone(runtime: Runtime) -> None:
    with TestClient(create_app(runtime=runtime)) as client:
        assert client.get("/healthz").status_code == 200
        assert gc.get_freeze_count() == 0
