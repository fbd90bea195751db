"""What detectors read (spans of one session) and what they produce (findings)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

from corral.schemas.detection import FindingType, Severity

__all__ = ["Finding", "FindingType", "Severity", "SpanView", "canonical_arguments"]


@dataclass(frozen=True)
class SpanView:
    """The fields of a span the rules look at. ``step`` orders a session's spans."""

    span_id: str
    trace_id: str
    step: int
    span_type: str
    start_time: datetime | None = None
    parent_span_id: str | None = None
    status: str = "ok"
    error_message: str | None = None
    agent_name: str | None = None
    tool_name: str | None = None
    tool_arguments: str | None = None
    tool_result: str | None = None
    output_text: str | None = None
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    handoff_to: str | None = None
    attributes: dict[str, Any] = field(default_factory=dict)

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def at_step(self, step: int) -> SpanView:
        """This view moved to another step of the timeline: a copy that keeps what is cached
        (the canonical action, a JSON round trip). Copied field by field rather than through
        ``dataclasses.replace``, which costs several times more: a session whose spans arrive
        out of order renumbers every view after the first late one."""
        moved = object.__new__(SpanView)
        moved.__dict__.update(self.__dict__)
        moved.__dict__["step"] = step
        return moved

    @cached_property
    def action(self) -> tuple[str, str] | None:
        """The tool call as (name, canonical arguments), for comparing calls. Cached: every
        rule asks, and canonical arguments cost a JSON round trip."""
        if self.span_type != "tool" or not self.tool_name:
            return None
        return self.tool_name, canonical_arguments(self.tool_arguments)


def canonical_arguments(raw: str | None) -> str:
    """Arguments in one canonical form: JSON with sorted keys, else the stripped text."""
    if not raw:
        return ""
    try:
        return json.dumps(json.loads(raw), sort_keys=True, separators=(",", ":"))
    except ValueError:
        return " ".join(raw.split())


@dataclass
class Finding:
    """A detected silent failure. ``key`` identifies the incident, so detecting it again as more
    spans arrive updates it instead of duplicating it."""

    type: FindingType
    severity: Severity
    key: str
    explanation: str
    span_ids: list[str]
    agent: str | None = None
    step: int | None = None
    wasted_tokens: int = 0
    wasted_cost_usd: float = 0.0
    details: dict[str, Any] = field(default_factory=dict)
