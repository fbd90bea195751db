"""The rules that judge a canary step against stable."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from corral.core.rollout_analysis import judge_step
from corral.schemas.lifecycle import ArmMetrics, RolloutAnalysis, RolloutCreate, RolloutStep

ANALYSIS = RolloutAnalysis(min_sessions=20)
STEP = RolloutStep(weight=25, min_minutes=30)


def arm(**overrides: float | int | None) -> ArmMetrics:
    values: dict[str, float | int | None] = {
        "sessions": 100,
        "error_rate": 0.10,
        "finding_rate": 0.20,
        "cost_per_session": 0.50,
        "latency_p95_ms": 1000.0,
    }
    return ArmMetrics.model_validate({**values, **overrides})


def test_a_canary_like_stable_passes() -> None:
    assert judge_step(arm(), arm(), ANALYSIS, STEP) == []


def test_a_canary_within_every_threshold_passes() -> None:
    canary = arm(
        error_rate=0.10 * 1.5 + 0.02,
        finding_rate=0.20 * 1.5 + 0.05,
        cost_per_session=0.50 * 1.3,
        latency_p95_ms=1000 * 1.3,
    )
    assert judge_step(canary, arm(), ANALYSIS, STEP) == []


@pytest.mark.parametrize(
    ("metric", "value", "words"),
    [
        ("error_rate", 0.18, "error rate 0.18 is over the limit 0.17"),
        ("finding_rate", 0.36, "finding rate 0.36 is over the limit 0.35"),
        ("cost_per_session", 0.66, "cost per session 0.66 is over the limit 0.65"),
        ("latency_p95_ms", 1301.0, "latency p95 1301 is over the limit 1300"),
    ],
)
def test_each_metric_fails_alone(metric: str, value: float, words: str) -> None:
    failures = judge_step(arm(**{metric: value}), arm(), ANALYSIS, STEP)
    assert len(failures) == 1
    assert failures[0].startswith(words)


def test_the_allowance_keeps_a_zero_stable_rate_from_failing_everything() -> None:
    stable = arm(error_rate=0.0, finding_rate=0.0)
    assert judge_step(arm(error_rate=0.02, finding_rate=0.05), stable, ANALYSIS, STEP) == []
    assert judge_step(arm(error_rate=0.03, finding_rate=0.0), stable, ANALYSIS, STEP) != []


def test_thresholds_are_configurable() -> None:
    strict = RolloutAnalysis(min_sessions=20, max_cost_per_session_ratio=1.0)
    assert judge_step(arm(cost_per_session=0.51), arm(), strict, STEP) != []
    lenient = RolloutAnalysis(min_sessions=20, max_error_rate_ratio=5)
    assert judge_step(arm(error_rate=0.45), arm(), lenient, STEP) == []


def test_too_few_samples_fail() -> None:
    assert judge_step(arm(sessions=19), arm(), ANALYSIS, STEP) == [
        "too few canary sessions: 19 < 20"
    ]
    assert judge_step(arm(), arm(sessions=3), ANALYSIS, STEP) == ["too few stable sessions: 3 < 20"]
    # The step's own session minimum applies to the canary too.
    step = RolloutStep(weight=25, min_minutes=30, min_sessions=150)
    assert judge_step(arm(), arm(), ANALYSIS, step) == ["too few canary sessions: 100 < 150"]


def test_no_data_fails() -> None:
    empty = arm(sessions=0, error_rate=None, finding_rate=None, cost_per_session=None)
    assert judge_step(empty, arm(), ANALYSIS, STEP)[0].startswith("too few canary sessions")
    no_calls = arm(latency_p95_ms=None)
    assert judge_step(no_calls, arm(), ANALYSIS, STEP) == [
        "no data for latency p95 on the canary side"
    ]
    assert judge_step(arm(), arm(error_rate=None), ANALYSIS, STEP) == [
        "no data for error rate on the stable side"
    ]


def test_plans_are_checked() -> None:
    with pytest.raises(ValidationError, match="only grow"):
        RolloutCreate(environment="production", version=2, steps=[{"weight": 50}, {"weight": 10}])
    with pytest.raises(ValidationError, match="min_minutes"):
        RolloutStep(weight=10, min_minutes=None)
    plan = RolloutCreate(environment="production", version=2)
    assert [s.weight for s in plan.steps] == [5, 25, 50, 100]
