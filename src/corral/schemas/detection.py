"""Silent-failure detection: detector settings, findings, and the circuit breaker's halts."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal, get_args

from pydantic import Field, field_validator

from corral.schemas.common import Model, ResponseModel
from corral.schemas.observability import SpanSummary

Severity = Literal["info", "warning", "critical"]
FindingType = Literal[
    "tool_loop",
    "action_observation_loop",
    "alternation_loop",
    "monologue_loop",
    "refetch",
    "handoff_cycle",
    "ignored_tool_error",
    "contradiction",
    "constraint_violation",
    "runaway",
]
FINDING_TYPES: tuple[str, ...] = get_args(FindingType)
FindingStatus = Literal["open", "acknowledged", "resolved"]

DEFAULT_POLLING = [
    "wait*",
    "sleep*",
    "poll*",
    "*_status",
    "check_status*",
    "get_job*",
    "heartbeat*",
]
DEFAULT_READ_ONLY = [
    "get*",
    "read*",
    "fetch*",
    "search*",
    "list*",
    "lookup*",
    "query*",
    "find*",
    "retrieve*",
    "browse*",
    "view*",
    "describe*",
    "web_search*",
    "http_get*",
]
DEFAULT_WRITES = [
    "create*",
    "update*",
    "delete*",
    "remove*",
    "write*",
    "set*",
    "put*",
    "post*",
    "patch*",
    "send*",
    "insert*",
    "upsert*",
    "save*",
    "execute*",
    "run*",
    "refund*",
    "pay*",
    "transfer*",
]


class DetectorSettings(Model):
    """Tunable rules of the detectors. Every field has a default that works without setup."""

    enabled: bool = Field(default=True, description="Run the detectors at all.")
    loop_repeats: int = Field(
        default=3, ge=2, le=100, description="Same tool and arguments this many times is a loop."
    )
    action_observation_repeats: int = Field(
        default=4,
        ge=2,
        le=100,
        description="Same call with the same result this many times in a row is a loop "
        "(three times when the call fails each time).",
    )
    alternation_steps: int = Field(
        default=6, ge=4, le=100, description="A,B,A,B… over this many tool calls is a loop."
    )
    monologue_repeats: int = Field(
        default=3, ge=2, le=100, description="The same message this many times in a row."
    )
    polling_tools: list[str] = Field(
        default_factory=lambda: list(DEFAULT_POLLING),
        description="Tools exempt from loop and re-fetch rules (globs).",
    )
    read_only_tools: list[str] = Field(
        default_factory=lambda: list(DEFAULT_READ_ONLY),
        description="Tools that only read (globs); re-fetch looks at these.",
    )
    write_tools: list[str] = Field(
        default_factory=lambda: list(DEFAULT_WRITES),
        description="Tools that may change what reads return (globs); checked before reads.",
    )
    handoff_slack: int = Field(
        default=1,
        ge=0,
        le=50,
        description="Handoffs without progress allowed beyond the number of agents in a task.",
    )
    error_followups: int = Field(
        default=1,
        ge=1,
        le=20,
        description="Messages after a tool error in which the agent "
        "must acknowledge it (or its next call must retry).",
    )
    runaway_factor: float = Field(
        default=3.0, ge=1.0, description="A session past its agent's p95 times this factor."
    )
    runaway_min_sessions: int = Field(
        default=10, ge=2, description="Sessions needed before a baseline exists."
    )
    runaway_max_steps: int | None = Field(default=None, ge=1, description="Absolute cap.")
    runaway_max_tokens: int | None = Field(default=None, ge=1, description="Absolute cap.")
    runaway_max_cost_usd: float | None = Field(default=None, gt=0, description="Absolute cap.")
    halt_on: list[str] = Field(
        default_factory=list,
        description="Finding types that halt the session (circuit breaker); critical ones only.",
    )

    @field_validator("halt_on")
    @classmethod
    def _known_types(cls, value: list[str]) -> list[str]:
        unknown = sorted(set(value) - set(FINDING_TYPES))
        if unknown:
            raise ValueError(f"unknown finding types {unknown}; known: {', '.join(FINDING_TYPES)}")
        return value


class DetectorSettingsUpdate(Model):
    """Change the overrides of a project (or of one agent in it): ``set`` fields, ``unset``
    others (they fall back to the project's value, then the default)."""

    set: dict[str, Any] = Field(default_factory=dict, examples=[{"halt_on": ["tool_loop"]}])
    unset: list[str] = Field(default_factory=list, examples=[["loop_repeats"]])


class DetectorSettingsView(ResponseModel):
    """The overrides stored for a project (or an agent) and the settings in effect."""

    project: str
    agent: str | None
    overrides: dict[str, Any] = Field(description="What was set here; the rest is inherited.")
    effective: DetectorSettings
    agents_with_overrides: list[str] = Field(
        description="Agents of the project that have settings of their own."
    )


class Finding(ResponseModel):
    """A detected silent failure in one session (or, for spans without a session, one trace)."""

    id: int
    project: str
    type: FindingType
    severity: Severity
    status: FindingStatus
    agent: str | None
    session_id: str | None
    trace_id: str | None
    step: int | None = Field(
        description="Position in the session's timeline (0 is its first span) where it happened."
    )
    step_span_id: str | None = Field(description="The span at ``step``.")
    explanation: str
    span_ids: list[str] = Field(description="Evidence: the spans that show the failure.")
    wasted_tokens: int
    wasted_cost_usd: float
    details: dict[str, Any]
    first_detected_at: datetime
    updated_at: datetime
    acknowledged_by: str | None
    acknowledged_at: datetime | None
    resolved_by: str | None
    resolved_at: datetime | None


class EvidenceSpan(SpanSummary):
    """An evidence span with what it said or returned."""

    tool_result: str | None = None
    output_text: str | None = None


class FindingDetail(Finding):
    evidence: list[EvidenceSpan] = Field(
        description="The evidence spans still stored (retention may have removed some)."
    )


class FindingAction(Model):
    status: FindingStatus = Field(description="acknowledged, resolved, or open to reopen.")
    note: str | None = Field(default=None, max_length=2000)


class SessionHalt(ResponseModel):
    """A session stopped by the circuit breaker, until a person resumes it."""

    id: int
    project: str
    session_id: str
    finding_id: int | None
    finding_type: str
    reason: str
    halted_at: datetime
    resumed_at: datetime | None
    resumed_by: str | None
    resume_note: str | None


class SessionClearance(ResponseModel):
    """The session is not halted: its agent may go on."""

    session_id: str
    halted: Literal[False] = False


class SessionResume(Model):
    note: str | None = Field(default=None, max_length=2000, description="Why it may go on.")
