"""Cost attribution, price overrides and budget holds, with calls made through the gateway."""

from __future__ import annotations

import time

import openai
import pytest

import corral
from corral.core.runtime import Runtime
from corral.schemas.costs import CostReport
from tests.server.gateway.harness import Setup, spans

# The fake provider reports 1,200 input and 300 output tokens for every plain reply.
MINI = 1200 * 0.15e-6 + 300 * 0.6e-6


def chat(setup: Setup, text: str = "hi", **headers: str) -> None:
    setup.openai(**headers).chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": text}]
    )


def report_when(setup: Setup, calls: int, **options: object) -> CostReport:
    """The cost report, once ``calls`` model calls are folded into it (spans of the gateway are
    stored after the response is sent)."""
    deadline = time.monotonic() + 15
    while True:
        report = setup.admin.costs.report(**options)  # type: ignore[arg-type]
        if report.total_calls >= calls or time.monotonic() > deadline:
            return report
        time.sleep(0.05)


def test_spend_is_attributed_by_agent_user_session_and_model(
    setup: Setup, runtime: Runtime
) -> None:
    chat(setup, **{"x-corral-user": "ana", "x-corral-session": "s-a"})
    chat(setup, **{"x-corral-user": "ana", "x-corral-session": "s-a"})
    chat(setup, **{"x-corral-user": "bo", "x-corral-session": "s-b"})
    by_agent = report_when(setup, 3, group_by=["project", "agent"])
    [row] = by_agent.rows
    assert (row.project, row.agent, row.calls) == ("shop", "support", 3)
    assert row.cost_usd == pytest.approx(3 * MINI)
    assert (row.input_tokens, row.output_tokens) == (3600, 900)
    assert by_agent.total_usd == pytest.approx(3 * MINI)

    by_user = setup.admin.costs.report(group_by=["user"])
    assert [(r.user, r.calls) for r in by_user.rows] == [("ana", 2), ("bo", 1)]  # costliest first
    by_model = setup.admin.costs.report(group_by=["model", "provider", "day"])
    [model_row] = by_model.rows
    assert (model_row.model, model_row.provider) == ("gpt-4o-mini", "fake-openai")
    assert model_row.day == runtime.clock.now().date()

    deadline = time.monotonic() + 15
    while len(setup.admin.costs.report(group_by=["session"]).rows) < 2:
        assert time.monotonic() < deadline, "sessions were not rolled up"
        time.sleep(0.05)
    sessions = setup.admin.costs.report(group_by=["session"]).rows
    assert {(r.session, r.calls) for r in sessions} == {("s-a", 2), ("s-b", 1)}


def test_cost_report_refuses_mixed_session_grouping_and_inverted_ranges(setup: Setup) -> None:
    with pytest.raises(corral.InvalidRequest) as err:
        setup.admin.costs.report(group_by=["session", "model"])
    assert err.value.code == "invalid_group_by"
    response = setup.http.get(
        "/v1/costs",
        params={"since": "2026-05-02", "until": "2026-05-01"},
        headers={"authorization": f"Bearer {setup.agent_key}"},
    )
    assert (response.status_code, response.json()["error"]["code"]) == (
        422,
        "invalid_time_range",
    )


def test_price_override_prices_new_calls_and_is_named_on_the_span(setup: Setup) -> None:
    quote = setup.admin.prices.quote("gpt-4o-mini", input_tokens=1200, output_tokens=300)
    assert quote.usd == pytest.approx(MINI)
    override = setup.admin.prices.set(
        "gpt-4o-*", input_per_mtok=10, output_per_mtok=20, note="negotiated"
    )
    assert setup.admin.prices.quote("gpt-4o-mini", input_tokens=1200, output_tokens=300).usd == (
        pytest.approx(1200 * 10e-6 + 300 * 20e-6)
    )
    chat(setup)
    [summary] = [s for s in spans(setup, "s-1") if s.span_type == "llm"]
    span = setup.admin.traces.span("shop", summary.trace_id, summary.span_id)
    assert span.cost_usd == pytest.approx(1200 * 10e-6 + 300 * 20e-6)
    assert span.price_version == f"override:{override.id}"

    setup.admin.prices.remove(override.id)
    assert setup.admin.prices.overrides() == []
    assert setup.admin.prices.quote("gpt-4o-mini", input_tokens=1200, output_tokens=300).usd == (
        pytest.approx(MINI)
    )
    with pytest.raises(corral.NotFound):
        setup.admin.prices.remove(override.id)
    [entry] = setup.admin.audit.list(action="price.override")
    assert entry.details["model"] == "gpt-4o-*"


def test_price_override_is_validated(setup: Setup) -> None:
    response = setup.http.post(
        "/v1/prices/overrides",
        json={"model": "m", "input_per_mtok": -1, "output_per_mtok": 1},
        headers={"authorization": f"Bearer {setup.admin.api_key}"},
    )
    assert (response.status_code, response.json()["error"]["code"]) == (422, "invalid_request")


def test_budget_guard_holds_settles_and_releases(setup: Setup) -> None:
    budgets = setup.admin.budgets
    limit = budgets.create("guarded", scope="project", project="shop", limit=0.01)
    agent = corral.Client(url="http://testserver", api_key=setup.agent_key, http_client=setup.http)
    with agent.budgets.guard(
        project="shop", model="gpt-4o-mini", prompt="hello", max_tokens=1000
    ) as guard:
        [usage] = budgets.usage(limit.id)
        assert usage.reserved == pytest.approx((1 + 1000) * 0.6e-6 + 0.15e-6, rel=0.5)
        guard.settle(input_tokens=1200, output_tokens=300)
    [usage] = budgets.usage(limit.id)
    assert (usage.spent, usage.reserved) == (pytest.approx(MINI), 0.0)

    with agent.budgets.guard(project="shop", model="gpt-4o-mini", prompt="x"):
        pass  # the call failed: nothing settled, the hold is released
    [usage] = budgets.usage(limit.id)
    assert (usage.spent, usage.reserved) == (pytest.approx(MINI), 0.0)

    with pytest.raises(corral.RateLimited) as err:
        agent.budgets.hold(project="shop", model="gpt-4o-mini", prompt="x", max_tokens=100_000)
    assert err.value.code == "budget_exceeded"
    with pytest.raises(corral.NotFound):
        agent.budgets.settle("no-such-hold", output_tokens=1)


def test_version_budget_limits_each_session_of_that_version(setup: Setup) -> None:
    agents = setup.admin.agents
    agents.create_version(
        "support", config={"model": "gpt-4o-mini", "budget": {"per_session_usd": 0.004}}
    )
    agents.deploy("support", 1)
    chat(setup, **{"x-corral-session": "long"})  # worst case held: 4096 output tokens fit
    refused = None
    for _ in range(10):
        try:
            chat(setup, **{"x-corral-session": "long"})
        except openai.RateLimitError as err:
            refused = err
            break
    assert refused is not None, "the session's limit was never reached"
    assert isinstance(refused.body, dict)
    assert refused.body["details"]["budget"]["name"] == "support v1 per session"
    chat(setup, **{"x-corral-session": "fresh"})  # another session has its own limit
    names = {b.name for b in setup.admin.budgets.list()}
    assert "support v1 per session" in names
