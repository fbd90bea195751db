"""The planner: reads the project's memory, records the task, and routes the work.

It asks the model who should speak next — ``Next speaker: researcher`` — and hands the task to
that agent, until the model says ``DONE``. Each handoff is the other agent's span inside the
planner's, so Corral draws the team's handoff graph, and notices when a task bounces between
agents without progress.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, ClassVar

from corral.examples.fleet.agent import Assignment, FleetAgent

NEXT_SPEAKER = re.compile(r"next speaker:\s*(\w+)", re.IGNORECASE)


class Planner(FleetAgent):
    name = "planner"
    description = "Breaks tasks down and routes them to the team"
    instructions = (
        "You are the planner of a small software team working for a client. Read the project "
        "brief, break the task down, and decide who works next. Answer only "
        "'Next speaker: researcher', 'Next speaker: coder', 'Next speaker: reviewer' or 'DONE'."
    )
    max_rounds: ClassVar[int] = 8
    """Handoffs per task before the planner gives up."""

    def __init__(self, *, team: Mapping[str, FleetAgent], **options: Any) -> None:
        super().__init__(**options)
        self.team = dict(team)

    def work(self, job: Assignment, request: str) -> str:
        title = request.splitlines()[0]
        context = self.corral.memory.restore(job.project, task=title, budget=800)
        task = self.corral.memory.remember(
            job.project, title, kind="task", session=job.session
        ).item
        progress: list[str] = []
        results: list[str] = []
        for _ in range(self.max_rounds):
            routing = (
                f"{context.markdown}\n\nTask: {request}\n"
                f"Progress: {', '.join(progress) or 'none'}\nWho speaks next?"
            )
            decision = self.converse(job, routing)
            chosen = NEXT_SPEAKER.search(decision)
            if chosen is None or chosen.group(1).lower() not in self.team:
                break  # DONE, or nobody we know
            speaker = chosen.group(1).lower()
            handoff = f"{request}\n\nWork so far:\n" + "\n".join(results[-3:])
            results.append(f"{speaker}: {self.team[speaker].run(job, handoff)}")
            progress.append(speaker)
        if results and results[-1].startswith("reviewer: Approved"):
            self.corral.memory.complete(job.project, task.id)
        return results[-1] if results else "Nothing to do."
