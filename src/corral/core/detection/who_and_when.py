"""Import multi-agent message logs in the Who&When format as sessions of spans.

A log is ``{"history": [{"role" | "name", "content"}...], "mistake_agent", "mistake_step", …}``
(Zhang et al., ICML 2025): Magentic-One runs (roles such as ``Orchestrator (-> WebSurfer)``,
``WebSurfer``, ``ComputerTerminal``) and AG2 teams (``name`` per message, ``Computer_terminal``
running the code others propose). Each message becomes one span whose step is its index in
``history`` — the index the labels use:

- a terminal's message is a ``tool`` call (``execute_code``, the code being the last code block
  proposed before it) whose result is the terminal output;
- a web or file surfer's action (``I typed 'x' into …``, ``I clicked 'y'``) is a ``tool`` call of
  the browser with the action as arguments and the page text as result;
- everything else is an agent's message (``llm`` span), with the handoff target for orchestrator
  lines addressed ``(-> Agent)``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from corral.core.detection.config import is_routing_boilerplate
from corral.core.detection.model import SpanView

_ROLE = re.compile(r"^(?P<agent>[^()]+?)\s*(\((?P<note>[^)]*)\))?\s*$")
_CODE = re.compile(r"```(?:\w+)?\n(.*?)```", re.DOTALL)
_TERMINALS = {"computerterminal", "computer_terminal"}
_SURFERS = {"websurfer", "filesurfer"}
_ACTIONS = [
    (re.compile(r"^I typed '(?P<value>.*?)' into '(?P<target>.*?)'", re.DOTALL), "type"),
    (re.compile(r"^I clicked '(?P<target>.*?)'", re.DOTALL), "click"),
    (re.compile(r"^I scrolled (?P<target>\w+)"), "scroll"),
    (
        re.compile(r"^I (?:visited|navigated to|went to) (?:the page )?'?(?P<target>\S+?)'?[.\s]"),
        "visit",
    ),
    (re.compile(r"^Address: (?P<target>\S+)"), "open"),
    (
        re.compile(r"^I used the search (?:bar|tool) to search for '(?P<value>.*?)'", re.DOTALL),
        "search",
    ),
]


@dataclass(frozen=True)
class LabelledLog:
    """One log with its labels: which agent and step caused the failure."""

    name: str
    spans: list[SpanView]
    mistake_agent: str
    mistake_step: int | None
    agents: list[str]
    path: Path | None = None


def _speaker(message: dict[str, Any]) -> tuple[str, str | None]:
    name = message.get("name")
    role = str(message.get("role") or "")
    if isinstance(name, str) and name:
        return name, None
    match = _ROLE.match(role)
    if not match:
        return role or "unknown", None
    return match.group("agent").strip(), match.group("note")


def _surfer_action(content: str) -> tuple[str, dict[str, str]] | None:
    head = content.strip()
    for pattern, action in _ACTIONS:
        match = pattern.match(head)
        if match:
            return action, {k: v for k, v in match.groupdict().items() if v}
    return None


def log_to_spans(history: list[dict[str, Any]], trace_id: str) -> list[SpanView]:
    """The spans of one log; the root span (the task) comes last, as OpenTelemetry exports it."""
    spans: list[SpanView] = []
    last_code: str | None = None
    last_coder: str | None = None
    for step, message in enumerate(history):
        content = str(message.get("content") or "")
        agent, note = _speaker(message)
        key = agent.replace(" ", "").lower()
        common: dict[str, Any] = {
            "span_id": f"{trace_id}-{step}",
            "trace_id": trace_id,
            "step": step,
            "parent_span_id": f"{trace_id}-root",
            "agent_name": agent,
        }
        if key in _TERMINALS and not is_routing_boilerplate(content):
            # The terminal runs what another agent proposed: the call is that agent's.
            common["agent_name"] = last_coder or agent
            spans.append(
                SpanView(
                    span_type="tool",
                    tool_name="execute_code",
                    tool_arguments=json.dumps({"code": last_code or ""}),
                    tool_result=content,
                    **common,
                )
            )
            last_code = None
            continue
        if key in _SURFERS and (action := _surfer_action(content)) is not None:
            verb, arguments = action
            spans.append(
                SpanView(
                    span_type="tool",
                    tool_name=f"{key}.{verb}",
                    tool_arguments=json.dumps(arguments, sort_keys=True),
                    tool_result=content,
                    **common,
                )
            )
            continue
        handoff = note[3:].strip() if note and note.startswith("->") else None
        blocks = _CODE.findall(content)
        if blocks:
            last_code, last_coder = blocks[-1].strip(), agent
        spans.append(SpanView(span_type="llm", output_text=content, handoff_to=handoff, **common))
    spans.append(
        SpanView(
            span_id=f"{trace_id}-root",
            trace_id=trace_id,
            step=len(history),
            span_type="agent",
            parent_span_id=None,
            agent_name=None,
        )
    )
    return spans


def load_log(path: Path) -> LabelledLog:
    data = json.loads(path.read_text())
    history = data["history"]
    trace_id = f"{path.parent.name}-{path.stem}"
    raw_step = data.get("mistake_step")
    try:
        step = int(raw_step) if raw_step is not None else None
    except ValueError:
        step = None
    spans = log_to_spans(history, trace_id)
    agents = sorted({s.agent_name for s in spans if s.agent_name})
    return LabelledLog(path.stem, spans, str(data.get("mistake_agent") or ""), step, agents, path)


def load_logs(root: Path) -> list[LabelledLog]:
    """Every ``*.json`` log under ``root`` (both Who&When subsets), in a stable order."""
    paths = sorted(
        root.rglob("*.json"),
        key=lambda p: (p.parent.name, int(p.stem) if p.stem.isdigit() else 0, p.stem),
    )
    return [load_log(p) for p in paths]


# --- as OTLP, for importing into a project --------------------------------------------------

STEP_ATTRIBUTE = "who_and_when.step"
"""Attribute holding a span's index in the log's ``history`` (absent on the task's root)."""


def session_name(path: Path) -> str:
    """The session a log is imported as: ``who-and-when-<subset>-<log>``."""
    subset = re.sub(r"[^a-z0-9]+", "-", path.parent.name.lower()).strip("-")
    return f"who-and-when-{subset}-{path.stem}"


def otlp_ids(session: str) -> tuple[str, Callable[[str], str]]:
    """The trace id of an imported log and the function giving each span's id, both derived
    from the session name so that importing a log twice stores it once."""
    trace_id = hashlib.sha256(session.encode()).hexdigest()[:32]

    def span_id(view_id: str) -> str:
        return hashlib.sha256(f"{session}\x00{view_id}".encode()).hexdigest()[:16]

    return trace_id, span_id


def log_to_otlp(log: LabelledLog, *, project: str, session: str, start: datetime) -> dict[str, Any]:
    """One log as an OTLP/JSON export: a trace whose root span (the task) starts at ``start``
    and whose messages follow one millisecond apart, in the GenAI semantic conventions, so that
    ingest normalizes them back into the spans :func:`log_to_spans` makes."""
    trace_id, span_id = otlp_ids(session)
    base = int(start.timestamp() * 1_000_000_000)
    root = next(s for s in log.spans if s.parent_span_id is None)
    spans = []
    for view in log.spans:
        is_root = view is root
        offset = 0 if is_root else view.step + 1
        attributes: dict[str, Any] = {"gen_ai.conversation.id": session}
        if view.agent_name:
            attributes["gen_ai.agent.name"] = view.agent_name
        if is_root:
            attributes["gen_ai.operation.name"] = "invoke_agent"
            name, end = f"who&when {log.name}", len(log.spans) + 1
        elif view.span_type == "tool":
            attributes.update(
                {
                    "gen_ai.operation.name": "execute_tool",
                    "gen_ai.tool.name": view.tool_name or "",
                    "gen_ai.tool.call.arguments": view.tool_arguments or "",
                    "gen_ai.tool.call.result": view.tool_result or "",
                }
            )
            name, end = f"execute_tool {view.tool_name}", offset + 1
        else:
            attributes.update(
                {"gen_ai.operation.name": "chat", "gen_ai.output.messages": view.output_text or ""}
            )
            if view.handoff_to:
                attributes["corral.handoff.to"] = view.handoff_to
            name, end = f"chat {view.agent_name}", offset + 1
        if not is_root:
            attributes[STEP_ATTRIBUTE] = view.step
        span: dict[str, Any] = {
            "traceId": trace_id,
            "spanId": span_id(view.span_id),
            "name": name,
            "kind": 1,
            "startTimeUnixNano": str(base + offset * 1_000_000),
            "endTimeUnixNano": str(base + end * 1_000_000),
            "attributes": [_attribute(k, v) for k, v in attributes.items()],
        }
        if view.parent_span_id is not None:
            span["parentSpanId"] = span_id(view.parent_span_id)
        spans.append(span)
    resource = {"service.name": "who-and-when", "corral.project": project}
    return {
        "resourceSpans": [
            {
                "resource": {"attributes": [_attribute(k, v) for k, v in resource.items()]},
                "scopeSpans": [{"scope": {"name": "corral.who_and_when"}, "spans": spans}],
            }
        ]
    }


def _attribute(key: str, value: Any) -> dict[str, Any]:
    if isinstance(value, bool) or not isinstance(value, int):
        return {"key": key, "value": {"stringValue": str(value)}}
    return {"key": key, "value": {"intValue": str(value)}}
