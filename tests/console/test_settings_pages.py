from __future__ import annotations

from playwright.sync_api import Page, expect

import corral
from tests.console.conftest import PASSWORD, invite_user, sign_in
from tests.live import LiveServer


def admin_page(
    page: Page, server: LiveServer, client: corral.Client, email: str = "root@example.com"
) -> None:
    path = invite_user(client, email, admin=True)
    page.goto(f"{server.url}{path}")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Overview")


def test_settings_users_keys_providers_budgets(
    page: Page, server: LiveServer, admin_client: corral.Client
) -> None:
    admin_client.projects.create("acme")
    admin_page(page, server, admin_client)
    page.goto(f"{server.url}/console/settings")
    # A user, their invitation link, a role.
    page.fill("form[aria-label='Create a user'] input[name=email]", "dee@example.com")
    page.click("form[aria-label='Create a user'] button")
    expect(page.locator(".notice")).to_contain_text("dee@example.com created")
    page.locator("tr", has_text="dee@example.com").get_by_role(
        "button", name="Invitation link"
    ).click()
    expect(page.locator("#invite-link")).to_contain_text("/console/invite?token=")
    # A key, shown once.
    page.fill("form[aria-label='Create an API key'] input[name=name]", "laptop")
    page.click("form[aria-label='Create an API key'] button")
    key = page.locator("#new-key").inner_text().strip()
    assert key.startswith("crl_")
    with corral.Client(url=server.url, api_key=key) as own:
        assert own.status().principal.name == "root@example.com"
    # A provider: the key is stored and never shown again.
    form = page.locator("form[aria-label='Add a provider']")
    form.locator("input[name=name]").fill("openai")
    form.locator("input[name=base_url]").fill("https://api.openai.com/v1")
    form.locator("input[name=api_key]").fill("sk-very-secret-value")
    form.locator("button").click()
    expect(page.locator("#providers + table")).to_contain_text("stored (never shown)")
    assert "sk-very-secret-value" not in page.content()
    # A budget.
    budget = page.locator("form[aria-label='Create a budget']")
    budget.locator("input[name=name]").fill("acme monthly")
    budget.locator("select[name=scope]").select_option("project")
    budget.locator("select[name=project]").select_option("acme")
    budget.locator("input[name=limit]").fill("25")
    budget.locator("button").click()
    expect(page.locator("#budgets + table")).to_contain_text("acme monthly")
    assert [b.name for b in admin_client.budgets.list()] == ["acme monthly"]
    # A mistake is shown, not swallowed.
    budget = page.locator("form[aria-label='Create a budget']")
    budget.locator("input[name=name]").fill("bad")
    budget.locator("select[name=scope]").select_option("project")
    budget.locator("input[name=limit]").fill("5")
    budget.locator("button").click()
    expect(page.locator(".error")).to_contain_text("project")


def test_viewer_sees_no_admin_controls(
    page: Page, server: LiveServer, admin_client: corral.Client
) -> None:
    admin_client.projects.create("acme")
    path = invite_user(admin_client, "vi@example.com")
    user_id = next(u.id for u in admin_client.users.list() if u.email == "vi@example.com")
    admin_client.projects.set_role("acme", user_id, "viewer")
    page.goto(f"{server.url}{path}")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{server.url}/console/settings")
    assert page.locator("form[aria-label='Create a user']").count() == 0
    assert page.locator("form[aria-label='Add a provider']").count() == 0
    assert page.locator("form[action='/console/settings/retention']").count() == 0
    # The server refuses anyway, whatever the page shows.
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    response = page.request.post(
        f"{server.url}/console/settings/create-user",
        form={"csrf_token": csrf or "", "email": "x@example.com"},
    )
    assert response.status == 403
    sign_in(page, server, "vi@example.com")
