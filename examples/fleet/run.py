"""Run one task with the example team against a Corral server.

    python examples/fleet/run.py PROJECT "TASK"

Reads CORRAL_URL and one key per agent from PLANNER_KEY, RESEARCHER_KEY, CODER_KEY and
REVIEWER_KEY (see README.md).
"""

from __future__ import annotations

import os
import sys

from corral.examples.fleet import AGENTS, Team


def main() -> int:
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    project, task = sys.argv[1], sys.argv[2]
    url = os.environ.get("CORRAL_URL", "http://127.0.0.1:8600")
    keys = {name: os.environ[f"{name.upper()}_KEY"] for name in AGENTS}
    team = Team(url=url, keys=keys)
    try:
        outcome = team.run_task(task, project=project, user=os.environ.get("USER"))
    finally:
        team.close()
    print(f"{outcome.status} (session {outcome.session}): {outcome.answer}")
    return 0 if outcome.status == "done" else 1


if __name__ == "__main__":
    sys.exit(main())
