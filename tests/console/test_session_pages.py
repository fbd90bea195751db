from __future__ import annotations

import httpx2
from playwright.sync_api import Page, expect

import corral
from tests.console.conftest import PASSWORD, invite_user, sign_in
from tests.live import LiveServer


def test_invitation_sign_in_and_out(
    page: Page, server: LiveServer, admin_client: corral.Client
) -> None:
    path = invite_user(admin_client, "ada@example.com", admin=True)
    page.goto(f"{server.url}{path}")
    page.fill("input[name=password]", "short")
    page.click("button[type=submit]")  # the browser's own check stops a too-short password
    expect(page).to_have_url(f"{server.url}{path}")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Overview")
    cookie = next(c for c in page.context.cookies() if c["name"] == "corral_session")
    assert cookie["httpOnly"]
    assert cookie["sameSite"] == "Lax"
    page.click("text=Sign out")
    expect(page.locator(".notice")).to_contain_text("signed out")
    page.goto(f"{server.url}/console/")
    expect(page).to_have_url(f"{server.url}/console/login?next=/console/")


def test_wrong_password_and_next_link(
    page: Page, server: LiveServer, admin_client: corral.Client
) -> None:
    invite = invite_user(admin_client, "bo@example.com")
    httpx2.post(
        f"{server.url}/v1/auth/accept-invite",
        json={"token": invite.split("token=")[1], "password": PASSWORD},
    )
    page.goto(f"{server.url}/console/audit")
    expect(page).to_have_url(f"{server.url}/console/login?next=/console/audit")
    page.fill("input[name=email]", "bo@example.com")
    page.fill("input[name=password]", "not the password")
    page.click("button[type=submit]")
    expect(page.locator(".error")).to_contain_text("wrong email or password")
    page.fill("input[name=password]", PASSWORD)  # the form kept where to go next
    page.click("button[type=submit]")
    expect(page).to_have_url(f"{server.url}/console/audit")
    expect(page.locator("h1")).to_have_text("Not allowed")  # a plain user reads no audit
    sign_in(page, server, "bo@example.com")
    expect(page.locator("h1")).to_have_text("Overview")


def test_forms_without_csrf_are_refused(server: LiveServer, admin_client: corral.Client) -> None:
    invite = invite_user(admin_client, "cy@example.com")
    token = invite.split("token=")[1]
    with httpx2.Client(base_url=server.url) as http:
        http.post("/v1/auth/accept-invite", json={"token": token, "password": PASSWORD})
        assert http.cookies.get("corral_session")
        forged = http.post("/console/logout", data={"csrf_token": "guess"})
        assert forged.status_code == 403
        assert "CSRF" in forged.text
        assert http.get("/v1/auth/session").status_code == 200  # still signed in
