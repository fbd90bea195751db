"""Detection on calls made through the gateway: the circuit breaker stops a looping session, and
the project's memory tells the constraint rule what the agent must not do."""

from __future__ import annotations

import json
import time
from typing import Any

import openai
import pytest

from corral.core.detection.live import running_detector
from corral.core.runtime import Runtime
from corral.schemas.detection import Finding
from tests.server.gateway.harness import Setup


def history(tool: str, arguments: dict[str, Any], times: int) -> list[dict[str, Any]]:
    """A conversation in which the model called ``tool`` with the same arguments ``times``
    times, and the agent sent each result back."""
    messages: list[dict[str, Any]] = [{"role": "user", "content": "sort out the order"}]
    for n in range(times):
        call = {
            "id": f"call_{n}",
            "type": "function",
            "function": {"name": tool, "arguments": json.dumps(arguments)},
        }
        messages.append({"role": "assistant", "content": None, "tool_calls": [call]})
        messages.append({"role": "tool", "tool_call_id": f"call_{n}", "content": f"result {n}"})
    return messages


def settle_detection(runtime: Runtime) -> None:
    detector = running_detector(runtime)
    assert detector is not None
    assert detector.wait_idle(30)


def wait_for_findings(setup: Setup, runtime: Runtime, finding_type: str) -> list[Finding]:
    """Findings of a type in ``shop``, once the gateway's spans are stored and judged (the
    gateway records a call after answering it)."""
    for _ in range(200):
        settle_detection(runtime)
        found = setup.admin.findings.list("shop", type=finding_type)
        if found:
            return found
        time.sleep(0.05)
    return []


def test_a_looping_session_is_halted_at_the_gateway_until_resumed(
    setup: Setup, runtime: Runtime
) -> None:
    setup.admin.findings.configure("shop", halt_on=["tool_loop"])
    client = setup.openai(**{"x-corral-session": "loopy"})
    client.chat.completions.create(
        model="gpt-4o-mini", messages=history("lookup_order", {"order": 42}, 6)
    )
    [finding] = wait_for_findings(setup, runtime, "tool_loop")  # a refetch finding too
    assert (finding.type, finding.severity, finding.session_id) == (
        "tool_loop",
        "critical",
        "loopy",
    )
    calls_before = len(setup.upstream())
    with pytest.raises(openai.ConflictError) as err:
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "try again"}]
        )
    assert isinstance(err.value.body, dict)
    assert (err.value.body["code"], err.value.body["details"]["finding_id"]) == (
        "session_halted",
        finding.id,
    )
    assert err.value.response.headers["x-should-retry"] == "false"
    assert len(setup.upstream()) == calls_before  # never reached the provider
    other = setup.openai(**{"x-corral-session": "calm"})
    other.chat.completions.create(model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}])

    setup.admin.sessions.resume("shop", "loopy", note="checked the order by hand")
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "try again"}]
    )


def test_a_memory_constraint_is_checked_against_the_agent_tool_calls(
    setup: Setup, runtime: Runtime
) -> None:
    setup.admin.memory.remember(
        "shop", "deny refund when amount > 500", kind="constraint", key="refund-limit"
    )
    setup.admin.memory.remember("shop", "The limit is agreed with finance.", kind="constraint")
    client = setup.openai(**{"x-corral-session": "refunds"})
    client.chat.completions.create(
        model="gpt-4o-mini", messages=history("refund", {"order": 7, "amount": 900}, 1)
    )
    [finding] = wait_for_findings(setup, runtime, "constraint_violation")
    assert "deny refund when amount > 500" in finding.explanation
