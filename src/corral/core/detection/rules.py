"""The detection rules. Each is a pure function of one session's spans (in step order)."""

from __future__ import annotations

import hashlib
import json
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

from corral.core.cedar import ParsedPolicy, compile_rules, evaluate, parse_policy
from corral.core.detection.config import DetectorSettings, is_routing_boilerplate, matches_any
from corral.core.detection.model import Finding, SpanView
from corral.schemas.policies import ToolRule

Spans = Sequence[SpanView]


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:16]


def _tool_spans(spans: Spans, settings: DetectorSettings) -> list[SpanView]:
    """Tool calls that loop rules consider (polling tools are exempt)."""
    return [
        s
        for s in spans
        if s.action is not None and not matches_any(s.tool_name or "", settings.polling_tools)
    ]


def _decisions(spans: Spans, tools: Sequence[SpanView]) -> list[SpanView | None]:
    """The LLM call that chose each tool call: the last LLM span before it in the same trace.
    One sweep over the session, however many calls are asked about."""
    pending = sorted(range(len(tools)), key=lambda i: tools[i].step)
    chosen: list[SpanView | None] = [None] * len(tools)
    last: dict[str, SpanView] = {}  # the latest LLM span so far, by trace
    position = 0
    for span in spans:
        while position < len(pending) and tools[pending[position]].step <= span.step:
            tool = tools[pending[position]]
            chosen[pending[position]] = last.get(tool.trace_id)
            position += 1
        if position == len(pending):
            break
        if span.span_type == "llm":
            last[span.trace_id] = span
    for index in pending[position:]:
        chosen[index] = last.get(tools[index].trace_id)
    return chosen


def _waste(spans: Spans, repeats: Sequence[SpanView]) -> tuple[int, float]:
    """Tokens and cost spent producing repeated calls: each repeat's deciding LLM call and its
    own cost."""
    tokens, cost = 0, 0.0
    for tool, decision in zip(repeats, _decisions(spans, repeats), strict=True):
        if decision is not None:
            tokens += decision.tokens
            cost += decision.cost_usd
        tokens += tool.tokens
        cost += tool.cost_usd
    return tokens, cost


def _steps(spans: Sequence[SpanView]) -> str:
    return ", ".join(str(s.step) for s in spans[:8]) + (" …" if len(spans) > 8 else "")


# --- loops ------------------------------------------------------------------------------------


def tool_loops(spans: Spans, settings: DetectorSettings) -> list[Finding]:
    """The same tool with the same canonical arguments ``loop_repeats`` times in a session."""
    groups: dict[tuple[str, str], list[SpanView]] = defaultdict(list)
    for span in _tool_spans(spans, settings):
        assert span.action is not None
        groups[span.action].append(span)
    findings = []
    for (tool, arguments), calls in groups.items():
        if len(calls) < settings.loop_repeats:
            continue
        tokens, cost = _waste(spans, calls[1:])
        findings.append(
            Finding(
                type="tool_loop",
                severity="critical" if len(calls) >= 2 * settings.loop_repeats else "warning",
                key=f"tool_loop:{_digest(tool, arguments)}",
                explanation=(
                    f"{calls[-1].agent_name or 'the agent'} called {tool} with the same arguments "
                    f"{len(calls)} times in this session (steps {_steps(calls)})."
                ),
                span_ids=[c.span_id for c in calls],
                agent=calls[-1].agent_name,
                step=calls[settings.loop_repeats - 1].step,
                wasted_tokens=tokens,
                wasted_cost_usd=cost,
                details={"tool": tool, "arguments": arguments, "count": len(calls)},
            )
        )
    return findings


def action_observation_loops(spans: Spans, settings: DetectorSettings) -> list[Finding]:
    """The same call getting the same result several times in a row — or the same failing call
    three times in a row (the stuck-agent rules of OpenHands)."""
    calls = _tool_spans(spans, settings)
    findings = []
    start = 0
    while start < len(calls):
        end = start + 1
        first = calls[start]
        while (
            end < len(calls)
            and calls[end].action == first.action
            and ((calls[end].tool_result or "") == (first.tool_result or ""))
        ):
            end += 1
        run = calls[start:end]
        failing = _is_error(first, settings)
        needed = (
            min(settings.action_observation_repeats, 3)
            if failing
            else settings.action_observation_repeats
        )
        if len(run) >= needed:
            assert first.action is not None
            tokens, cost = _waste(spans, run[1:])
            what = "failed with the same error" if failing else "got the same result"
            findings.append(
                Finding(
                    type="action_observation_loop",
                    severity="critical" if failing or len(run) >= 2 * needed else "warning",
                    key=f"action_observation_loop:{run[0].span_id}",
                    explanation=(
                        f"{first.agent_name or 'the agent'} called {first.tool_name} {len(run)} "
                        f"times in a row and {what} each time (steps {_steps(run)})."
                    ),
                    span_ids=[c.span_id for c in run],
                    agent=first.agent_name,
                    step=run[needed - 1].step,
                    wasted_tokens=tokens,
                    wasted_cost_usd=cost,
                    details={"tool": first.tool_name, "count": len(run), "failing": failing},
                )
            )
        start = end
    return findings


def alternation_loops(spans: Spans, settings: DetectorSettings) -> list[Finding]:
    """Two calls alternating, A B A B A B, with nothing else happening."""
    calls = _tool_spans(spans, settings)
    width = settings.alternation_steps
    findings: dict[str, Finding] = {}
    for i in range(len(calls) - width + 1):
        window = calls[i : i + width]
        a, b = window[0].action, window[1].action
        if a == b:
            continue
        if all(span.action == (a if j % 2 == 0 else b) for j, span in enumerate(window)):
            assert a is not None
            assert b is not None
            key = f"alternation_loop:{_digest(*sorted([a[0] + a[1], b[0] + b[1]]))}"
            if key in findings:
                continue
            tokens, cost = _waste(spans, window[2:])
            findings[key] = Finding(
                type="alternation_loop",
                severity="warning",
                key=key,
                explanation=(
                    f"{window[0].agent_name or 'the agent'} alternated between {a[0]} and {b[0]} "
                    f"{width} times without anything else happening (steps {_steps(window)})."
                ),
                span_ids=[s.span_id for s in window],
                agent=window[0].agent_name,
                step=window[-1].step,
                wasted_tokens=tokens,
                wasted_cost_usd=cost,
                details={"tools": [a[0], b[0]]},
            )
    return list(findings.values())


def monologue_loops(spans: Spans, settings: DetectorSettings) -> list[Finding]:
    """An agent saying the same thing again and again with nothing in between."""
    findings = []
    run: list[SpanView] = []
    for span in spans:
        text = _normalized(span.output_text) if span.span_type in ("llm", "agent") else None
        if span.span_type == "tool" or (text is None and span.span_type in ("llm", "agent")):
            run = []
            continue
        if text is None:
            continue
        if run and (
            span.agent_name != run[0].agent_name or text != _normalized(run[0].output_text)
        ):
            run = []
        if is_routing_boilerplate(span.output_text):
            run = []
            continue
        run.append(span)
        if len(run) == settings.monologue_repeats:
            findings.append(
                Finding(
                    type="monologue_loop",
                    severity="warning",
                    key=f"monologue_loop:{run[0].span_id}",
                    explanation=(
                        f"{span.agent_name or 'the agent'} produced the same message "
                        f"{len(run)} times in a row (steps {_steps(run)})."
                    ),
                    span_ids=[s.span_id for s in run],
                    agent=span.agent_name,
                    step=span.step,
                    wasted_tokens=sum(s.tokens for s in run[1:]),
                    wasted_cost_usd=sum(s.cost_usd for s in run[1:]),
                )
            )
    return findings


def _normalized(text: str | None) -> str | None:
    if not text or not text.strip():
        return None
    return " ".join(text.lower().split())


# --- re-fetch ---------------------------------------------------------------------------------


def _is_read_only(span: SpanView, settings: DetectorSettings) -> bool:
    name = span.tool_name or ""
    arguments = (span.tool_arguments or "").lower()
    if '"method":"get"' in arguments.replace(" ", ""):
        return True
    if matches_any(name, settings.write_tools):
        return False
    return matches_any(name, settings.read_only_tools)


def refetches(spans: Spans, settings: DetectorSettings) -> list[Finding]:
    """A read-only call repeated with the same arguments while nothing was written in between."""
    seen: dict[tuple[str, str], SpanView] = {}
    repeats: dict[tuple[str, str], list[SpanView]] = defaultdict(list)
    for span in spans:
        if span.action is None or matches_any(span.tool_name or "", settings.polling_tools):
            continue
        if not _is_read_only(span, settings):
            seen.clear()  # a write (or anything that might write) may change what reads return
            continue
        if _is_error(span, settings):
            continue  # a failed read fetched nothing: reading again is a retry, not a re-fetch
        if span.action in seen:
            if not repeats[span.action]:
                repeats[span.action].append(seen[span.action])
            repeats[span.action].append(span)
        seen[span.action] = span
    findings = []
    for (tool, arguments), calls in repeats.items():
        tokens, cost = _waste(spans, calls[1:])
        findings.append(
            Finding(
                type="refetch",
                severity="warning",
                key=f"refetch:{_digest(tool, arguments)}",
                explanation=(
                    f"{calls[-1].agent_name or 'the agent'} fetched the same data with {tool} "
                    f"{len(calls)} times although nothing was written in between "
                    f"(steps {_steps(calls)}); it already had the answer."
                ),
                span_ids=[c.span_id for c in calls],
                agent=calls[-1].agent_name,
                step=calls[1].step,
                wasted_tokens=tokens,
                wasted_cost_usd=cost,
                details={"tool": tool, "arguments": arguments, "count": len(calls)},
            )
        )
    return findings


# --- handoffs ---------------------------------------------------------------------------------


@dataclass
class _Turn:
    agent: str
    spans: list[SpanView]
    progress: bool


def _turns(spans: Spans) -> dict[str, list[_Turn]]:
    """Each task's (trace's) turns: runs of spans by one agent, and whether each made progress
    — a tool call or a message not seen before in the task. Routing lines are never progress."""
    by_trace: dict[str, list[_Turn]] = defaultdict(list)
    seen: dict[str, set[str]] = defaultdict(set)
    for span in spans:
        if not span.agent_name:
            continue
        turns = by_trace[span.trace_id]
        if not turns or turns[-1].agent != span.agent_name:
            turns.append(_Turn(span.agent_name, [], False))
        turn = turns[-1]
        turn.spans.append(span)
        marks = seen[span.trace_id]
        novelty: str | None = None
        if span.action is not None:
            novelty = "call:" + span.action[0] + span.action[1] + (span.tool_result or "")
        elif span.output_text and not is_routing_boilerplate(span.output_text):
            novelty = "text:" + (_normalized(span.output_text) or "")
        if novelty is not None and novelty not in marks:
            marks.add(novelty)
            turn.progress = True
    return by_trace


def handoff_cycles(spans: Spans, settings: DetectorSettings) -> list[Finding]:
    """Agents passing a task back and forth without progress: more consecutive handoffs into
    turns that add nothing than the task has agents (plus slack). One finding per run of idle
    turns, judged at its full length, so a cycle that keeps going turns critical."""
    findings = []
    for trace_id, turns in _turns(spans).items():
        agents = {t.agent for t in turns}
        if len(agents) < 2:
            continue
        limit = len(agents) + settings.handoff_slack
        runs: list[list[_Turn]] = [[]]
        for turn in turns[1:]:
            if turn.progress:
                runs.append([])
            else:
                runs[-1].append(turn)
        for idle in runs:
            if len(idle) <= limit:
                continue
            evidence = [s for t in idle for s in t.spans]
            path = " → ".join(t.agent for t in idle[:10])
            findings.append(
                Finding(
                    type="handoff_cycle",
                    severity="critical" if len(idle) > 2 * limit else "warning",
                    key=f"handoff_cycle:{trace_id}:{idle[0].spans[0].span_id}",
                    explanation=(
                        f"the task was handed between {', '.join(sorted(agents))} "
                        f"{len(idle)} times with no new result ({path}); a task among "
                        f"{len(agents)} agents should not need more than {limit}."
                    ),
                    span_ids=[s.span_id for s in evidence][:50],
                    agent=idle[0].agent,
                    step=idle[limit].spans[0].step,
                    wasted_tokens=sum(s.tokens for s in evidence),
                    wasted_cost_usd=sum(s.cost_usd for s in evidence),
                    details={"handoffs": len(idle), "agents": sorted(agents)},
                )
            )
    return findings


# --- ignored errors ---------------------------------------------------------------------------

_ERROR_SHAPES = [
    re.compile(p, re.IGNORECASE | re.MULTILINE)
    for p in (
        r'^\s*\{?\s*"error"\s*:',
        r"^\s*error\b[:\s]",
        r"traceback \(most recent call last\)",
        r"exit ?code:? *[1-9]",
        r"\b(4\d\d|5\d\d)\b[ :-]+(bad request|unauthorized|forbidden|not found|conflict|"
        r"too many requests|internal server error|bad gateway|service unavailable|gateway timeout)",
        r"^\s*(exception|fatal)\b",
        r'"status"\s*:\s*"?(error|failed)"?',
    )
]
_EMPTY = {"", "[]", "{}", "null", "none", '""'}
_ACKNOWLEDGED = re.compile(
    r"\b(error|errors|fail(ed|s|ure)?|unable|could ?n[o']t|can ?not|cannot|did ?n[o']t work|"
    r"exception|retry|try again|retrying|sorry|invalid|not found|denied|timed? ?out|problem|issue|"
    r"unavailable|unsuccessful)\b",
    re.IGNORECASE,
)


def _is_error(span: SpanView, settings: DetectorSettings) -> bool:
    if span.status == "error":
        return True
    result = span.tool_result
    if result is None:
        return False
    if result.strip().lower() in _EMPTY:
        return _is_read_only(span, settings)  # a read that returned nothing where data was due
    head = result[:2000]
    return any(p.search(head) for p in _ERROR_SHAPES)


def ignored_tool_errors(spans: Spans, settings: DetectorSettings) -> list[Finding]:
    """A tool error (status, or an error-shaped or empty result) after which the agent carries
    on: its next ``error_followups`` messages do not mention the failure, and its next call is
    not a retry. Judged once the agent has moved on or the task (trace) has ended."""
    findings = []
    ordered = list(spans)
    for index, span in enumerate(ordered):
        if span.span_type != "tool" or not _is_error(span, settings):
            continue
        later = [s for s in ordered[index + 1 :] if s.trace_id == span.trace_id]
        responses = [s for s in later if s.span_type in ("llm", "agent") and s.output_text]
        if not responses:
            continue  # the agent has not said anything since: too early to judge
        heard = responses[: settings.error_followups]
        last_heard = heard[-1].step
        after = [s for s in later if s.step > last_heard]
        next_call = next((s for s in later if s.span_type == "tool"), None)
        if next_call is not None and next_call.tool_name == span.tool_name:
            continue  # retried
        if any(_ACKNOWLEDGED.search(s.output_text or "") for s in heard):
            continue  # acknowledged
        ended = any(s.parent_span_id is None and s.trace_id == span.trace_id for s in ordered)
        if len(heard) < settings.error_followups and not after and not ended:
            continue  # give the agent its full chance to react
        if not after and not ended:
            continue
        carried = [s for s in later if s.step <= last_heard or s in after[:3]]
        reason = span.error_message or (span.tool_result or "")[:160].strip() or "an empty result"
        findings.append(
            Finding(
                type="ignored_tool_error",
                severity="warning",
                key=f"ignored_tool_error:{span.span_id}",
                explanation=(
                    f"{span.tool_name} failed at step {span.step} ({reason!r}) and "
                    f"{heard[0].agent_name or 'the agent'} carried on as if it had worked, "
                    "without retrying or mentioning the failure."
                ),
                span_ids=[span.span_id, *[s.span_id for s in carried[:5]]],
                agent=heard[0].agent_name or span.agent_name,
                step=heard[0].step,
                wasted_tokens=sum(s.tokens for s in carried),
                wasted_cost_usd=sum(s.cost_usd for s in carried),
                details={"tool": span.tool_name, "error": reason, "error_step": span.step},
            )
        )
    return findings


# --- runaways ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Baseline:
    """An agent's usual session, from its recent completed sessions (95th percentiles)."""

    sessions: int
    p95_steps: float
    p95_tokens: float
    p95_cost_usd: float


def session_totals(spans: Spans) -> tuple[int, int, float]:
    """Steps (LLM and tool calls), tokens and cost of a session so far."""
    steps = sum(1 for s in spans if s.span_type in ("llm", "tool"))
    return steps, sum(s.tokens for s in spans), sum(s.cost_usd for s in spans)


def runaways(
    spans: Spans,
    settings: DetectorSettings,
    baseline: Baseline | None,
    totals: tuple[int, int, float] | None = None,
) -> list[Finding]:
    """A session whose steps, tokens or cost exceed an absolute cap, or its agent's own p95
    times ``runaway_factor`` (once the agent has enough history to have a baseline).

    ``totals`` (steps, tokens, cost) stand for the whole session when ``spans`` are only its
    latest part."""
    if not spans:
        return []
    steps, tokens, cost = totals if totals is not None else session_totals(spans)
    limits: list[tuple[str, float, float, str]] = []
    for metric, value, cap in (
        ("steps", steps, settings.runaway_max_steps),
        ("tokens", tokens, settings.runaway_max_tokens),
        ("cost", cost, settings.runaway_max_cost_usd),
    ):
        if cap is not None and value > cap:
            limits.append((metric, value, cap, "the absolute cap"))
    if baseline is not None and baseline.sessions >= settings.runaway_min_sessions:
        factor = settings.runaway_factor
        for metric, value, p95 in (
            ("steps", steps, baseline.p95_steps),
            ("tokens", tokens, baseline.p95_tokens),
            ("cost", cost, baseline.p95_cost_usd),
        ):
            if p95 > 0 and value > factor * p95 and all(m != metric for m, *_ in limits):
                limits.append(
                    (
                        metric,
                        value,
                        factor * p95,
                        f"{factor:g}x its p95 over {baseline.sessions} recent sessions",
                    )
                )
    findings = []
    agent = next((s.agent_name for s in spans if s.agent_name), None)
    for metric, value, limit, basis in limits:
        shown = f"${value:.4f}" if metric == "cost" else f"{value:,.0f}"
        limit_shown = f"${limit:.4f}" if metric == "cost" else f"{limit:,.0f}"
        over = value - limit
        findings.append(
            Finding(
                type="runaway",
                severity="critical" if value > 2 * limit else "warning",
                key=f"runaway:{metric}",
                explanation=(
                    f"this session of {agent or 'the agent'} has used {shown} {metric}, over "
                    f"{limit_shown} ({basis})."
                ),
                span_ids=[s.span_id for s in spans[-5:]],
                agent=agent,
                step=spans[-1].step,
                wasted_tokens=int(over) if metric == "tokens" else 0,
                wasted_cost_usd=over if metric == "cost" else 0.0,
                details={"metric": metric, "value": value, "limit": limit, "basis": basis},
            )
        )
    return findings


# --- project constraints ----------------------------------------------------------------------


@dataclass(frozen=True)
class CheckableConstraint:
    """A project constraint written as a rule (``deny refund when amount > 500``)."""

    item_id: str
    text: str
    rule: ToolRule


def constraint_violations(
    spans: Spans, constraints: Sequence[CheckableConstraint]
) -> list[Finding]:
    """Tool calls that break a checkable project constraint: a ``deny`` rule that matches, or a
    tool an ``allow`` rule covers called outside what it allows."""
    findings = []
    for constraint in constraints:
        parsed = parse_policy_for_constraint(constraint.rule)
        for span in spans:
            if span.action is None:
                continue
            tool = span.tool_name or ""
            if (
                constraint.rule.effect == "allow"
                and "*" not in constraint.rule.tools
                and tool not in constraint.rule.tools
            ):
                continue
            try:
                arguments = json.loads(span.tool_arguments or "{}")
            except ValueError:
                arguments = {}
            if not isinstance(arguments, dict):
                arguments = {}
            result = evaluate(parsed, "agent", "", tool, arguments)
            broken = (
                result.reason == "forbidden"
                if constraint.rule.effect == "deny"
                else not result.allowed
            )
            if not broken:
                continue
            findings.append(
                Finding(
                    type="constraint_violation",
                    severity="critical",
                    key=f"constraint_violation:{span.span_id}:{constraint.item_id}",
                    explanation=(
                        f"{span.agent_name or 'the agent'} called {tool} with "
                        f"{span.tool_arguments or '{}'}, which breaks the project constraint "
                        f"{constraint.text!r}."
                    ),
                    span_ids=[span.span_id],
                    agent=span.agent_name,
                    step=span.step,
                    details={"constraint": constraint.item_id, "tool": tool},
                )
            )
    return findings


def parse_policy_for_constraint(rule: ToolRule) -> ParsedPolicy:
    return parse_policy("*", compile_rules(None, [rule]))


# --- contradictions ---------------------------------------------------------------------------

MEMORY_WRITE_TOOLS = ["remember", "*_remember", "memory.remember", "memory_write", "*remember*"]


def contradictions(spans: Spans, decisions: dict[str, tuple[str, str]]) -> list[Finding]:
    """A memory write of a decision or constraint that contradicts the project's active one
    with the same key (``decisions``: key → (item id, content)), whether or not the write was
    accepted."""
    findings = []
    for span in spans:
        if span.action is None or not matches_any(span.tool_name or "", MEMORY_WRITE_TOOLS):
            continue
        try:
            arguments = json.loads(span.tool_arguments or "{}")
        except ValueError:
            continue
        if not isinstance(arguments, dict) or arguments.get("kind") not in (
            "decision",
            "constraint",
        ):
            continue
        key, content = arguments.get("key"), arguments.get("content")
        if not isinstance(key, str) or not isinstance(content, str) or key not in decisions:
            continue
        item_id, active = decisions[key]
        if _normalized(active) == _normalized(content):
            continue
        findings.append(
            Finding(
                type="contradiction",
                severity="critical",
                key=f"contradiction:{span.span_id}",
                explanation=(
                    f"{span.agent_name or 'the agent'} recorded {content!r} for {key!r}, "
                    f"contradicting the project's active decision {active!r} (memory item "
                    f"{item_id})."
                ),
                span_ids=[span.span_id],
                agent=span.agent_name,
                step=span.step,
                details={"key": key, "active_item": item_id, "active": active, "new": content},
            )
        )
    return findings
