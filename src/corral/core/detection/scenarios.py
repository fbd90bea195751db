"""Generated failure scenarios: for every detector, sessions that must trigger it and near misses
that must not, and the precision and recall the detectors reach on them.

Each scenario states exactly which detectors must fire (often one; some failure shapes
necessarily trip two, e.g. an A-B alternation is also a repeated call). A detector firing on a
scenario that does not list it is a false positive; not firing on one that does, a false
negative.
"""

from __future__ import annotations

import json
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from corral.core.detection.config import DetectorSettings
from corral.core.detection.engine import DETECTORS, DetectionContext, detect
from corral.core.detection.model import SpanView
from corral.core.detection.rules import Baseline, CheckableConstraint
from corral.schemas.policies import parse_rule


class SessionBuilder:
    """Spans of one session, in order, with a root span per trace when finished."""

    def __init__(self, agent: str = "assistant", trace: str = "t1") -> None:
        self.agent = agent
        self.trace = trace
        self.spans: list[SpanView] = []

    def _add(self, **fields: Any) -> SessionBuilder:
        step = len(self.spans) + 1
        self.spans.append(
            SpanView(
                span_id=f"s{step}",
                trace_id=fields.pop("trace", self.trace),
                step=step,
                parent_span_id=fields.pop("parent", "root"),
                agent_name=fields.pop("agent", self.agent),
                **fields,
            )
        )
        return self

    def say(
        self, text: str, *, agent: str | None = None, tokens: int = 300, cost: float = 0.001
    ) -> SessionBuilder:
        return self._add(
            span_type="llm",
            output_text=text,
            agent=agent or self.agent,
            input_tokens=tokens - 50,
            output_tokens=50,
            cost_usd=cost,
        )

    def call(
        self,
        tool: str,
        args: dict[str, Any],
        result: str,
        *,
        status: str = "ok",
        agent: str | None = None,
    ) -> SessionBuilder:
        return self._add(
            span_type="tool",
            tool_name=tool,
            tool_arguments=json.dumps(args),
            tool_result=result,
            status=status,
            agent=agent or self.agent,
        )

    def finish(self) -> list[SpanView]:
        step = len(self.spans) + 1
        self.spans.append(
            SpanView(
                span_id="root",
                trace_id=self.trace,
                step=step,
                span_type="agent",
                parent_span_id=None,
                agent_name=self.agent,
            )
        )
        return self.spans


@dataclass
class Scenario:
    name: str
    expected: frozenset[str]
    spans: list[SpanView]
    context: DetectionContext = field(default_factory=DetectionContext)


Family = Callable[[random.Random], Scenario]

WORDS = [
    "alpha",
    "berlin",
    "invoice",
    "ticket",
    "quarterly",
    "orbit",
    "maple",
    "harbor",
    "cobalt",
    "delta",
    "ember",
    "falcon",
    "glacier",
    "jasper",
    "lumen",
    "meadow",
    "nectar",
    "onyx",
]


def _phrase(rng: random.Random, n: int = 4) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _fresh(rng: random.Random) -> str:
    return f"Working on it: {_phrase(rng, 6)} {rng.randrange(10**6)}."


def _scenario(
    name: str, expected: set[str], spans: list[SpanView], context: DetectionContext | None = None
) -> Scenario:
    return Scenario(name, frozenset(expected), spans, context or DetectionContext())


# --- loops --------------------------------------------------------------------------------------


def tool_loop(rng: random.Random) -> Scenario:
    b = SessionBuilder()
    args = {"text": _phrase(rng), "target": rng.choice(["fr", "de", "es"])}
    for _ in range(rng.randint(3, 6)):
        b.say(_fresh(rng)).call("translate", args, f"translated {rng.randrange(10**6)}")
    return _scenario("tool_loop", {"tool_loop"}, b.say(_fresh(rng)).finish())


def tool_calls_differing_args(rng: random.Random) -> Scenario:
    b = SessionBuilder()
    for i in range(rng.randint(3, 7)):
        b.say(_fresh(rng)).call("translate", {"text": _phrase(rng), "n": i}, f"ok {i}")
    return _scenario("near_miss:tool_loop:different_args", set(), b.say(_fresh(rng)).finish())


def polling(rng: random.Random) -> Scenario:
    b = SessionBuilder()
    job = rng.randrange(10**5)
    for _ in range(rng.randint(4, 8)):
        b.call("wait_for_job", {"job": job}, "running")
    b.call("wait_for_job", {"job": job}, "done").say(_fresh(rng))
    return _scenario("near_miss:tool_loop:polling", set(), b.finish())


def twice_only(rng: random.Random) -> Scenario:
    b = SessionBuilder()
    args = {"expression": f"{rng.randrange(100)}*{rng.randrange(100)}"}
    b.say(_fresh(rng)).call("calculate", args, "42").say(_fresh(rng)).call("calculate", args, "42")
    return _scenario("near_miss:tool_loop:twice", set(), b.say(_fresh(rng)).finish())


def action_observation_loop(rng: random.Random) -> Scenario:
    b = SessionBuilder()
    args = {"path": f"/srv/{rng.choice(WORDS)}.csv"}
    for _ in range(rng.randint(4, 6)):
        b.say(_fresh(rng)).call("convert_file", args, "converted 0 rows")
    return _scenario(
        "action_observation_loop",
        {"action_observation_loop", "tool_loop"},
        b.say(_fresh(rng)).finish(),
    )


def failing_retries(rng: random.Random) -> Scenario:
    b = SessionBuilder()
    args = {"query": _phrase(rng)}
    for _ in range(3):
        b.say(_fresh(rng)).call("compile_report", args, "Error: template missing", status="error")
    b.say("The report could not be compiled: the template is missing.")
    return _scenario(
        "action_observation_loop:failing", {"action_observation_loop", "tool_loop"}, b.finish()
    )


def same_call_new_results(rng: random.Random) -> Scenario:
    b = SessionBuilder()
    args = {"symbol": rng.choice(["ACME", "GLOBEX", "INITECH"])}
    for i in range(3):
        b.say(_fresh(rng)).call("quote_price", args, f"{100 + i}.{rng.randrange(99)}")
    return _scenario(
        "near_miss:action_observation:changing_results", {"tool_loop"}, b.say(_fresh(rng)).finish()
    )


def alternation(rng: random.Random) -> Scenario:
    b = SessionBuilder()
    a = {"file": f"{rng.choice(WORDS)}.py"}
    c = {"file": f"{rng.choice(WORDS)}_test.py"}
    for _ in range(rng.randint(3, 4)):
        b.say(_fresh(rng)).call("open_editor", a, f"opened {rng.randrange(10**6)}")
        b.say(_fresh(rng)).call("open_editor", c, f"opened {rng.randrange(10**6)}")
    return _scenario(
        "alternation_loop", {"alternation_loop", "tool_loop"}, b.say(_fresh(rng)).finish()
    )


def short_alternation(rng: random.Random) -> Scenario:
    b = SessionBuilder()
    for name in ("a.py", "b.py", "a.py", "b.py"):
        b.say(_fresh(rng)).call("open_editor", {"file": name}, f"opened {rng.randrange(10**6)}")
    return _scenario("near_miss:alternation:short", set(), b.say(_fresh(rng)).finish())


def monologue(rng: random.Random) -> Scenario:
    b = SessionBuilder()
    b.call("translate", {"text": _phrase(rng)}, "done")
    text = f"I will now summarise the {_phrase(rng, 3)} results."
    for _ in range(rng.randint(3, 5)):
        b.say(text)
    return _scenario("monologue_loop", {"monologue_loop"}, b.finish())


def repeated_routing(rng: random.Random) -> Scenario:
    b = SessionBuilder(agent="Orchestrator")
    for _ in range(rng.randint(3, 6)):
        b.say("Next speaker WebSurfer")
    b.say(_fresh(rng))
    return _scenario("near_miss:monologue:routing", set(), b.finish())


def monologue_with_work_between(rng: random.Random) -> Scenario:
    b = SessionBuilder()
    text = "Let me check the next item."
    for i in range(4):
        b.say(text).call("translate", {"text": _phrase(rng), "i": i}, f"ok {i}")
    return _scenario("near_miss:monologue:work_between", set(), b.say(_fresh(rng)).finish())


# --- re-fetch -----------------------------------------------------------------------------------


def refetch(rng: random.Random) -> Scenario:
    b = SessionBuilder()
    args = {"customer_id": rng.randrange(10**5)}
    record = json.dumps({"name": _phrase(rng, 2), "tier": "gold"})
    b.say(_fresh(rng)).call("get_customer", args, record)
    b.say(_fresh(rng)).call("search_docs", {"q": _phrase(rng)}, "3 results")
    b.say(_fresh(rng)).call("get_customer", args, record)
    return _scenario("refetch", {"refetch"}, b.say(_fresh(rng)).finish())


def refetch_after_write(rng: random.Random) -> Scenario:
    b = SessionBuilder()
    args = {"customer_id": rng.randrange(10**5)}
    b.say(_fresh(rng)).call("get_customer", args, json.dumps({"tier": "silver"}))
    b.say(_fresh(rng)).call("update_customer", {**args, "tier": "gold"}, "updated")
    b.say(_fresh(rng)).call("get_customer", args, json.dumps({"tier": "gold"}))
    return _scenario("near_miss:refetch:after_write", set(), b.say(_fresh(rng)).finish())


def reads_of_other_records(rng: random.Random) -> Scenario:
    b = SessionBuilder()
    for i in range(rng.randint(2, 5)):
        b.say(_fresh(rng)).call("get_customer", {"customer_id": i}, json.dumps({"id": i}))
    return _scenario("near_miss:refetch:other_records", set(), b.say(_fresh(rng)).finish())


# --- handoffs -----------------------------------------------------------------------------------


def ping_pong(rng: random.Random) -> Scenario:
    b = SessionBuilder(agent="planner")
    ask = f"Please verify the {_phrase(rng, 2)} figures."
    back = "I cannot verify this; returning it to the planner."
    b.say(_fresh(rng), agent="planner")
    for _ in range(rng.randint(4, 6)):
        b.say(ask, agent="planner").say(back, agent="reviewer")
    return _scenario("handoff_cycle", {"handoff_cycle"}, b.finish())


def orchestrated_progress(rng: random.Random) -> Scenario:
    b = SessionBuilder(agent="Orchestrator")
    for _ in range(rng.randint(5, 10)):
        b.say("Next speaker WebSurfer", agent="Orchestrator")
        b.say(
            f"I typed '{_phrase(rng)}' and found {rng.randrange(1000)} results.", agent="WebSurfer"
        )
    return _scenario("near_miss:handoff:routing_with_progress", set(), b.finish())


def collaboration(rng: random.Random) -> Scenario:
    b = SessionBuilder(agent="planner")
    for _ in range(rng.randint(4, 8)):
        b.say(f"Plan: {_phrase(rng, 5)}", agent="planner")
        b.say(f"Done: {_phrase(rng, 5)}", agent="coder")
        b.say(f"Looks fine: {_phrase(rng, 5)}", agent="reviewer")
    return _scenario("near_miss:handoff:progress", set(), b.finish())


# --- ignored errors -----------------------------------------------------------------------------


def ignored_error(rng: random.Random) -> Scenario:
    b = SessionBuilder()
    failures: list[tuple[str, dict[str, Any], str, str]] = [
        ("get_order", {"order": rng.randrange(10**5)}, '{"error": "order not found"}', "ok"),
        ("get_weather", {"city": rng.choice(WORDS)}, "503 Service Unavailable", "ok"),
        ("search_flights", {"to": rng.choice(WORDS)}, "[]", "ok"),
        ("book_table", {"guests": 4}, "timeout", "error"),
        ("run_sql", {"q": "select 1"}, "Traceback (most recent call last):\n  ValueError", "ok"),
        ("execute_code", {"code": "print(x)"}, "exitcode: 1 (execution failed)\nNameError", "ok"),
    ]
    tool, args, result, status = rng.choice(failures)
    b.say(_fresh(rng)).call(tool, args, result, status=status)
    b.say(f"All set! Your {_phrase(rng, 2)} is confirmed for tomorrow.")
    return _scenario("ignored_tool_error", {"ignored_tool_error"}, b.finish())


def acknowledged_error(rng: random.Random) -> Scenario:
    b = SessionBuilder()
    b.say(_fresh(rng)).call("get_order", {"order": 7}, '{"error": "order not found"}')
    b.say("I could not find that order; please check the number.")
    return _scenario("near_miss:error:acknowledged", set(), b.finish())


def retried_error(rng: random.Random) -> Scenario:
    b = SessionBuilder()
    b.say(_fresh(rng)).call("get_weather", {"city": "oslo"}, "503 Service Unavailable")
    b.call("get_weather", {"city": "oslo", "attempt": 2}, '{"temp": 3}')
    b.say("It is 3 degrees in Oslo.")
    return _scenario("near_miss:error:retried", set(), b.finish())


def successful_call(rng: random.Random) -> Scenario:
    b = SessionBuilder()
    b.say(_fresh(rng)).call(
        "get_order", {"order": 9}, json.dumps({"status": "shipped", "total": 42})
    )
    b.say("Your order has shipped.")
    return _scenario("near_miss:error:success", set(), b.finish())


# --- memory -------------------------------------------------------------------------------------


def contradiction(rng: random.Random) -> Scenario:
    b = SessionBuilder()
    decided = {"database": ("item-1", "Use PostgreSQL for storage.")}
    b.say(_fresh(rng)).call(
        "remember",
        {
            "kind": "decision",
            "key": "database",
            "content": f"Use {rng.choice(['MongoDB', 'MySQL'])} for storage.",
        },
        "conflict",
    )
    return _scenario(
        "contradiction",
        {"contradiction"},
        b.say(_fresh(rng)).finish(),
        DetectionContext(decisions=decided),
    )


def consistent_memory(rng: random.Random) -> Scenario:
    b = SessionBuilder()
    decided = {"database": ("item-1", "Use PostgreSQL for storage.")}
    b.call(
        "remember",
        {"kind": "decision", "key": "database", "content": "use postgresql for storage."},
        "ok",
    )
    b.call(
        "remember", {"kind": "fact", "key": "database", "content": "MySQL was tried in 2019."}, "ok"
    )
    b.call("remember", {"kind": "decision", "key": "frontend", "content": "Use React."}, "ok")
    return _scenario(
        "near_miss:contradiction:consistent",
        set(),
        b.say(_fresh(rng)).finish(),
        DetectionContext(decisions=decided),
    )


def constraint_violation(rng: random.Random) -> Scenario:
    rule = "deny refund when amount > 500"
    constraint = CheckableConstraint("item-9", rule, parse_rule(rule))
    b = SessionBuilder()
    b.say(_fresh(rng)).call("refund", {"amount": rng.randint(501, 5000), "order": 3}, "refunded")
    return _scenario(
        "constraint_violation",
        {"constraint_violation"},
        b.say(_fresh(rng)).finish(),
        DetectionContext(constraints=[constraint]),
    )


def constraint_kept(rng: random.Random) -> Scenario:
    rule = "deny refund when amount > 500"
    constraint = CheckableConstraint("item-9", rule, parse_rule(rule))
    b = SessionBuilder()
    b.say(_fresh(rng)).call("refund", {"amount": rng.randint(1, 500), "order": 3}, "refunded")
    b.call("translate", {"text": "refund 9000"}, "ok")
    return _scenario(
        "near_miss:constraint:kept",
        set(),
        b.say(_fresh(rng)).finish(),
        DetectionContext(constraints=[constraint]),
    )


# --- runaways -----------------------------------------------------------------------------------

BASELINE = Baseline(sessions=30, p95_steps=12, p95_tokens=6000, p95_cost_usd=0.02)


def _long_session(rng: random.Random, rounds: int) -> list[SpanView]:
    b = SessionBuilder()
    for i in range(rounds):
        b.say(_fresh(rng), tokens=250, cost=0.0008).call(
            "translate", {"text": _phrase(rng), "i": i}, f"ok {i}"
        )
    return b.finish()


def runaway(rng: random.Random) -> Scenario:
    return _scenario(
        "runaway",
        {"runaway"},
        _long_session(rng, rng.randint(25, 40)),
        DetectionContext(baseline=BASELINE),
    )


def busy_but_normal(rng: random.Random) -> Scenario:
    return _scenario(
        "near_miss:runaway:within_factor",
        set(),
        _long_session(rng, rng.randint(8, 16)),
        DetectionContext(baseline=BASELINE),
    )


def no_baseline_yet(rng: random.Random) -> Scenario:
    young = Baseline(sessions=4, p95_steps=3, p95_tokens=500, p95_cost_usd=0.001)
    return _scenario(
        "near_miss:runaway:no_baseline",
        set(),
        _long_session(rng, 30),
        DetectionContext(baseline=young),
    )


def tool_loop_reordered_arguments(rng: random.Random) -> Scenario:
    """The same call spelt differently (key order, spacing) is still the same call."""
    b = SessionBuilder()
    text = _phrase(rng)
    for raw in (
        f'{{"text": "{text}", "to": "fr"}}',
        f'{{"to":"fr","text":"{text}"}}',
        f'{{ "text" : "{text}" , "to" : "fr" }}',
    ):
        b.say(_fresh(rng))
        b._add(
            span_type="tool",
            tool_name="translate",
            tool_arguments=raw,
            tool_result=f"ok {rng.randrange(10**6)}",
        )
        b.call("summarize_doc", {"doc": rng.randrange(10**6)}, "summary")
    return _scenario("tool_loop:reordered_arguments", {"tool_loop"}, b.say(_fresh(rng)).finish())


def http_refetch(rng: random.Random) -> Scenario:
    b = SessionBuilder()
    request = {"method": "GET", "url": f"https://api.example.com/{rng.choice(WORDS)}"}
    b.say(_fresh(rng)).call("http_request", request, '{"items": [1, 2]}')
    b.say(_fresh(rng)).call("http_request", request, '{"items": [1, 2]}')
    return _scenario("refetch:http_get", {"refetch"}, b.say(_fresh(rng)).finish())


def http_post_twice(rng: random.Random) -> Scenario:
    b = SessionBuilder()
    request = {"method": "POST", "url": "https://api.example.com/orders", "body": {"n": 1}}
    b.say(_fresh(rng)).call("http_request", request, '{"id": 1}')
    b.say(_fresh(rng)).call("http_request", {**request, "body": {"n": 2}}, '{"id": 2}')
    return _scenario("near_miss:refetch:http_post", set(), b.say(_fresh(rng)).finish())


def three_way_ping_pong(rng: random.Random) -> Scenario:
    b = SessionBuilder(agent="planner")
    b.say(_fresh(rng), agent="planner")
    lines = {
        "planner": "Researcher, please find the source.",
        "researcher": "Coder should handle this.",
        "coder": "This is a planning question; back to the planner.",
    }
    for _ in range(rng.randint(3, 4)):
        for agent in ("planner", "researcher", "coder"):
            b.say(lines[agent], agent=agent)
    return _scenario("handoff_cycle:three_agents", {"handoff_cycle"}, b.finish())


def error_then_moves_on(rng: random.Random) -> Scenario:
    """The agent says something unrelated and calls another tool: it ignored the error."""
    b = SessionBuilder()
    b.say(_fresh(rng)).call(
        "get_inventory", {"sku": rng.randrange(10**4)}, '{"error": "sku unknown"}'
    )
    b.say("Great, stock is available. Creating the shipment now.")
    b.call("create_shipment", {"sku": 1, "qty": 2}, '{"id": 5}')
    return _scenario(
        "ignored_tool_error:moved_on", {"ignored_tool_error"}, b.say(_fresh(rng)).finish()
    )


def absolute_cap(rng: random.Random) -> Scenario:
    settings = DetectorSettings(runaway_max_cost_usd=0.01)
    return _scenario(
        "runaway:absolute_cap",
        {"runaway"},
        _long_session(rng, 20),
        DetectionContext(settings=settings),
    )


FAMILIES: list[Family] = [
    tool_loop_reordered_arguments,
    http_refetch,
    http_post_twice,
    three_way_ping_pong,
    error_then_moves_on,
    absolute_cap,
    tool_loop,
    tool_calls_differing_args,
    polling,
    twice_only,
    action_observation_loop,
    failing_retries,
    same_call_new_results,
    alternation,
    short_alternation,
    monologue,
    repeated_routing,
    monologue_with_work_between,
    refetch,
    refetch_after_write,
    reads_of_other_records,
    ping_pong,
    orchestrated_progress,
    collaboration,
    ignored_error,
    acknowledged_error,
    retried_error,
    successful_call,
    contradiction,
    consistent_memory,
    constraint_violation,
    constraint_kept,
    runaway,
    busy_but_normal,
    no_baseline_yet,
]


def generate(per_family: int = 30, seed: int = 7) -> Iterator[Scenario]:
    rng = random.Random(seed)
    for family in FAMILIES:
        for _ in range(per_family):
            yield family(rng)


@dataclass
class DetectorScore:
    detector: str
    true_positives: int = 0
    false_positives: int = 0
    false_negatives: int = 0
    positives: int = 0

    @property
    def precision(self) -> float:
        fired = self.true_positives + self.false_positives
        return self.true_positives / fired if fired else 1.0

    @property
    def recall(self) -> float:
        return self.true_positives / self.positives if self.positives else 1.0


@dataclass
class Evaluation:
    scores: dict[str, DetectorScore]
    scenarios: int
    mistakes: list[str]


def evaluate(per_family: int = 30, seed: int = 7) -> Evaluation:
    """Run every detector on the generated suite and score it."""
    scores = {d: DetectorScore(d) for d in DETECTORS}
    mistakes: list[str] = []
    count = 0
    for scenario in generate(per_family, seed):
        count += 1
        fired = {f.type for f in detect(scenario.spans, scenario.context)}
        for detector, score in scores.items():
            expected = detector in scenario.expected
            score.positives += expected
            if detector in fired and expected:
                score.true_positives += 1
            elif detector in fired:
                score.false_positives += 1
                mistakes.append(f"{detector} fired on {scenario.name}")
            elif expected:
                score.false_negatives += 1
                mistakes.append(f"{detector} missed {scenario.name}")
    return Evaluation(scores, count, mistakes)
