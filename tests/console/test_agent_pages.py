from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

import corral
from tests.console.conftest import PASSWORD, invite_user, sign_in
from tests.live import LiveServer

STEPS = [{"weight": 10, "min_minutes": 30}, {"weight": 100, "min_minutes": 30}]


@pytest.fixture
def support(admin_client: corral.Client) -> corral.Client:
    """Agent ``support`` in project ``shop``: v1 then v2 deployed, v3 rolling out."""
    admin_client.projects.create("shop")
    admin_client.agents.create("support", description="answers <b>shoppers</b>")
    admin_client.projects.grant_agent("shop", "support")
    agents = admin_client.agents
    agents.create_version("support", config={"model": "gpt-4o-mini", "system_prompt": "Help."})
    agents.create_version("support", changes={"model": "gpt-4o", "tools": ["search"]})
    agents.create_version("support", changes={"parameters": {"temperature": 0.1}})
    agents.deploy("support", 1)
    agents.deploy("support", 2)
    agents.rollouts.start("support", 3, steps=STEPS, analysis={"min_sessions": 5})
    admin_client.policies.save(
        "support",
        rules=[
            {"effect": "allow", "tools": ["search", "refund"]},
            {
                "effect": "deny",
                "tools": ["refund"],
                "when": [{"arg": "amount", "op": ">", "value": 100}],
            },
        ],
        note="refunds up to 100",
    )
    return admin_client


def test_agent_pages_show_versions_rollouts_and_roll_back(
    page: Page, server: LiveServer, support: corral.Client
) -> None:
    path = invite_user(support, "ops@example.com", admin=True)
    page.goto(f"{server.url}{path}")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.click("nav >> text=Agents")
    expect(page.locator("h1")).to_have_text("Agents")
    row = page.locator("table[aria-label=Agents] tr", has_text="support")
    expect(row).to_contain_text("production: v2")
    expect(row).to_contain_text("production: v3 at 10 %")
    expect(row).to_contain_text("step 1 of 2")
    # User text is escaped, not markup.
    expect(row).to_contain_text("answers <b>shoppers</b>")

    row.get_by_role("link", name="support").click()
    expect(page.locator("h1")).to_contain_text("support")
    versions = page.locator("table[aria-label=Versions]")
    expect(versions.locator("tbody tr")).to_have_count(3)
    expect(versions.locator("#version-3")).to_contain_text("canary")
    expect(versions.locator("#version-2")).to_contain_text("active")
    expect(versions.locator("#version-1")).to_contain_text("deprecated")
    # The two newest versions are compared; another pair on demand.
    expect(page.locator("table.diff")).to_contain_text("parameters.temperature")
    page.locator("form[aria-label='Compare versions'] select[name=from]").select_option("1")
    page.locator("form[aria-label='Compare versions'] select[name=to]").select_option("2")
    page.locator("form[aria-label='Compare versions'] button").click()
    diff = page.locator("table.diff")
    expect(diff).to_have_attribute("aria-label", "Differences from v1 to v2")
    expect(diff.locator("tr", has_text="model")).to_contain_text("gpt-4o-minigpt-4o")
    expect(diff.locator("tr", has_text="tools")).to_contain_text('"search"')
    # The rollout in progress, with its current step's analysis so far.
    rollout = page.locator("section.rollout")
    expect(rollout).to_contain_text("v3 beside v2 in production")
    steps = rollout.locator("table.steps")
    expect(steps.locator("tbody tr")).to_have_count(2)
    expect(steps).to_contain_text("too few canary sessions: 0 < 5")
    # The tool policy.
    expect(page.locator("table[aria-label='Tool rules']")).to_contain_text("amount > 100")

    # Pause, behind a confirmation; dismissing it changes nothing.
    page.once("dialog", lambda dialog: dialog.dismiss())
    rollout.get_by_role("button", name="Pause").click()
    expect(rollout).to_contain_text("running")
    page.once("dialog", lambda dialog: dialog.accept())
    rollout.get_by_role("button", name="Pause").click()
    expect(page.locator(".notice")).to_contain_text("is paused")
    assert support.agents.rollouts.list("support")[0].status == "paused"

    # Roll back: production serves v1 again and the rollout's canary is aborted.
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="Roll back to v1").click()
    expect(page.locator(".notice")).to_contain_text("production serves version 1 of support again")
    deployments = page.locator("table[aria-label=Deployments]")
    expect(deployments.locator("tbody tr td").nth(1)).to_have_text("v1")
    expect(page.locator("section.rollout")).to_have_count(0)
    expect(page.locator("details", has_text="Rollout 1")).to_contain_text("aborted")
    deployment = support.agents.deployments("support")[0]
    assert (deployment.active_version, deployment.canary_version) == (1, None)
    assert support.agents.version("support", 2).state == "deprecated"
    assert support.agents.version("support", 3).state == "aborted"


def test_viewer_sees_no_write_controls_and_is_refused(
    page: Page, server: LiveServer, support: corral.Client
) -> None:
    path = invite_user(support, "vi@example.com")
    user_id = next(u.id for u in support.users.list() if u.email == "vi@example.com")
    support.projects.set_role("shop", user_id, "viewer")
    page.goto(f"{server.url}{path}")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{server.url}/console/agents/support")
    expect(page.locator("section.rollout")).to_contain_text("v3 beside v2")
    expect(page.locator("table[aria-label=Versions] tbody tr")).to_have_count(3)
    assert page.locator("main form[method=post]").count() == 0
    assert page.get_by_role("button", name="Roll back to v1").count() == 0
    expect(page.locator("main")).to_contain_text("read only for you")
    # The server refuses anyway, whatever the page shows.
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    for action, form in [
        ("rollback", {"environment": "production"}),
        ("abort", {"rollout_id": "1"}),
        ("promote", {"rollout_id": "1"}),
    ]:
        response = page.request.post(
            f"{server.url}/console/agents/support/{action}",
            form={"csrf_token": csrf or "", **form},
        )
        assert response.status == 403, action
    # And without a valid CSRF token, even an admin's form would be refused.
    forged = page.request.post(
        f"{server.url}/console/agents/support/rollback",
        form={"csrf_token": "guess", "environment": "production"},
    )
    assert forged.status == 403
    assert support.agents.deployments("support")[0].active_version == 2
    assert support.agents.rollouts.list("support")[0].status == "running"
    sign_in(page, server, "vi@example.com")
