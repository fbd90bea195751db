"""Several ``corral serve`` processes on one database serve the same data."""

from __future__ import annotations

import concurrent.futures
import json
import time
from pathlib import Path

import pytest

import corral
from tests.conftest import PostgresServer
from tests.live import live_servers

pytestmark = pytest.mark.slow


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'replicas.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database(f"_replicas_{tmp_path.name[-12:].lower()}")


def test_two_replicas_share_everything(tmp_path: Path, empty_database_url: str) -> None:
    # Both start at once on a database that has never been migrated: one migrates and creates
    # the workspace, the other waits for it and finds both done.
    homes = [tmp_path / "a", tmp_path / "b"]
    with live_servers(homes, empty_database_url, CORRAL_AUTH_CACHE_SECONDS="2") as (
        first,
        second,
    ):
        config = (tmp_path / "a" / "cli-config.json", tmp_path / "b" / "cli-config.json")
        written = [c.read_text() for c in config if c.exists()]
        assert len(written) == 1, "exactly one replica created the workspace and its key"
        admin_key = json.loads(written[0])["api_key"]
        a = corral.Client(url=first.url, api_key=admin_key)
        b = corral.Client(url=second.url, api_key=admin_key)

        a.projects.create("shared", description="made on A")
        assert b.projects.get("shared").description == "made on A"
        b.agents.create("worker")
        b.projects.grant_agent("shared", "worker")
        key = a.keys.create("worker key", agent="worker", projects=["shared"])
        worker_on_b = corral.Client(url=second.url, api_key=key.secret)
        assert [p.name for p in worker_on_b.projects.list()] == ["shared"]

        # Concurrent writes through both replicas all land, and names stay unique.
        def create(i: int) -> str:
            client = a if i % 2 else b
            try:
                client.projects.create(f"p{i % 10}")
                return "created"
            except corral.Conflict:
                return "conflict"

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            outcomes = list(pool.map(create, range(40)))
        assert outcomes.count("created") == 10
        assert outcomes.count("conflict") == 30
        assert sorted(p.name for p in b.projects.list()) == sorted(
            ["shared", *(f"p{i}" for i in range(10))]
        )

        # A revocation holds at once where it was made, and on the other replica once that
        # replica's memory of the key (CORRAL_AUTH_CACHE_SECONDS, 2 s here) has run out.
        worker_on_b.projects.list()
        a.keys.revoke(key.id)
        with (
            corral.Client(url=first.url, api_key=key.secret) as worker_on_a,
            pytest.raises(corral.Unauthenticated),
        ):
            worker_on_a.projects.list()
        time.sleep(2)
        with pytest.raises(corral.Unauthenticated):
            worker_on_b.projects.list()
        for client in (a, b, worker_on_b):
            client.close()
