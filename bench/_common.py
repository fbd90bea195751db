"""Helpers shared by the benchmarks: a scratch Corral runtime and its admin principal."""

from __future__ import annotations

import statistics
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from corral.core.access import Principal
from corral.core.bootstrap import bootstrap_workspace
from corral.core.keys import authenticate
from corral.core.runtime import Runtime
from corral.db import migrate
from corral.settings import Settings

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def scratch_runtime(
    database_url: str | None, **settings: object
) -> Iterator[tuple[Runtime, Principal, str]]:
    """A migrated, empty Corral (a temporary SQLite file unless a URL is given), its admin
    principal and admin key."""
    with tempfile.TemporaryDirectory() as home:
        url = database_url or f"sqlite:///{home}/bench.db"
        rt = Runtime.from_settings(Settings(home=Path(home), database_url=url, **settings))  # type: ignore[arg-type]
        migrate.upgrade(rt.db)
        key = bootstrap_workspace(rt)
        if key is None:
            raise SystemExit(f"{url} is not empty: give a fresh database to benchmark on.")
        try:
            yield rt, authenticate(rt, key), key
        finally:
            rt.db.dispose()


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def median(values: Sequence[float]) -> float:
    return statistics.median(values)
