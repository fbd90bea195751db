"""A workspace with project ``shop``, agent ``support`` and fake OpenAI and Anthropic providers,
for tests that call through the gateway with the real client libraries."""

from __future__ import annotations

import time
from dataclasses import dataclass

import anthropic
import openai
from fastapi.testclient import TestClient

import corral
from corral.testing.fake_llm import FakeLLM, FakeResponse, FakeRule, FakeScript

SCRIPT = FakeScript(
    rules=[
        FakeRule(
            match="weather",
            respond=FakeResponse(
                tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo"}}]
            ),
        ),
        FakeRule(
            match="explode", respond=FakeResponse(error={"status": 503, "message": "overloaded"})
        ),
        FakeRule(
            match=".*",
            respond=FakeResponse(
                content="Sunny and mild.", usage={"input_tokens": 1200, "output_tokens": 300}
            ),
        ),
    ]
)


@dataclass
class Setup:
    admin: corral.Client
    fake: FakeLLM
    fake_url: str
    agent_key: str
    http: TestClient

    def openai(self, **headers: str) -> openai.OpenAI:
        return openai.OpenAI(
            base_url="http://testserver/v1",
            api_key=self.agent_key,
            http_client=self.http,
            max_retries=0,
            default_headers={"x-corral-session": "s-1", **headers},
        )

    def anthropic(self, **headers: str) -> anthropic.Anthropic:
        return anthropic.Anthropic(
            base_url="http://testserver",
            api_key=self.agent_key,
            http_client=self.http,
            max_retries=0,
            default_headers={"x-corral-session": "s-2", **headers},
        )

    def upstream(self) -> list[dict]:
        return list(self.fake.requests)


def spans(setup: Setup, session: str, *, at_least: int = 1) -> list:
    """The session's spans, once ``at_least`` are recorded (streamed calls are recorded by a
    worker thread after the last event)."""
    deadline = time.monotonic() + 15
    while True:
        found = (
            setup.admin.sessions.timeline("shop", session) if _has_session(setup, session) else []
        )
        if len(found) >= at_least or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _has_session(setup: Setup, session: str) -> bool:
    try:
        setup.admin.sessions.get("shop", session)
    except corral.NotFound:
        return False
    return True
