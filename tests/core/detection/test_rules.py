from __future__ import annotations

import json

import pytest

from corral.core.detection.config import DetectorSettings, is_routing_boilerplate
from corral.core.detection.engine import DetectionContext, detect
from corral.core.detection.rules import Baseline, CheckableConstraint
from corral.core.detection.scenarios import SessionBuilder, evaluate
from corral.schemas.policies import parse_rule


def types(builder: SessionBuilder, context: DetectionContext | None = None) -> list[str]:
    return sorted(f.type for f in detect(builder.finish(), context or DetectionContext()))


def test_tool_loop_counts_canonical_arguments_and_waste() -> None:
    b = SessionBuilder()
    for raw in ('{"a": 1, "b": 2}', '{"b":2,"a":1}', '{ "a" : 1, "b" : 2 }'):
        b.say("thinking", tokens=400, cost=0.002)
        b._add(span_type="tool", tool_name="convert", tool_arguments=raw, tool_result=raw)
    [finding] = detect(b.finish(), DetectionContext())
    assert finding.type == "tool_loop"
    assert finding.span_ids == ["s2", "s4", "s6"]
    assert finding.step == 6
    # The two repeats were each chosen by a 400-token, $0.002 LLM call.
    assert (finding.wasted_tokens, finding.wasted_cost_usd) == (800, pytest.approx(0.004))


def test_loop_threshold_and_polling_exemption_are_settings() -> None:
    b = SessionBuilder()
    for _ in range(2):
        b.call("convert", {"x": 1}, "ok")
    assert types(b) == []
    b2 = SessionBuilder()
    for _ in range(2):
        b2.call("convert", {"x": 1}, "ok")
    assert types(b2, DetectionContext(settings=DetectorSettings(loop_repeats=2))) == ["tool_loop"]
    b3 = SessionBuilder()
    for _ in range(5):
        b3.call("custom_probe", {"job": 1}, "pending")
    quiet = DetectorSettings(polling_tools=["custom_probe"])
    assert types(b3, DetectionContext(settings=quiet)) == []


def test_refetch_needs_no_write_between() -> None:
    user = '{"id": 1}'
    b = SessionBuilder().call("get_user", {"id": 1}, user).say("ok")
    b.call("get_user", {"id": 1}, user)
    assert types(b) == ["refetch"]
    unknown = SessionBuilder().call("get_user", {"id": 1}, user).call("frobnicate", {}, "ok")
    unknown.call("get_user", {"id": 1}, user)
    assert types(unknown) == []  # an unknown tool might write: no claim


def test_ignored_error_waits_for_the_agent_to_move_on() -> None:
    b = SessionBuilder().call("get_order", {"id": 5}, '{"error": "not found"}')
    b.say("Your order total is $40.")
    spans = list(b.spans)
    assert detect(spans, DetectionContext()) == []  # no next step, task not over: not judged yet
    assert types(b) == ["ignored_tool_error"]  # once the task ends, it is


def test_acknowledgement_or_retry_clears_an_error() -> None:
    acknowledged = SessionBuilder().call("get_order", {"id": 5}, "500 Internal Server Error")
    acknowledged.say("The order service had an internal problem; I'll try later.")
    assert types(acknowledged) == []
    retried = SessionBuilder().call("get_order", {"id": 5}, "timeout", status="error")
    retried.call("get_order", {"id": 5}, '{"total": 40}').say("Your total is $40.")
    assert types(retried) == []


def test_routing_lines_are_boilerplate() -> None:
    assert is_routing_boilerplate("Next speaker WebSurfer")
    assert is_routing_boilerplate("next speaker: Coder")
    assert is_routing_boilerplate("There is no code from the last 1 message for me to execute.")
    assert not is_routing_boilerplate("Next, the speaker should verify the numbers in the table.")


def test_handoff_cycle_among_three_agents_but_not_with_progress() -> None:
    b = SessionBuilder(agent="a")
    for _ in range(3):
        b.say("over to b", agent="a").say("over to c", agent="b").say("over to a", agent="c")
    assert types(b) == ["handoff_cycle"]
    busy = SessionBuilder(agent="a")
    for i in range(6):
        busy.say(f"step {i} planned", agent="a").say(f"step {i} done", agent="b")
    assert types(busy) == []


def test_a_handoff_cycle_that_keeps_going_turns_critical() -> None:
    limit = 2 + DetectorSettings().handoff_slack

    def bounced(turns: int) -> list[str]:
        b = SessionBuilder(agent="a")
        for i in range(turns):
            b.say("back to you", agent="ab"[i % 2])
        return [f.severity for f in detect(b.finish(), DetectionContext())]

    assert bounced(limit + 2) == ["warning"]  # the first turn starts the task; then limit + 1
    assert bounced(2 * limit + 2) == ["critical"]  # one finding, judged at its full length


def test_runaway_against_baseline_and_caps() -> None:
    b = SessionBuilder()
    for i in range(20):
        b.say(f"turn {i}", tokens=1000, cost=0.01)
    baseline = Baseline(sessions=20, p95_steps=5, p95_tokens=50_000, p95_cost_usd=1.0)
    findings = detect(b.finish(), DetectionContext(baseline=baseline))
    assert [(f.type, f.details["metric"]) for f in findings] == [("runaway", "steps")]
    capped = DetectionContext(settings=DetectorSettings(runaway_max_cost_usd=0.1))
    assert [f.details["metric"] for f in detect(b.spans, capped)] == ["cost"]
    assert detect(b.spans, capped)[0].wasted_cost_usd == pytest.approx(0.1)


def test_constraints_and_contradictions() -> None:
    rule = "allow transfer when currency in EUR,USD"
    constraint = CheckableConstraint("m7", rule, parse_rule(rule))
    b = SessionBuilder().call("transfer", {"currency": "BTC", "amount": 1}, "sent")
    b.call("transfer", {"currency": "EUR", "amount": 1}, "sent")
    [finding] = detect(b.finish(), DetectionContext(constraints=[constraint]))
    assert (finding.type, finding.span_ids) == ("constraint_violation", ["s1"])
    memory = SessionBuilder().call(
        "remember", {"kind": "decision", "key": "db", "content": "Use SQLite"}, "ok"
    )
    context = DetectionContext(decisions={"db": ("i1", "Use PostgreSQL")})
    [contradiction] = detect(memory.finish(), context)
    assert contradiction.details["active"] == "Use PostgreSQL"


def test_findings_are_deterministic_for_a_growing_session() -> None:
    b = SessionBuilder()
    for i in range(5):
        b.call("convert", {"x": 1}, json.dumps({"run": i}))
    early = {f.key for f in detect(b.spans[:3], DetectionContext())}
    late = {f.key for f in detect(b.spans, DetectionContext())}
    assert early == late


def test_generated_suite_reaches_the_targets() -> None:
    result = evaluate(per_family=12, seed=11)
    assert result.scenarios >= 400
    for detector, score in result.scores.items():
        assert score.positives > 0, detector
        assert score.precision >= 0.95, (detector, result.mistakes[:5])
        assert score.recall >= 0.95, (detector, result.mistakes[:5])
