"""SDK resources for staged rollouts (``client.agents.rollouts``)."""

from __future__ import annotations

import builtins
from typing import TYPE_CHECKING, Any

from corral.schemas.lifecycle import Rollout, RolloutAnalysis, RolloutStep
from corral.sdk._calls import Call, body_of, parser, segment

if TYPE_CHECKING:
    from corral.sdk.client import AsyncClient, Client

_rollout = parser(Rollout)
Steps = builtins.list[RolloutStep | dict[str, Any]]


def _base(agent: str) -> str:
    return f"/v1/agents/{segment(agent)}/rollouts"


def _list(agent: str, status: str | None) -> Call[builtins.list[Rollout]]:
    return Call("GET", _base(agent), parser(builtins.list[Rollout]), params=body_of(status=status))


def _start(agent: str, body: dict[str, Any]) -> Call[Rollout]:
    return Call("POST", _base(agent), _rollout, json=body)


def _get(agent: str, rollout_id: int) -> Call[Rollout]:
    return Call("GET", f"{_base(agent)}/{segment(rollout_id)}", _rollout)


def _action(agent: str, rollout_id: int, verb: str, reason: str | None) -> Call[Rollout]:
    path = f"{_base(agent)}/{segment(rollout_id)}/{verb}"
    body = None if verb == "analyze" else {"reason": reason or ""}
    return Call("POST", path, _rollout, json=body)


def _start_body(
    version: int,
    environment: str,
    steps: Steps | None,
    analysis: RolloutAnalysis | dict[str, Any] | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"version": version, "environment": environment}
    if steps is not None:
        body["steps"] = [
            s.model_dump(mode="json") if isinstance(s, RolloutStep) else s for s in steps
        ]
    if analysis is not None:
        body["analysis"] = (
            analysis.model_dump(mode="json") if isinstance(analysis, RolloutAnalysis) else analysis
        )
    return body


class Rollouts:
    """Staged canary rollouts of an agent's versions, judged step by step against stable."""

    def __init__(self, client: Client) -> None:
        self._client = client

    def start(
        self,
        agent: str,
        version: int,
        *,
        environment: str = "production",
        steps: Steps | None = None,
        analysis: RolloutAnalysis | dict[str, Any] | None = None,
    ) -> Rollout:
        """Serve ``version`` as a canary at the first step's weight (default steps 5, 25, 50
        and 100 %, 30 minutes each) and judge each step before the next."""
        return self._client.call(_start(agent, _start_body(version, environment, steps, analysis)))

    def list(self, agent: str, *, status: str | None = None) -> builtins.list[Rollout]:
        """The agent's rollouts, newest first."""
        return self._client.call(_list(agent, status))

    def get(self, agent: str, rollout_id: int) -> Rollout:
        """A rollout with every judged step's analysis (and the current one's so far)."""
        return self._client.call(_get(agent, rollout_id))

    def analyze(self, agent: str, rollout_id: int) -> Rollout:
        """Judge the current step now if it is due, instead of waiting for the server's job."""
        return self._client.call(_action(agent, rollout_id, "analyze", None))

    def pause(self, agent: str, rollout_id: int, *, reason: str = "") -> Rollout:
        return self._client.call(_action(agent, rollout_id, "pause", reason))

    def resume(self, agent: str, rollout_id: int, *, reason: str = "") -> Rollout:
        return self._client.call(_action(agent, rollout_id, "resume", reason))

    def promote(self, agent: str, rollout_id: int, *, reason: str = "") -> Rollout:
        return self._client.call(_action(agent, rollout_id, "promote", reason))

    def abort(self, agent: str, rollout_id: int, *, reason: str = "") -> Rollout:
        return self._client.call(_action(agent, rollout_id, "abort", reason))


class AsyncRollouts:
    """The asynchronous twin of :class:`Rollouts`."""

    def __init__(self, client: AsyncClient) -> None:
        self._client = client

    async def start(
        self,
        agent: str,
        version: int,
        *,
        environment: str = "production",
        steps: Steps | None = None,
        analysis: RolloutAnalysis | dict[str, Any] | None = None,
    ) -> Rollout:
        return await self._client.call(
            _start(agent, _start_body(version, environment, steps, analysis))
        )

    async def list(self, agent: str, *, status: str | None = None) -> builtins.list[Rollout]:
        return await self._client.call(_list(agent, status))

    async def get(self, agent: str, rollout_id: int) -> Rollout:
        return await self._client.call(_get(agent, rollout_id))

    async def analyze(self, agent: str, rollout_id: int) -> Rollout:
        return await self._client.call(_action(agent, rollout_id, "analyze", None))

    async def pause(self, agent: str, rollout_id: int, *, reason: str = "") -> Rollout:
        return await self._client.call(_action(agent, rollout_id, "pause", reason))

    async def resume(self, agent: str, rollout_id: int, *, reason: str = "") -> Rollout:
        return await self._client.call(_action(agent, rollout_id, "resume", reason))

    async def promote(self, agent: str, rollout_id: int, *, reason: str = "") -> Rollout:
        return await self._client.call(_action(agent, rollout_id, "promote", reason))

    async def abort(self, agent: str, rollout_id: int, *, reason: str = "") -> Rollout:
        return await self._client.call(_action(agent, rollout_id, "abort", reason))
