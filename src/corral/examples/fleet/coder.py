"""The coder: reads the code, patches it, runs the tests, and records the decisions it takes."""

from __future__ import annotations

from corral.examples.fleet.agent import FleetAgent


class Coder(FleetAgent):
    name = "coder"
    description = "Changes the code and runs the tests"
    instructions = (
        "You are the coder of a small software team. Read the relevant file, make the smallest "
        "change that does the task, run the unit tests, and record any design decision you take "
        "with the remember tool."
    )
    tools = ("read_file", "edit_file", "run_tests", "remember")
    max_steps = 30
