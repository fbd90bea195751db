"""What the demo's model answers: a script for the fake provider that plays each agent of the
fleet, and the failures the demo injects.

A task that carries a marker such as ``[demo:refetch]`` on its second line makes the agent it
concerns misbehave in that way; a task without one goes planner → researcher → coder → reviewer
and is approved. Rules are tried in order, the first that fits answers, so the markers' rules
come before the ordinary ones. A rule keys on the agent by its system prompt ("You are the
researcher"), which the gateway keeps even when it applies a deployed version's prompt.
"""

from __future__ import annotations

import re
from typing import Any

from corral.testing.fake_llm import FakeScript

MARKERS = (
    "routing-loop",
    "refetch",
    "tool-error",
    "forbidden-fetch",
    "loop",
    "contradiction",
    "runaway",
)
"""The failures a task can ask for."""

CANARY_PROMPT = "Re-read every file before judging."
"""In the reviewer's canary that fails: it re-reads the same file until it gives up."""


def marker(name: str) -> str:
    """The line a task carries to inject the failure ``name``."""
    return f"[demo:{name}]"


def _rule(
    agent: str,
    respond: dict[str, Any],
    *,
    failure: str | None = None,
    last: str | None = None,
    seen: str | None = None,
) -> dict[str, Any]:
    """A rule for ``agent``: when the task carries ``failure``'s marker (or none is asked for),
    the last message matches ``last``, and the conversation matches ``seen``."""
    context = rf"You are the {agent}\b"
    if failure is not None:
        context += r"(?s:.*)" + re.escape(marker(failure))
    if seen is not None:
        context += r"(?s:.*)" + seen
    rule: dict[str, Any] = {"context": context, "respond": respond}
    if last is not None:
        rule["match"] = last
    return rule


def _call(name: str, **arguments: Any) -> dict[str, Any]:
    return {"tool_calls": [{"name": name, "arguments": arguments}]}


def _say(text: str, **extra: Any) -> dict[str, Any]:
    return {"content": text, **extra}


NOTES = "Research notes: docs/api.md says pagination uses cursors; docs/runbook.md covers retries."


def fleet_rules() -> list[dict[str, Any]]:
    """The rules, injected failures first."""
    pagination = "https://docs.example.com/api/pagination"
    return [
        # A routing loop: the planner keeps sending the task to the reviewer, who keeps
        # sending it back.
        _rule("planner", _say("Next speaker: reviewer"), failure="routing-loop"),
        _rule(
            "reviewer",
            _say("Changes requested: the plan is not clear yet; back to the planner."),
            failure="routing-loop",
        ),
        # A re-fetch: the same page fetched twice with nothing written in between.
        _rule(
            "researcher",
            _say(NOTES),
            failure="refetch",
            seen=r"Fetched https(?s:.*)Fetched https",
        ),
        _rule("researcher", _call("fetch_url", url=pagination), failure="refetch"),
        # An ignored tool error: the status page answers 503, the researcher reports all is well.
        _rule(
            "researcher",
            _say("Research notes: the status page confirms the export service is healthy."),
            failure="tool-error",
            last=r'"error"',
        ),
        _rule(
            "researcher",
            _call("fetch_url", url="https://status.example.com/export"),
            failure="tool-error",
        ),
        # A tool call the researcher's policy forbids (a domain outside its allow-list).
        _rule(
            "researcher",
            _call("fetch_url", url="https://paste.example.net/raw/credentials"),
            failure="forbidden-fetch",
        ),
        # A tool loop: the same search forever, until the circuit breaker halts the session.
        _rule("researcher", _call("search_docs", query="retry policy"), failure="loop"),
        # A contradiction: the coder records a decision against the project's active one.
        _rule(
            "coder",
            _say("Change ready: the event store now writes to MongoDB."),
            failure="contradiction",
            last=r"^(Not recorded|Remembered)",
        ),
        _rule(
            "coder",
            _call(
                "remember",
                kind="decision",
                key="database",
                content="Use MongoDB for the event store.",
            ),
            failure="contradiction",
            last=r"^# ",
        ),
        _rule("coder", _call("read_file", path="src/events.py"), failure="contradiction"),
        # A runaway: log after log into an ever longer context, until its budget refuses the
        # next call (the gateway holds each call's real prompt, so the limit is never crossed).
        _rule("coder", _call("read_file", path="logs/backfill-{turn}.log"), failure="runaway"),
        # The reviewer's canary that fails: it re-reads the same file until it gives up.
        _rule("reviewer", _call("read_file", path="src/app.py"), seen=re.escape(CANARY_PROMPT)),
        # The ordinary day: plan, research, code, review, done.
        _rule("planner", _say("Next speaker: researcher"), last=r"Progress: none\b"),
        _rule("planner", _say("Next speaker: coder"), last=r"Progress: researcher\n"),
        _rule("planner", _say("Next speaker: reviewer"), last=r"Progress: researcher, coder\n"),
        _rule("planner", _say("DONE")),
        _rule("researcher", _say(NOTES), last=r"^Found"),
        _rule("researcher", _call("search_docs", query="pagination and retries")),
        _rule(
            "coder", _call("edit_file", path="src/app.py", patch="cursor pagination"), last="^# "
        ),
        _rule("coder", _call("run_tests", suite="unit"), last=r"^Patched"),
        _rule(
            "coder", _say("Change ready: src/app.py patched; the unit tests pass."), last="passed"
        ),
        _rule("coder", _call("read_file", path="src/app.py")),
        _rule(
            "reviewer",
            _say("Approved: small, tested, and in line with the project's decisions."),
            last="passed",
        ),
        _rule("reviewer", _call("run_tests", suite="unit")),
    ]


def fleet_script(latency_ms: float = 15.0) -> FakeScript:
    """The fake provider's script for the demo."""
    return FakeScript.from_dict({"rules": fleet_rules(), "latency_ms": latency_ms})
