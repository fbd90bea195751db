"""Console tests drive Debian's Chromium (headless) with Playwright against a real server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

import corral
from tests.live import LiveServer, live_server

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "console test password"


@pytest.fixture
def browser() -> Iterator[Browser]:
    # Per test, not per session: while Playwright's sync API runs it holds an event loop open in
    # this thread, which would break the asyncio tests that share the worker process.
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield launched
        launched.close()


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    with live_server(tmp_path / "home", database_url) as running:
        yield running


@pytest.fixture
def admin_client(server: LiveServer, tmp_path: Path) -> Iterator[corral.Client]:
    import json

    key = json.loads((tmp_path / "home" / "cli-config.json").read_text())["api_key"]
    with corral.Client(url=server.url, api_key=key) as client:
        yield client


def invite_user(client: corral.Client, email: str, *, admin: bool = False) -> str:
    """Create a user and return their invitation path."""
    user = client.users.create(email, workspace_admin=admin)
    return client.users.invite(user.id).accept_path


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(
        viewport={"width": 1366, "height": 900}, timezone_id="Europe/Berlin"
    )
    tab = context.new_page()
    yield tab
    context.close()


def sign_in(page: Page, server: LiveServer, email: str, password: str = PASSWORD) -> None:
    page.goto(f"{server.url}/console/login")
    page.fill("input[name=email]", email)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{server.url}/console/**")
