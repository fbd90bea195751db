"""Agent versions, deployments, rollouts and resolution."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, model_validator

from corral.schemas.common import Model, ResponseModel
from corral.schemas.policies import ToolRule

RolloutStatus = Literal["running", "paused", "succeeded", "aborted"]
VersionState = Literal["draft", "candidate", "canary", "active", "deprecated", "retired", "aborted"]


class VersionBudget(Model):
    """Limits that apply to calls made under this version, enforced by the gateway."""

    per_session_usd: float | None = Field(default=None, gt=0)
    per_day_usd: float | None = Field(default=None, gt=0)


class VersionToolPolicy(Model):
    """Tool policy of this version: simple rules or raw Cedar (replaces the agent's policy)."""

    rules: list[ToolRule] | None = None
    cedar: str | None = None

    @model_validator(mode="after")
    def _one_form(self) -> VersionToolPolicy:
        if (self.rules is None) == (self.cedar is None):
            raise ValueError("give either 'rules' or 'cedar'")
        return self


class AgentConfig(Model):
    """Everything that defines how an agent behaves. Its content hash identifies the version."""

    model: str = Field(min_length=1, max_length=200, examples=["gpt-4o-mini"])
    provider: str | None = Field(default=None, description="Provider to route to (else by model).")
    system_prompt: str = Field(default="", max_length=200_000)
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="temperature, top_p, max_tokens, … applied to calls."
    )
    tools: list[str] | None = Field(
        default=None, description="Tools this version may call; shorthand for an allow-only policy."
    )
    tool_policy: VersionToolPolicy | None = None
    budget: VersionBudget | None = None
    memory_scope: list[str] | None = Field(
        default=None, description="Projects whose memory this version may read (None: its own)."
    )
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _tools_or_policy(self) -> AgentConfig:
        if self.tools is not None and self.tool_policy is not None:
            raise ValueError("give 'tools' or 'tool_policy', not both")
        return self


class VersionCreate(Model):
    """A new version: a whole ``config``, or ``changes`` merged onto version ``base`` (the
    newest version when omitted). ``draft`` keeps it editable (drafts serve nothing)."""

    config: AgentConfig | None = None
    base: int | None = Field(default=None, ge=1)
    changes: dict[str, Any] | None = None
    note: str = Field(default="", max_length=2000)
    draft: bool = False

    @model_validator(mode="after")
    def _one_source(self) -> VersionCreate:
        if (self.config is None) == (self.changes is None):
            raise ValueError("give either 'config' or 'changes'")
        if self.base is not None and self.changes is None:
            raise ValueError("'base' goes with 'changes'")
        return self


class DraftUpdate(Model):
    config: AgentConfig | None = None
    note: str | None = Field(default=None, max_length=2000)


class AgentVersion(ResponseModel):
    agent: str
    number: int
    state: VersionState
    content_hash: str
    config: AgentConfig
    note: str
    base: int | None
    created_by: str
    created_at: datetime
    state_changed_at: datetime


class VersionTransition(Model):
    state: VersionState
    reason: str = Field(default="", max_length=2000)


class ConfigChange(ResponseModel):
    path: str = Field(examples=["parameters.temperature"])
    before: Any = None
    after: Any = None


class VersionDiff(ResponseModel):
    agent: str
    from_version: int
    to_version: int
    changes: list[ConfigChange]


class Deployment(ResponseModel):
    agent: str
    environment: str
    active_version: int | None
    canary_version: int | None
    canary_weight: float
    previous_version: int | None
    updated_at: datetime


class DeployRequest(Model):
    environment: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$", examples=["production"])
    version: int = Field(ge=1)
    canary_weight: float | None = Field(
        default=None,
        gt=0,
        le=100,
        description="Serve this version to a share of new sessions as a canary; omit to make it "
        "active at once.",
    )
    reason: str = Field(default="", max_length=2000)


class RollbackRequest(Model):
    environment: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")
    reason: str = Field(default="", max_length=2000)


class ResolvedVersion(ResponseModel):
    """The version a session must use; the same answer for the life of the session."""

    agent: str
    environment: str
    session: str | None
    version: int
    state: VersionState
    canary: bool
    config: AgentConfig


class RolloutStep(Model):
    weight: float = Field(gt=0, le=100, description="Share of new sessions on the canary, %.")
    min_minutes: float | None = Field(default=30, ge=0, description="Minimum duration.")
    min_sessions: int | None = Field(
        default=None, ge=1, description="Minimum canary sessions before the step is judged."
    )

    @model_validator(mode="after")
    def _bounded(self) -> RolloutStep:
        if self.min_minutes is None and self.min_sessions is None:
            raise ValueError("give a step 'min_minutes', 'min_sessions' or both")
        return self


class RolloutAnalysis(Model):
    """How much worse than stable the canary may be; each metric relative to stable, with a
    small absolute allowance so a stable rate of zero does not fail everything."""

    max_error_rate_ratio: float = Field(default=1.5, ge=1)
    error_rate_allowance: float = Field(default=0.02, ge=0, le=1)
    max_finding_rate_ratio: float = Field(default=1.5, ge=1)
    finding_rate_allowance: float = Field(default=0.05, ge=0)
    max_cost_per_session_ratio: float = Field(default=1.3, ge=1)
    max_latency_p95_ratio: float = Field(default=1.3, ge=1)
    min_sessions: int = Field(
        default=20, ge=1, description="Fewer sessions on either side counts as a failure."
    )


def _default_steps() -> list[RolloutStep]:
    return [RolloutStep(weight=w) for w in (5, 25, 50, 100)]


class RolloutCreate(Model):
    environment: str = Field(pattern=r"^[a-z][a-z0-9_-]{0,62}$")
    version: int = Field(ge=1)
    steps: list[RolloutStep] = Field(default_factory=_default_steps, min_length=1, max_length=20)
    analysis: RolloutAnalysis = Field(default_factory=RolloutAnalysis)

    @model_validator(mode="after")
    def _weights_grow(self) -> RolloutCreate:
        weights = [s.weight for s in self.steps]
        if weights != sorted(weights) or len(set(weights)) != len(weights):
            raise ValueError("step weights only grow within a rollout")
        return self


class ArmMetrics(ResponseModel):
    sessions: int
    error_rate: float | None
    finding_rate: float | None
    cost_per_session: float | None
    latency_p95_ms: float | None


class StepResult(ResponseModel):
    step: int
    weight: float
    passed: bool
    canary: ArmMetrics
    stable: ArmMetrics
    failures: list[str]
    judged_at: datetime


class Rollout(ResponseModel):
    id: int
    agent: str
    environment: str
    version: int
    stable_version: int | None
    status: RolloutStatus
    step: int
    step_started_at: datetime
    steps: list[RolloutStep]
    analysis: RolloutAnalysis
    results: list[StepResult]
    live: StepResult | None = Field(
        default=None,
        description="The current step's analysis so far (not a verdict); only on a single "
        "rollout that is running or paused.",
    )
    reason: str
    created_by: str
    created_at: datetime
    finished_at: datetime | None


class RolloutAction(Model):
    reason: str = Field(default="", max_length=2000)
