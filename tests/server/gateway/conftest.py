"""Fixtures for gateway tests: see :mod:`tests.server.gateway.harness`."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

import corral
from corral.testing.fake_llm import FakeLLM, create_fake_llm
from tests.live import app_in_thread
from tests.server.gateway.harness import SCRIPT, Setup


@pytest.fixture
def fake() -> Iterator[tuple[FakeLLM, str]]:
    provider = FakeLLM(SCRIPT)
    with app_in_thread(create_fake_llm(provider)) as url:
        yield provider, url


@pytest.fixture
def setup(admin: corral.Client, http: TestClient, fake: tuple[FakeLLM, str]) -> Setup:
    provider, url = fake
    admin.projects.create("shop")
    admin.agents.create("support")
    admin.projects.grant_agent("shop", "support")
    key = admin.keys.create("support key", agent="support", projects=["shop"]).secret
    admin.providers.add(
        "fake-openai", kind="openai", base_url=f"{url}/v1", api_key="sk-upstream", models=["gpt-*"]
    )
    admin.providers.add(
        "fake-anthropic",
        kind="anthropic",
        base_url=url,
        api_key="sk-ant-upstream",
        models=["claude-*"],
    )
    return Setup(admin, provider, url, key, http)
