"""The team: one task end to end, in one traced session.

    team = Team(url="http://127.0.0.1:8600", keys={"planner": "crl_…", "researcher": "crl_…",
                                                  "coder": "crl_…", "reviewer": "crl_…"})
    outcome = team.run_task("Add cursor pagination to the export API", project="acme")
    outcome = team.run_task("Carry on with the open tasks", project=None)  # most recent project

Each agent calls the model with its own Corral key, so Corral knows who did what and applies
each agent's version, policy and budgets. The team's own spans (the agents at work and their
handoffs) are sent with the planner's key by the tracing SDK.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass

import corral
from corral.examples.fleet.agent import Assignment, FleetAgent, Refused
from corral.examples.fleet.coder import Coder
from corral.examples.fleet.planner import Planner
from corral.examples.fleet.researcher import Researcher
from corral.examples.fleet.reviewer import Reviewer
from corral.examples.fleet.tools import Workspace


@dataclass(frozen=True)
class TaskOutcome:
    """How a task ended: ``done``, or ``refused`` by Corral with the refusal's code."""

    project: str
    session: str
    status: str
    answer: str
    refusal: str | None = None


class Team:
    """A planner and the agents it hands work to."""

    def __init__(
        self, *, url: str, keys: Mapping[str, str], workspace: Workspace | None = None
    ) -> None:
        self.url = url
        self.keys = dict(keys)
        shared = workspace or Workspace()
        members: dict[str, FleetAgent] = {
            role.name: role(url=url, api_key=keys[role.name], workspace=shared)
            for role in (Researcher, Coder, Reviewer)
        }
        self.planner = Planner(team=members, url=url, api_key=keys["planner"], workspace=shared)
        self.members = members
        self._traced_project: str | None = None

    def run_task(
        self,
        task: str,
        *,
        project: str | None,
        session: str | None = None,
        user: str | None = None,
    ) -> TaskOutcome:
        """Run ``task`` in ``project`` (None: the project the planner worked in most recently)
        as one session, and say how it ended."""
        if project is None:
            project = self.planner.corral.memory.open_recent(task=task).project
        session = session or f"task-{uuid.uuid4().hex[:12]}"
        self._trace_to(project)
        job = Assignment(project=project, session=session, user=user)
        try:
            with corral.session(session, user=user):
                answer = self.planner.run(job, task)
        except Refused as refused:
            return TaskOutcome(project, session, "refused", refused.message, refused.code)
        return TaskOutcome(project, session, "done", answer)

    def _trace_to(self, project: str) -> None:
        # The tracing SDK sends one project's spans per configuration: switch when it changes.
        # Not the process's global tracer provider: the team's spans are its agents' and tools',
        # not those of whatever else runs in the process (in the demo, the server itself).
        if project != self._traced_project:
            corral.configure(
                url=self.url,
                api_key=self.keys["planner"],
                project=project,
                service_name="fleet",
                schedule_delay=0.5,
                set_global=False,
            )
            self._traced_project = project

    def close(self) -> None:
        """Send the spans still buffered and close the agents' connections."""
        corral.flush()
        for agent in (self.planner, *self.members.values()):
            agent.close()
