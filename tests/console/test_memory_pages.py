"""The memory pages in a real browser, against a real server, on both databases."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx2
import pytest
from playwright.sync_api import Page, expect

import corral
from tests.console.conftest import PASSWORD, invite_user
from tests.live import LiveServer

TIMES = "\N{MULTIPLICATION SIGN}"  # as the score breakdown writes its factors


def join(page: Page, server: LiveServer, client: corral.Client, email: str, **kw: bool) -> None:
    """Invite a user, accept the invitation in the browser (which signs them in)."""
    path = invite_user(client, email, **kw)
    page.goto(f"{server.url}{path}")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Overview")


@pytest.fixture
def acme(admin_client: corral.Client) -> dict[str, int]:
    """Two projects; acme, created last, is the most recently active, with a little memory."""
    admin_client.projects.create("beta")
    admin_client.projects.create("acme", description="the Acme support agent")
    remember = admin_client.memory.remember
    ids = {
        "database": remember(
            "acme", "Use PostgreSQL for the orders database", kind="decision", key="database"
        ).item.id,
        "deploys": remember(
            "acme", "No deploys on Fridays", kind="constraint", key="deploys", pinned=True
        ).item.id,
        "task": remember("acme", "Migrate the invoices table", kind="task").item.id,
        "note": remember(
            "acme", "The database backups run nightly", kind="note", tags=["ops"]
        ).item.id,
    }
    return ids


def test_browse_search_edit_pin_supersede_forget(
    page: Page, server: LiveServer, admin_client: corral.Client, acme: dict[str, int]
) -> None:
    join(page, server, admin_client, "root@example.com", admin=True)
    page.click("nav >> text=Memory")
    expect(page.locator("h1")).to_have_text("Memory")
    rows = page.locator("table[aria-label=Projects] tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("acme")
    expect(rows.nth(0).locator("td.num")).to_have_text("4")
    expect(rows.nth(1)).to_contain_text("beta")
    rows.nth(0).locator("a").click()  # the most recent project
    expect(page.locator("h1")).to_have_text("acme")

    # The brief: generated sections, and an edit of the human-written ones.
    brief = page.locator("#brief")
    expect(brief).to_contain_text("No deploys on Fridays")
    expect(brief).to_contain_text("Use PostgreSQL for the orders database")
    expect(brief).to_contain_text("Migrate the invoices table")
    brief.locator("summary").click()
    page.fill("form[aria-label='Edit the brief'] textarea[name=goal]", "Answer support tickets")
    page.click("form[aria-label='Edit the brief'] button")
    expect(page.locator(".notice")).to_have_text("Brief saved.")
    expect(page.locator("#brief")).to_contain_text("Answer support tickets")
    assert admin_client.memory.brief("acme").goal == "Answer support tickets"

    # Search: ranked hits with their score breakdown.
    page.fill("input[name=q]", "database")
    page.click("form[role=search] button")
    results = page.locator("#results tbody tr")
    expect(results).to_have_count(2)
    api = admin_client.memory.recall("acme", "database", limit=20)
    for rank, hit in enumerate(api.hits):
        row = results.nth(rank)
        expect(row).to_contain_text(f"#{hit.item.id}")
        expect(row.locator("td.score")).to_have_text(f"{hit.score:.3f}")
        expect(row.locator(".breakdown")).to_contain_text(f"BM25{hit.breakdown.bm25:.3f}")
        expect(row.locator(".breakdown")).to_contain_text(
            f"recency{TIMES}{hit.breakdown.recency_factor:.3f}"
        )
        expect(row.locator(".breakdown")).to_contain_text(f"importance{TIMES}1.00")
        for term in hit.breakdown.matched_terms:
            expect(row.locator(".breakdown code", has_text=term)).to_have_count(1)

    # Edit an item: a new version in its history.
    page.locator(f"#results a[href$='/items/{acme['note']}']").click()
    expect(page.locator("h1")).to_contain_text(f"Item #{acme['note']}")
    form = page.locator("form[aria-label='Edit the item']")
    form.locator("textarea[name=content]").fill("The database backups run every hour")
    form.locator("input[name=tags]").fill("ops backups")
    form.locator("button").click()
    expect(page.locator(".notice")).to_have_text("Saved as version 2.")
    expect(page.locator("#item-content")).to_have_text("The database backups run every hour")
    history = page.locator("#history tbody tr")
    expect(history).to_have_count(2)
    expect(history.nth(0)).to_contain_text("updated")
    expect(history.nth(0)).to_contain_text("The database backups run every hour")
    expect(history.nth(0)).to_contain_text("tags")
    expect(history.nth(1)).to_contain_text("created")
    expect(history.nth(1)).to_contain_text("The database backups run nightly")
    assert admin_client.memory.get("acme", acme["note"]).tags == ["ops", "backups"]

    # Pin it: recall ranks it with the pinned boost.
    page.get_by_role("button", name="Pin", exact=True).click()
    expect(page.locator(".notice")).to_have_text("Pinned.")
    expect(page.locator("h1 .badge-pinned")).to_have_text("pinned")
    expect(page.locator("#history tbody tr").nth(0)).to_contain_text("pinned: False → True")
    assert admin_client.memory.get("acme", acme["note"]).pinned
    page.goto(f"{server.url}/console/memory/acme?q=backups")
    expect(page.locator("#results tbody tr").nth(0).locator(".breakdown")).to_contain_text(
        f"pinned{TIMES}1.25"
    )

    # Supersede the decision: the new item keeps its key; the old one is history.
    page.goto(f"{server.url}/console/memory/acme/items/{acme['database']}")
    form = page.locator("form[aria-label='Supersede the item']")
    form.locator("textarea[name=content]").fill("Use PostgreSQL 16 for the orders database")
    form.locator("button").click()
    expect(page.locator(".notice")).to_contain_text(f"Item {acme['database']} is superseded")
    new_id = int(re.findall(r"\d+", page.locator("h1").inner_text())[0])
    assert new_id != acme["database"]
    old = admin_client.memory.get("acme", acme["database"])
    assert old.superseded_by == new_id
    assert admin_client.memory.get("acme", new_id).key == "database"
    page.goto(f"{server.url}/console/memory/acme?validity=superseded#items")
    expect(page.locator("#items tbody tr")).to_have_count(1)
    expect(page.locator("#items tbody tr")).to_contain_text(f"superseded by #{new_id}")

    # Filters: kind, pinned, task status.
    page.goto(f"{server.url}/console/memory/acme")
    page.select_option("form[aria-label='Filter items'] select[name=pinned]", "yes")
    page.click("form[aria-label='Filter items'] button")
    shown = page.locator("#items tbody tr")
    expect(shown).to_have_count(2)
    expect(page.locator("#items")).not_to_contain_text("invoices")
    page.goto(f"{server.url}/console/memory/acme?kind=task&status=open")
    expect(page.locator("#items tbody tr")).to_have_count(1)
    page.locator(f"#items a[href$='/items/{acme['task']}']").click()
    page.get_by_role("button", name="Mark done").click()
    expect(page.locator(".notice")).to_have_text("Task marked done.")
    assert admin_client.memory.get("acme", acme["task"]).status == "done"

    # Forget, after a confirmation step; cancelling keeps the item.
    page.goto(f"{server.url}/console/memory/acme/items/{acme['note']}")
    page.click("text=Forget…")
    expect(page.locator("h1")).to_have_text(f"Forget item #{acme['note']}?")
    page.click("text=Cancel")
    expect(page.locator("h1")).to_contain_text(f"Item #{acme['note']}")
    page.click("text=Forget…")
    page.click("text=Forget it for good")
    expect(page.locator(".notice")).to_contain_text(f"Item {acme['note']} is forgotten")
    with pytest.raises(corral.NotFound):
        admin_client.memory.get("acme", acme["note"])
    assert not admin_client.memory.recall("acme", "backups").hits
    page.goto(f"{server.url}/console/memory/acme/items/{acme['note']}")
    expect(page.locator("h1")).to_have_text("Something is wrong")
    events = [e.action for e in admin_client.audit.list(action="memory.forget")]
    assert events == ["memory.forget"]


def test_export_downloads_the_api_export(
    page: Page, server: LiveServer, admin_client: corral.Client, acme: dict[str, int]
) -> None:
    join(page, server, admin_client, "root@example.com", admin=True)
    page.goto(f"{server.url}/console/memory/acme")
    with page.expect_download() as download:
        page.click("text=Export JSONL")
    assert download.value.suggested_filename == "acme-memory.jsonl"
    text = Path(download.value.path()).read_text()
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["id"] for line in lines if line["type"] == "item"] == sorted(acme.values())
    assert text == admin_client.memory.export("acme")
    with page.expect_download() as markdown:
        page.click("text=Export Markdown")
    assert markdown.value.suggested_filename == "acme-memory.md"
    assert Path(markdown.value.path()).read_text().startswith("# acme")
    exports = admin_client.audit.list(action="memory.export")
    assert [e.actor_name for e in exports].count("root@example.com") == 2  # by the person


def test_items_paginate(page: Page, server: LiveServer, admin_client: corral.Client) -> None:
    admin_client.projects.create("acme")
    admin_client.memory.remember_many(
        "acme", [{"content": f"fact number {n}", "kind": "fact"} for n in range(120)]
    )
    join(page, server, admin_client, "root@example.com", admin=True)
    page.goto(f"{server.url}/console/memory/acme")
    rows = page.locator("#items tbody tr")
    expect(rows).to_have_count(50)
    expect(rows.nth(0)).to_contain_text("fact number 119")
    page.click("text=Older items →")
    expect(rows).to_have_count(50)
    expect(rows.nth(0)).to_contain_text("fact number 69")
    page.click("text=Older items →")
    expect(rows).to_have_count(20)
    expect(rows.nth(19)).to_contain_text("fact number 0")
    expect(page.locator("text=Older items →")).to_have_count(0)
    page.click("text=← Newest")
    expect(rows.nth(0)).to_contain_text("fact number 119")


def test_script_in_memory_shows_as_text(
    page: Page, server: LiveServer, admin_client: corral.Client
) -> None:
    hostile = "<script>alert(1)</script>"
    admin_client.projects.create("acme", description=f"about {hostile}")
    item = admin_client.memory.remember(
        "acme", f"search me {hostile}", kind="decision", key=f"k{hostile}"
    ).item
    admin_client.memory.update_brief("acme", goal=f"goal {hostile}")
    dialogs: list[str] = []
    page.on("dialog", lambda dialog: (dialogs.append(dialog.message), dialog.dismiss()))
    join(page, server, admin_client, "root@example.com", admin=True)
    for path in (
        "/console/memory",
        "/console/memory/acme",
        "/console/memory/acme?q=search",
        f"/console/memory/acme/items/{item.id}",
        f"/console/memory/acme/items/{item.id}/forget",
    ):
        page.goto(f"{server.url}{path}")
        expect(page.locator("main")).to_contain_text(hostile)
        assert page.locator("script").count() == 1  # only the console's own script
    page.goto(f"{server.url}/console/memory/acme/items/{item.id}")
    expect(page.locator("#item-content")).to_have_text(f"search me {hostile}")
    assert dialogs == []


def test_viewer_sees_no_write_controls_and_is_refused(
    page: Page, server: LiveServer, admin_client: corral.Client, acme: dict[str, int]
) -> None:
    path = invite_user(admin_client, "vi@example.com")
    user_id = next(u.id for u in admin_client.users.list() if u.email == "vi@example.com")
    admin_client.projects.set_role("acme", user_id, "viewer")
    page.goto(f"{server.url}{path}")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.goto(f"{server.url}/console/memory")
    rows = page.locator("table[aria-label=Projects] tbody tr")
    expect(rows).to_have_count(1)  # beta is not theirs
    page.goto(f"{server.url}/console/memory/beta")
    expect(page.locator("h1")).to_have_text("Not allowed")
    page.goto(f"{server.url}/console/memory")
    rows.locator("a").click()
    expect(page.locator("h1")).to_have_text("acme")
    page.goto(f"{server.url}/console/memory/acme?q=database")
    expect(page.locator("#results tbody tr")).to_have_count(2)  # reading is allowed
    assert page.locator("main form[method=post]").count() == 0
    page.goto(f"{server.url}/console/memory/acme/items/{acme['note']}")
    expect(page.locator("#item-content")).to_have_text("The database backups run nightly")
    assert page.locator("main form[method=post]").count() == 0
    assert page.locator("text=Forget…").count() == 0
    page.goto(f"{server.url}/console/memory/acme/items/{acme['note']}/forget")
    expect(page.locator("h1")).to_have_text("Not allowed")

    # Forged posts, with the viewer's own valid CSRF token: the server refuses them.
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    base = f"{server.url}/console/memory/acme"
    for action, form in (
        (f"items/{acme['note']}/edit", {"content": "changed by a viewer"}),
        (f"items/{acme['note']}/pin", {}),
        (f"items/{acme['note']}/supersede", {"content": "superseded by a viewer"}),
        (f"items/{acme['task']}/complete", {}),
        (f"items/{acme['note']}/forget", {}),
        ("brief", {"goal": "a viewer's goal"}),
    ):
        answer = page.request.post(f"{base}/{action}", form={"csrf_token": token, **form})
        assert answer.status == 403, action
        assert "Not allowed" in answer.text()
    note = admin_client.memory.get("acme", acme["note"])
    assert (note.content, note.pinned, note.version) == (
        "The database backups run nightly",
        False,
        1,
    )
    assert admin_client.memory.get("acme", acme["task"]).status == "open"
    assert admin_client.memory.brief("acme").goal == ""
    # Without the token the form is refused before anything else.
    cookies = {c["name"]: c["value"] for c in page.context.cookies()}
    answer = httpx2.post(f"{base}/items/{acme['note']}/forget", cookies=cookies)
    assert answer.status_code == 403
    assert "CSRF" in answer.text


def test_mistakes_are_shown_and_nothing_is_stored(
    page: Page, server: LiveServer, admin_client: corral.Client, acme: dict[str, int]
) -> None:
    join(page, server, admin_client, "root@example.com", admin=True)
    page.goto(f"{server.url}/console/memory/acme/items/{acme['note']}")
    token = page.locator("input[name=csrf_token]").first.get_attribute("value")
    assert token
    item = f"{server.url}/console/memory/acme/items/{acme['note']}"

    def post(path: str, **form: str) -> tuple[int, str]:
        answer = page.request.post(path, form={"csrf_token": token, **form})
        return answer.status, answer.text()

    status, text = post(f"{item}/edit", content="x", importance="5")
    assert status == 422
    assert "importance" in text
    status, text = post(f"{item}/edit", content="y", tags="not,a valid tag!" + "x" * 80)
    assert status == 422
    admin_client.memory.remember(
        "acme", "Use SQLite", kind="decision", key="database", supersede=True
    )
    old = f"{server.url}/console/memory/acme/items/{acme['database']}"
    status, text = post(f"{old}/supersede", content="Use MySQL")
    assert status == 409
    assert "no longer current" in text
    status, _ = post(f"{item}/explode")
    assert status == 404
    note = admin_client.memory.get("acme", acme["note"])
    assert (note.content, note.version) == ("The database backups run nightly", 1)
    page.goto(f"{server.url}/console/memory/acme?kind=bogus")
    expect(page.locator(".error")).to_contain_text("unknown filter value")
    page.goto(f"{server.url}/console/memory/nope")
    expect(page.locator("h1")).to_have_text("Something is wrong")
    page.goto(f"{server.url}/console/memory/acme?q=" + "long%20" * 900)
    expect(page.locator(".error")).to_contain_text("4000")
