"""Run every rule over a session."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from corral.core.detection import rules
from corral.core.detection.config import DetectorSettings
from corral.core.detection.model import Finding, SpanView

DETECTORS = (
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
)


@dataclass(frozen=True)
class DetectionContext:
    """What rules need beyond the spans: settings, the agent's baseline, the project's memory."""

    settings: DetectorSettings = field(default_factory=DetectorSettings)
    baseline: rules.Baseline | None = None
    constraints: Sequence[rules.CheckableConstraint] = ()
    decisions: dict[str, tuple[str, str]] = field(default_factory=dict)
    totals: tuple[int, int, float] | None = None
    """The whole session's (steps, tokens, cost) when the spans given are only its latest part."""


def detect(spans: Sequence[SpanView], context: DetectionContext) -> list[Finding]:
    """Every finding in a session. Deterministic: the same spans give the same findings (with
    the same keys), so re-running on a growing session only adds or updates."""
    settings = context.settings
    if not settings.enabled or not spans:
        return []
    ordered = sorted(spans, key=lambda s: s.step)
    findings: list[Finding] = []
    for rule in (
        rules.tool_loops,
        rules.action_observation_loops,
        rules.alternation_loops,
        rules.monologue_loops,
        rules.refetches,
        rules.handoff_cycles,
        rules.ignored_tool_errors,
    ):
        findings += rule(ordered, settings)
    findings += rules.contradictions(ordered, context.decisions)
    findings += rules.constraint_violations(ordered, context.constraints)
    findings += rules.runaways(ordered, settings, context.baseline, context.totals)
    return findings
