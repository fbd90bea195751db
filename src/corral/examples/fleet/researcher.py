"""The researcher: searches the docs and the web, and keeps what it learns in project memory."""

from __future__ import annotations

from corral.examples.fleet.agent import Assignment, FleetAgent


class Researcher(FleetAgent):
    name = "researcher"
    description = "Finds what the team needs in docs and on the web"
    instructions = (
        "You are the researcher of a small software team. Find what the team needs to know in "
        "the project's docs and on the web, cite where it comes from, and be brief."
    )
    tools = ("search_docs", "fetch_url")
    max_steps = 15

    def work(self, job: Assignment, request: str) -> str:
        notes = self.converse(job, request)
        # What was learnt outlives the session: the next task starts from it (identical notes
        # are stored once).
        self.corral.memory.remember(
            job.project, notes, kind="fact", tags=["research"], session=job.session
        )
        return notes
