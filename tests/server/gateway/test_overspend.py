"""Concurrent calls through two replicas cannot overshoot a budget."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter
from pathlib import Path

import httpx2
import pytest

import corral
from corral.core.tokens import count_tokens
from corral.testing.fake_llm import FakeLLM, FakeScript, create_fake_llm
from tests.conftest import PostgresServer
from tests.live import app_in_thread, live_servers

pytestmark = pytest.mark.slow

PROMPT = "Summarise the quarterly figures in one line."
MAX_TOKENS = 40


@pytest.fixture
def empty_database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'overspend.db'}"
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return server.create_database(f"_overspend_{tmp_path.name[-12:].lower()}")


async def hammer(urls: list[str], key: str, count: int) -> list[httpx2.Response]:
    limits = httpx2.Limits(max_connections=count)
    async with httpx2.AsyncClient(timeout=120, limits=limits) as http:

        async def one(i: int) -> httpx2.Response:
            return await http.post(
                f"{urls[i % len(urls)]}/v1/chat/completions",
                headers={"authorization": f"Bearer {key}"},
                json={
                    "model": "gpt-4o-mini",
                    "max_tokens": MAX_TOKENS,
                    "messages": [{"role": "user", "content": PROMPT}],
                },
            )

        return await asyncio.gather(*(one(i) for i in range(count)))


def test_four_hundred_concurrent_calls_never_overshoot(
    tmp_path: Path, empty_database_url: str
) -> None:
    fake = FakeLLM(FakeScript(latency_ms=150))
    with (
        app_in_thread(create_fake_llm(fake)) as fake_url,
        live_servers([tmp_path / "a", tmp_path / "b"], empty_database_url) as (first, second),
    ):
        config = next(
            p
            for p in (tmp_path / "a" / "cli-config.json", tmp_path / "b" / "cli-config.json")
            if p.exists()
        )
        admin = corral.Client(url=first.url, api_key=json.loads(config.read_text())["api_key"])
        admin.projects.create("shop")
        admin.agents.create("bot")
        admin.projects.grant_agent("shop", "bot")
        key = admin.keys.create("bot", agent="bot", projects=["shop"]).secret
        admin.providers.add("fake", kind="openai", base_url=f"{fake_url}/v1", models=["*"])
        # What one call really costs at gpt-4o-mini prices, as the fake reports its usage.
        answer_tokens = count_tokens(f"Echo: {PROMPT}")
        one_call = ((count_tokens(PROMPT) + 4) * 0.15 + answer_tokens * 0.6) / 1e6
        limit = 100 * one_call
        budget = admin.budgets.create(
            "shop", scope="project", project="shop", limit=limit, window="total"
        )

        responses = asyncio.run(hammer([first.url, second.url], key, 400))
        statuses = Counter(r.status_code for r in responses)
        assert set(statuses) <= {200, 429}, statuses
        refusals = [r.json()["error"] for r in responses if r.status_code == 429]
        assert all(e["code"] == "budget_exceeded" for e in refusals)
        assert all(e["details"]["budget"]["id"] == budget.id for e in refusals)
        # Each call holds its worst case (the prompt with a margin, and all 40 output tokens)
        # until it settles, so fewer than 100 fit at once; but some must, and 400 must not.
        assert 20 <= statuses[200] <= 100, statuses

        deadline = time.monotonic() + 30
        while True:
            [usage] = admin.budgets.usage(budget.id)
            if usage.reserved == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert usage.reserved == 0
        assert usage.spent <= limit + 1e-9
        assert usage.spent == pytest.approx(statuses[200] * one_call, rel=0.02)
        admin.close()
