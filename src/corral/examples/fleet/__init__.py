"""A small software team of agents: a planner that routes work to a researcher, a coder and a
reviewer, sharing the project's memory in Corral.

- :mod:`.agent`: what every agent does — call the model through Corral's gateway, run the tools
  it asks for, and send the results back;
- :mod:`.planner`, :mod:`.researcher`, :mod:`.coder`, :mod:`.reviewer`: the four roles;
- :mod:`.tools`: the tools they use (a stand-in workspace: docs, files, tests) and Corral memory;
- :mod:`.team`: one task end to end, in one traced session.

The ``openai`` package is needed (``pip install openai``).
"""

from corral.examples.fleet.agent import Assignment, FleetAgent, Refused
from corral.examples.fleet.coder import Coder
from corral.examples.fleet.planner import Planner
from corral.examples.fleet.researcher import Researcher
from corral.examples.fleet.reviewer import Reviewer
from corral.examples.fleet.team import TaskOutcome, Team

AGENTS: dict[str, type[FleetAgent]] = {
    "planner": Planner,
    "researcher": Researcher,
    "coder": Coder,
    "reviewer": Reviewer,
}
"""The roles of the team by agent name."""

__all__ = [
    "AGENTS",
    "Assignment",
    "Coder",
    "FleetAgent",
    "Planner",
    "Refused",
    "Researcher",
    "Reviewer",
    "TaskOutcome",
    "Team",
]
