"""What the gateway keeps between calls, and calls recorded by the worker after they answer."""

from __future__ import annotations

import time
from datetime import timedelta

import openai
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import update

from corral.core.clock import ManualClock
from corral.core.gateway_recorder import running_recorder
from corral.core.runtime import Runtime
from corral.db.schema import BudgetRow
from corral.server.app import create_app
from tests.server.gateway.harness import Setup, spans


def ask(client: openai.OpenAI) -> None:
    client.chat.completions.create(
        model="gpt-4o-mini", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    )


def test_a_change_made_here_applies_to_the_next_call_at_once(setup: Setup) -> None:
    client = setup.openai()
    ask(client)  # the project, agent, providers and budgets of the call are kept now
    tiny = setup.admin.budgets.create("tiny", scope="agent", subject="support", limit=0.000001)
    with pytest.raises(openai.RateLimitError):
        ask(client)
    setup.admin.budgets.update(tiny.id, limit=10.0)
    ask(client)
    setup.admin.providers.update("fake-openai", disabled=True)
    with pytest.raises(openai.NotFoundError, match="no openai provider serves"):
        ask(client)


def test_a_tool_policy_saved_here_hides_tools_from_the_next_call(setup: Setup) -> None:
    tools = [
        {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
        for n in ("search", "delete_user")
    ]
    client = setup.openai()

    def offered() -> list[str]:
        client.chat.completions.create(
            model="gpt-4o-mini", tools=tools, messages=[{"role": "user", "content": "hi"}]
        )
        return [t["function"]["name"] for t in setup.upstream()[-1]["body"]["tools"]]

    assert offered() == ["search", "delete_user"]  # no policy: kept as "none" now
    setup.admin.policies.save("support", rules=["allow search"])
    assert offered() == ["search"]


def test_another_replica_sees_a_change_within_the_cache_time(
    setup: Setup, runtime: Runtime, clock: ManualClock
) -> None:
    client = setup.openai()
    budget = setup.admin.budgets.create("b", scope="agent", subject="support", limit=10.0)
    ask(client)
    # Another replica lowers the limit: nothing tells this one, whose budget terms are kept.
    with runtime.db.write() as uow:
        uow.execute(update(BudgetRow).where(BudgetRow.id == budget.id).values(limit_units=1))
    ask(client)
    clock.advance(timedelta(seconds=runtime.settings.gateway_cache_seconds))
    with pytest.raises(openai.RateLimitError):
        ask(client)


def test_what_calls_keep_reading_is_loaded_again_before_it_expires(
    setup: Setup, runtime: Runtime, clock: ManualClock
) -> None:
    client = setup.openai()
    budget = setup.admin.budgets.create("b", scope="agent", subject="support", limit=10.0)
    ask(client)
    with runtime.db.write() as uow:  # another replica lowers the limit
        uow.execute(update(BudgetRow).where(BudgetRow.id == budget.id).values(limit_units=1))
    clock.advance(timedelta(seconds=runtime.settings.gateway_cache_seconds * 0.6))
    ask(client)  # still within its time: answered from what is kept, which is loaded again
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:  # the reload runs in a worker thread
        try:
            ask(client)
        except openai.RateLimitError:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the budget's new limit was not loaded before its terms expired")


@pytest.fixture
def recording(runtime: Runtime) -> Runtime:
    """A second replica on the same database whose recorder waits a long time before it
    writes (unless someone waits for it), so that what is queued can be seen."""
    settings = runtime.settings.model_copy(update={"gateway_record_delay_ms": 1000})
    return Runtime.from_settings(settings, clock=runtime.clock)


def test_calls_are_settled_and_recorded_after_they_answer(setup: Setup, recording: Runtime) -> None:
    budget = setup.admin.budgets.create("b", scope="agent", subject="support", limit=10.0)
    with TestClient(create_app(runtime=recording)) as http:
        client = openai.OpenAI(
            base_url="http://testserver/v1",
            api_key=setup.agent_key,
            http_client=http,
            max_retries=0,
            default_headers={"x-corral-session": "s-9"},
        )
        recorder = running_recorder(recording)
        assert recorder is not None
        recorder.delay_seconds = 3600  # the worker writes when a test waits for it
        ask(client)
        ask(client)
        [usage] = setup.admin.budgets.usage(budget.id)
        assert (usage.reserved > 0, usage.spent) == (True, 0)  # answered, held, not settled
        assert recorder.wait_idle(30)
        assert recorder.batches == 1  # both calls in one transaction
        [usage] = setup.admin.budgets.usage(budget.id)
        assert (usage.reserved, usage.spent > 0) == (0, True)
        assert len(spans(setup, "s-9", at_least=2)) == 2
        ask(client)  # queued when the replica shuts down: written before it stops
    assert len(spans(setup, "s-9", at_least=3)) == 3
    [usage] = setup.admin.budgets.usage(budget.id)
    assert usage.reserved == 0
