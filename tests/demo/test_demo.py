"""``corral demo --quick`` end to end on SQLite: what the fleet did is visible through the API
and in the console, and a second run adds work but no copies of the setup."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page, expect, sync_playwright

import corral
from corral.demo.runner import EXPECTED_FINDINGS, DemoOptions, DemoReport, run_demo
from corral.settings import Settings

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def run_quick_demo(home: Path, check: Callable[[corral.Client, DemoReport], None]) -> DemoReport:
    """Run the quick demo; ``check`` runs while its server is still up."""
    settings = Settings(home=home, port=0, database_url=None, log_level="warning")

    def ready(report: DemoReport) -> None:
        assert report.world is not None
        with corral.Client(url=report.world.url, api_key=report.world.admin_key) as admin:
            check(admin, report)

    return run_demo(settings, DemoOptions(quick=True, exit_when_done=True), ready=ready)


def setup_objects(admin: corral.Client) -> dict[str, Any]:
    """Everything the demo sets up (not what its fleet does)."""
    return {
        "projects": sorted(p.name for p in admin.projects.list()),
        "agents": sorted(a.name for a in admin.agents.list()),
        "keys": sorted(k.name for k in admin.keys.list()),
        "users": sorted(u.email for u in admin.users.list()),
        "providers": sorted(p.name for p in admin.providers.list()),
        "budgets": sorted(b.name for b in admin.budgets.list()),
        "policies": {a: len(admin.policies.versions(a)) for a in ("researcher", "coder")},
        "versions": {
            a: [(v.number, v.state) for v in admin.agents.versions(a)]
            for a in ("planner", "researcher", "coder", "reviewer")
        },
        "decisions": len(admin.memory.list("acme", kinds=["decision", "constraint"])),
    }


def check_first_run(admin: corral.Client, report: DemoReport) -> dict[str, Any]:
    assert {"acme", "globex", "initech"} <= {p.name for p in admin.projects.list()}
    assert {"planner", "researcher", "coder", "reviewer"} <= {a.name for a in admin.agents.list()}

    # The refusals the incidents end with, as the agents saw them.
    refusals = {o.refusal for o in report.outcomes}
    assert {"budget_exceeded", "tool_call_denied"} <= refusals
    done = [o for o in report.outcomes if o.status == "done" and o.project == "acme"]
    assert done

    # An ordinary task: one trace with the planner handing work to the three others.
    graph = admin.sessions.graph("acme", done[0].session)
    handoffs = {(e.source, e.target) for e in graph.edges if e.kind == "handoff"}
    assert {("agent:planner", f"agent:{a}") for a in ("researcher", "coder", "reviewer")} <= (
        handoffs
    )
    timeline = admin.sessions.timeline("acme", done[0].session)
    assert {s.span_type for s in timeline} >= {"agent", "llm", "tool"}
    assert len({s.trace_id for s in timeline}) == 1

    # Memory: the client's decisions, the tasks the planner recorded, the researcher's notes.
    assert admin.memory.list("acme", kinds=["decision"], key="database")
    tasks = admin.memory.list("acme", kinds=["task"])
    assert any(t.status == "done" for t in tasks)
    assert admin.memory.list("acme", kinds=["fact"], tags=["research"])
    assert admin.memory.brief("globex").goal

    # The runaway hit its task budget: the gateway refused it, and the budget's alerts fired.
    assert any(a.budget == "globex each task" and a.threshold >= 50 for a in admin.budgets.alerts())
    [task_budget] = [b for b in admin.budgets.list() if b.name == "globex each task"]
    assert all(u.spent <= task_budget.limit for u in admin.budgets.usage(task_budget.id))

    # A finding of each kind injected, and the looping session halted.
    found = {
        f.type for p in ("acme", "globex", "initech") for f in admin.findings.list(p, limit=500)
    }
    assert set(EXPECTED_FINDINGS) <= found
    assert admin.sessions.halts("initech")

    # Versions: the reviewer's first canary aborted, the second promoted.
    states = {v.number: v.state for v in admin.agents.versions("reviewer")}
    assert states == {1: "deprecated", 2: "aborted", 3: "active"}
    assert [r.outcome for r in report.canaries] == ["aborted", "promoted"]
    rollouts = admin.agents.rollouts.list("reviewer")
    assert [(r.version, r.status) for r in rollouts] == [(3, "succeeded"), (2, "aborted")]
    assert any("finding rate" in failure for failure in rollouts[1].results[-1].failures)
    return setup_objects(admin)


def run_example_script(report: DemoReport) -> None:
    """``examples/fleet/run.py``, as its README says to run it, against the demo's server."""
    assert report.world is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_")}
    env["CORRAL_URL"] = report.world.url
    env.update({f"{name.upper()}_KEY": key for name, key in report.world.agent_keys.items()})
    script = Path(__file__).parents[2] / "examples" / "fleet" / "run.py"
    task = "Add request ids to the export API's logs"
    done = subprocess.run(
        [sys.executable, str(script), "acme", task],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.startswith("done (session task-")
    assert "Approved" in done.stdout


@dataclass(frozen=True)
class Produced:
    """What the console must show: a routine task's trace and the halted session."""

    trace_id: str
    halted_session: str


def check_console(url: str, login: str, password: str, produced: Produced) -> None:
    """Every page of the console shows what the demo produced."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        try:
            page: Page = browser.new_page()
            body = page.locator("body")
            page.goto(f"{url}/console/login")
            page.fill("input[name=email]", login)
            page.fill("input[name=password]", password)
            page.click("button[type=submit]")
            # Overview: the fleet and the clients.
            expect(page.locator("h1")).to_have_text("Overview")
            for name in ("planner", "researcher", "coder", "reviewer"):
                expect(page.locator(f"a[href='/console/agents/{name}']").first).to_be_visible()
            expect(body).to_contain_text("Initech: internal reporting tools")
            # Traces, a trace, and the session the circuit breaker halted.
            page.goto(f"{url}/console/traces?project=acme")
            expect(page.locator(f"a[href*='{produced.trace_id}']").first).to_be_visible()
            page.goto(f"{url}/console/traces/acme/{produced.trace_id}")
            for text in ("researcher", "coder", "reviewer", "search_docs", "run_tests"):
                expect(body).to_contain_text(text)
            page.goto(f"{url}/console/sessions/initech/{produced.halted_session}")
            expect(page.locator("#halt")).to_contain_text("Halted")
            # Costs: spend and the budget the runaway hit.
            page.goto(f"{url}/console/costs")
            expect(body).to_contain_text("globex each task")
            # Memory: the projects, and globex's decision that the coder could not overwrite.
            page.goto(f"{url}/console/memory")
            expect(body).to_contain_text("globex")
            page.goto(f"{url}/console/memory/globex")
            expect(body).to_contain_text("Use PostgreSQL for all storage.")
            # Findings of each kind, in the project where they happened.
            for project, kinds in {
                "acme": ("refetch", "ignored_tool_error"),
                "globex": ("contradiction", "runaway"),
                "initech": ("tool_loop", "handoff_cycle"),
            }.items():
                page.goto(f"{url}/console/findings?project={project}")
                for kind in kinds:
                    expect(page.locator("td a", has_text=kind).first).to_be_visible()
            # Agents: the reviewer's rollouts, the aborted one with its reasons.
            page.goto(f"{url}/console/agents/reviewer")
            aborted = page.locator("details", has_text="v2 in production")
            expect(aborted.locator("summary")).to_contain_text("aborted")
            expect(aborted).to_contain_text("finding rate")
            promoted = page.locator("details", has_text="v3 in production")
            expect(promoted.locator("summary")).to_contain_text("succeeded")
            # Audit: deployments and the halt, in the chain.
            page.goto(f"{url}/console/audit?action=deployment.update")
            expect(page.locator("table")).to_contain_text("reviewer/production")
            page.goto(f"{url}/console/audit?action=session.halt")
            expect(page.locator("table")).to_contain_text("session.halt")
            # Settings: the fake provider, the budgets, the agents' keys.
            page.goto(f"{url}/console/settings")
            expect(body).to_contain_text("demo-llm")
            expect(body).to_contain_text("globex each task")
            expect(body).to_contain_text("demo reviewer")
        finally:
            browser.close()


@pytest.mark.slow
def test_the_quick_demo_shows_everything_and_runs_again_without_copies(tmp_path: Path) -> None:
    seen: dict[str, Any] = {}

    def first(admin: corral.Client, report: DemoReport) -> None:
        seen["setup"] = check_first_run(admin, report)
        seen["sessions"] = len(admin.sessions.list("acme", limit=500))
        assert report.world is not None
        assert report.world.password
        routine = next(o for o in report.outcomes if o.status == "done" and o.project == "acme")
        produced = Produced(
            trace_id=admin.sessions.timeline("acme", routine.session)[0].trace_id,
            halted_session=admin.sessions.halts("initech")[0].session_id,
        )
        check_console(report.world.url, report.world.login, report.world.password, produced)

    report = run_quick_demo(tmp_path / "home", first)
    assert report.world is not None
    assert report.world.created

    def second(admin: corral.Client, again: DemoReport) -> None:
        assert again.world is not None
        assert again.world.created == []
        assert again.world.password is None  # the first run's password stands
        assert setup_objects(admin) == seen["setup"]
        assert len(admin.sessions.list("acme", limit=500)) > seen["sessions"]
        assert {"budget_exceeded", "tool_call_denied"} <= {o.refusal for o in again.outcomes}
        run_example_script(again)

    again = run_quick_demo(tmp_path / "home", second)
    assert again.canaries == []  # the canary story is told once
