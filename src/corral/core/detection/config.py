"""Detector settings, per project and per agent (agent settings override the project's)."""

from __future__ import annotations

import fnmatch
import re

from pydantic import Field

from corral.schemas.common import Model

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
ROUTING_PATTERNS = [
    r"^\s*next speaker:?\s*\w+\s*$",
    r"^\s*there is no code from the last \d+ messages? for me to execute",
    r"^\s*(handing|passing|transferring|routing) (over |off )?to \w+\.?\s*$",
]


class DetectorSettings(Model):
    """Tunable rules of the detectors. Every field has a default that works without setup."""

    enabled: bool = True
    loop_repeats: int = Field(
        default=3, ge=2, le=100, description="Same tool and arguments this many times is a loop."
    )
    action_observation_repeats: int = Field(default=4, ge=2, le=100)
    alternation_steps: int = Field(
        default=6, ge=4, le=100, description="A,B,A,B… over this many tool calls is a loop."
    )
    monologue_repeats: int = Field(default=3, ge=2, le=100)
    polling_tools: list[str] = Field(
        default_factory=lambda: list(DEFAULT_POLLING),
        description="Tools exempt from loop rules (globs).",
    )
    read_only_tools: list[str] = Field(default_factory=lambda: list(DEFAULT_READ_ONLY))
    write_tools: list[str] = Field(default_factory=lambda: list(DEFAULT_WRITES))
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


def matches_any(name: str, patterns: list[str]) -> bool:
    lowered = name.lower()
    return any(fnmatch.fnmatchcase(lowered, p.lower()) for p in patterns)


def is_routing_boilerplate(text: str | None) -> bool:
    """A message that only says who speaks next: not progress, and not a loop by itself."""
    return bool(text) and any(
        re.match(p, text or "", flags=re.IGNORECASE) for p in ROUTING_PATTERNS
    )
