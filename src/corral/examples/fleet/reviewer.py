"""The reviewer: checks the change and, when it is good, merges it — if its policy allows."""

from __future__ import annotations

from corral.examples.fleet.agent import Assignment, FleetAgent


class Reviewer(FleetAgent):
    name = "reviewer"
    description = "Reviews changes and merges the good ones"
    instructions = (
        "You are the reviewer of a small software team. Check the change against the project's "
        "decisions and rules, run the tests if needed, and answer 'Approved: …' or "
        "'Changes requested: …'."
    )
    tools = ("read_file", "run_tests")
    merge_target = "staging"

    def work(self, job: Assignment, request: str) -> str:
        verdict = self.converse(job, request)
        if verdict.startswith("Approved"):
            # Not a model decision, so no gateway check: ask Corral before acting (audited).
            decision = self.corral.authorize(
                "merge_change", {"target": self.merge_target}, project=job.project
            )
            if not decision.allowed:
                return f"{verdict} (not merged: {decision.message})"
        return verdict
