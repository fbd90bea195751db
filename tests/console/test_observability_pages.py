"""Traces, sessions, costs, findings and alerts in a real browser, on data sent over OTLP."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status
from playwright.sync_api import Page, expect

import corral
from corral.core.otlp import encode_key_values
from tests.console.conftest import PASSWORD, invite_user
from tests.live import LiveServer, live_server

SCRIPT = "<script>window.pwned = 1</script>"
NOW_NS = time.time_ns() - 60 * 10**9  # spans of a minute ago: inside "today" and "last hour"


@pytest.fixture
def server(tmp_path: Path, database_url: str) -> Iterator[LiveServer]:
    # Detection inline: findings are stored before the export is answered, nothing to wait for.
    with live_server(tmp_path / "home", database_url, CORRAL_DETECTION_MODE="inline") as running:
        yield running


def _span(
    trace: int,
    number: int,
    parent: int | None,
    *,
    offset_ms: int,
    error: str | None = None,
    **attributes: Any,
) -> Span:
    start = NOW_NS + offset_ms * 1_000_000
    return Span(
        trace_id=trace.to_bytes(16, "big"),
        span_id=number.to_bytes(8, "big"),
        parent_span_id=parent.to_bytes(8, "big") if parent else b"",
        name=str(attributes.pop("name")),
        start_time_unix_nano=start,
        end_time_unix_nano=start + 40_000_000,
        attributes=encode_key_values({k.replace("__", "."): v for k, v in attributes.items()}),
        status=Status(code=Status.STATUS_CODE_ERROR, message=error)
        if error
        else Status(code=Status.STATUS_CODE_UNSET),
    )


def send(server: LiveServer, key: str, *spans: Span) -> None:
    request = ExportTraceServiceRequest()
    group = request.resource_spans.add()
    group.resource.attributes.extend(
        encode_key_values({"service.name": "shop", "corral.project": "acme"})
    )
    group.scope_spans.add().spans.extend(spans)
    response = httpx2.post(
        f"{server.url}/v1/traces",
        content=request.SerializeToString(),
        headers={"authorization": f"Bearer {key}", "content-type": "application/x-protobuf"},
    )
    assert response.status_code == 200, response.text


def session_one() -> list[Span]:
    """A planner hands off to a researcher, which calls a model and then the same tool six
    times: a critical tool loop, which halts the session."""
    common = {"gen_ai__conversation__id": "chat-1", "user__id": "ann"}
    spans = [
        _span(
            1,
            1,
            None,
            offset_ms=0,
            name="invoke_agent planner",
            gen_ai__operation__name="invoke_agent",
            gen_ai__agent__name="planner",
            **common,
        ),
        _span(
            1,
            2,
            1,
            offset_ms=5,
            name="invoke_agent researcher",
            gen_ai__operation__name="invoke_agent",
            gen_ai__agent__name="researcher",
            **common,
        ),
        _span(
            1,
            3,
            2,
            offset_ms=10,
            name="chat gpt-4o-mini",
            gen_ai__operation__name="chat",
            gen_ai__request__model="gpt-4o-mini",
            gen_ai__usage__input_tokens=1200,
            gen_ai__usage__output_tokens=300,
            gen_ai__agent__name="researcher",
            gen_ai__input__messages=json.dumps([{"role": "user", "content": SCRIPT}]),
            **common,
        ),
    ]
    spans += [
        _span(
            1,
            10 + n,
            2,
            offset_ms=20 + n,
            name="execute_tool convert",
            gen_ai__operation__name="execute_tool",
            gen_ai__tool__name="convert",
            gen_ai__tool__call__arguments=json.dumps({"q": SCRIPT}),
            gen_ai__tool__call__result=f"{n} EUR",
            gen_ai__agent__name="researcher",
            **common,
        )
        for n in range(6)
    ]
    return spans


def session_two() -> list[Span]:
    common = {"gen_ai__conversation__id": "chat-2", "user__id": "bob"}
    return [
        _span(
            2,
            1,
            None,
            offset_ms=100,
            name="invoke_agent writer",
            gen_ai__operation__name="invoke_agent",
            gen_ai__agent__name="writer",
            **common,
        ),
        _span(
            2,
            2,
            1,
            offset_ms=105,
            name="chat claude",
            error="rate limited",
            gen_ai__operation__name="chat",
            gen_ai__request__model="gpt-4o",
            gen_ai__usage__input_tokens=50,
            gen_ai__agent__name="writer",
            **common,
        ),
    ]


@pytest.fixture
def seeded(admin_client: corral.Client, server: LiveServer, tmp_path: Path) -> corral.Client:
    admin_client.projects.create("acme")
    admin_client.findings.configure("acme", halt_on=["tool_loop"])
    admin_client.agents.create("writer", description="Writes the answers")
    admin_client.projects.grant_agent("acme", "writer")
    admin_client.budgets.create(
        "acme daily", scope="project", project="acme", limit=5, window="day", thresholds=[50, 80]
    )
    key = json.loads((tmp_path / "home" / "cli-config.json").read_text())["api_key"]
    send(server, key, *session_one())
    send(server, key, *session_two())
    return admin_client


def sign_in_new(
    page: Page, server: LiveServer, client: corral.Client, email: str, *, admin: bool
) -> None:
    path = invite_user(client, email, admin=admin)
    page.goto(f"{server.url}{path}")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    expect(page.locator("h1")).to_have_text("Overview")


def test_traces_sessions_findings_and_costs(
    page: Page, server: LiveServer, seeded: corral.Client
) -> None:
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.accept()))
    sign_in_new(page, server, seeded, "ops@example.com", admin=True)
    # Overview: spend, open findings and alerts, agent status.
    expect(page.locator(".card", has_text="open findings")).to_contain_text("1")
    writer = page.locator("tr", has_text="Writes the answers")
    expect(writer).to_contain_text("100%")  # its one model call failed
    expect(writer.locator("time")).to_have_count(1)  # last activity
    expect(page.locator("text=acme daily")).to_be_visible()

    # Traces: the list, then filters.
    page.click("nav >> text=Traces")
    rows = page.locator("main table tbody tr")
    expect(rows).to_have_count(2)
    page.select_option("select[name=status]", "error")
    page.click("form[aria-label='Filter traces'] button")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("writer")
    page.goto(f"{server.url}/console/traces?project=acme")
    page.fill("input[name=q]", "window.pwned")
    page.select_option("select[name=range]", "1h")
    page.click("form[aria-label='Filter traces'] button")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text("planner")
    # Without a range, indexed text is searched over all time; shorter text over the last day.
    page.goto(f"{server.url}/console/traces?project=acme&q=window.pwned")
    expect(rows).to_have_count(1)
    expect(page.locator("main")).not_to_contain_text("searched in the last 24 hours")
    page.goto(f"{server.url}/console/traces?project=acme&q=pw")
    expect(page.locator("main")).to_contain_text("shorter than 3 characters is searched in the")
    page.goto(f"{server.url}/console/traces?project=acme&q=window.pwned&range=1h")

    # A trace: its waterfall, with the finding marked on its spans.
    rows.first.locator("a").first.click()
    expect(page.locator("h1")).to_contain_text("invoke_agent planner")
    waterfall = page.locator("table.waterfall tbody tr")
    expect(waterfall).to_have_count(9)
    expect(waterfall.nth(1)).to_contain_text("invoke_agent researcher")  # depth-first order
    expect(page.locator("#span-000000000000000a .finding-mark")).to_contain_text("tool_loop")
    # A span: user content shows as text.
    page.click("text=chat gpt-4o-mini")
    expect(page.locator("h1")).to_contain_text("chat gpt-4o-mini")
    expect(page.locator("section", has_text="Input").locator("pre")).to_contain_text(SCRIPT)
    assert page.evaluate("window.pwned") is None

    # Sessions: the halted one, its graph, its timeline; resume it.
    page.goto(f"{server.url}/console/sessions?project=acme")
    halted_row = page.locator("tr", has_text="chat-1")
    expect(halted_row).to_contain_text("halted")
    halted_row.locator("a").first.click()
    expect(page.locator("#halt")).to_contain_text("Halted")
    graph = page.locator("svg.graph")
    expect(graph.locator("g.node.agent")).to_have_count(2)
    expect(graph.locator("g.node.tool")).to_contain_text("convert")
    expect(graph).to_contain_text("6 \u00d7")
    expect(page.locator("table.waterfall tbody tr")).to_have_count(9)
    page.fill("form[aria-label='Resume the session'] input[name=note]", "checked by hand")
    page.click("form[aria-label='Resume the session'] button")
    expect(page.locator(".notice")).to_contain_text("Session chat-1 resumed")
    expect(page.locator("#halt")).to_have_count(0)
    assert dialogs == ["Let this session's agents go on?"]
    assert seeded.sessions.halts("acme") == []

    # Findings: the list, a finding with its evidence, acknowledge it.
    page.click("nav >> text=Findings")
    expect(page.locator("main table tbody tr")).to_have_count(1)
    page.click("main table >> text=tool_loop")
    expect(page.locator("h1")).to_contain_text("tool_loop")
    evidence = page.locator("main table").last.locator("tbody tr")
    expect(evidence).to_have_count(6)
    expect(evidence.first).to_contain_text(SCRIPT)  # arguments quoted as text
    assert page.evaluate("window.pwned") is None
    forged = page.request.post(
        page.url, form={"csrf_token": "not-the-session-token", "status": "resolved"}
    )
    assert forged.status == 403  # a form from another site cannot act for the signed-in person
    page.fill('form[aria-label="Change the finding\'s status"] input[name=note]', "on it")
    page.click("button:text('Acknowledge')")
    expect(page.locator(".notice")).to_contain_text("Finding acknowledged")
    expect(page.locator("h1")).to_contain_text("acknowledged")
    [finding] = seeded.findings.list("acme")
    assert (finding.status, finding.acknowledged_by) == ("acknowledged", "ops@example.com")
    evidence.first.locator("text=in its trace").click()
    expect(page.locator("table.waterfall")).to_be_visible()

    # Alerts: the finding's incident, acknowledged with it; rules and deliveries.
    page.goto(f"{server.url}/console/findings/alerts")
    expect(page.locator("main table").first).to_contain_text("tool loop by researcher")
    expect(page.locator("main table").first).to_contain_text("acknowledged")
    expect(page.locator("h2", has_text="Webhook deliveries")).to_be_visible()

    # Costs: the chart and the breakdowns.
    page.click("nav >> text=Costs")
    expect(page.locator("svg.chart")).to_be_visible()
    expect(page.locator("section", has_text="By model")).to_contain_text("gpt-4o-mini")
    expect(page.locator("section", has_text="By user")).to_contain_text("ann")
    expect(page.locator("#budgets + table")).to_contain_text("acme daily")


def test_viewer_sees_no_write_controls_and_is_refused(
    page: Page, server: LiveServer, seeded: corral.Client
) -> None:
    path = invite_user(seeded, "vi@example.com")
    user_id = next(u.id for u in seeded.users.list() if u.email == "vi@example.com")
    seeded.projects.set_role("acme", user_id, "viewer")
    page.goto(f"{server.url}{path}")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    [finding] = seeded.findings.list("acme")
    page.goto(f"{server.url}/console/findings/acme/{finding.id}")
    expect(page.locator("h1")).to_contain_text("tool_loop")
    assert page.locator("button:text('Acknowledge')").count() == 0
    assert page.locator("form[aria-label='Resume the session']").count() == 0
    page.goto(f"{server.url}/console/sessions/acme/chat-1")
    expect(page.locator("#halt")).to_contain_text("A member of the project can resume it")
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value") or ""
    refused = page.request.post(
        f"{server.url}/console/findings/acme/{finding.id}",
        form={"csrf_token": csrf, "status": "resolved"},
    )
    assert refused.status == 403
    refused = page.request.post(
        f"{server.url}/console/sessions/acme/chat-1/resume", form={"csrf_token": csrf}
    )
    assert refused.status == 403
    forged = page.request.post(
        f"{server.url}/console/findings/acme/{finding.id}",
        form={"csrf_token": "forged", "status": "resolved"},
    )
    assert forged.status == 403
    assert seeded.findings.get("acme", finding.id).status == "open"
    assert len(seeded.sessions.halts("acme")) == 1


def test_empty_pages_say_what_to_do_and_focus_shows(
    page: Page, server: LiveServer, admin_client: corral.Client
) -> None:
    admin_client.projects.create("quiet")
    sign_in_new(page, server, admin_client, "new@example.com", admin=True)
    for path, advice in (
        ("/console/traces", "Point an OpenTelemetry exporter at /v1/traces"),
        ("/console/traces?project=quiet&agent=nobody", "No traces match these filters"),
        ("/console/sessions", "Sessions appear when spans carry"),
        ("/console/findings", "Detectors run as spans arrive"),
        ("/console/findings/alerts", "metric rules raise alerts here"),
        ("/console/costs", "No spend in this period"),
    ):
        page.goto(f"{server.url}{path}")
        expect(page.locator(".empty").first).to_contain_text(advice)
    # Keyboard users see where they are.
    page.keyboard.press("Tab")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")
    # A page of another project is refused as the API would refuse it.
    page.goto(f"{server.url}/console/traces/nowhere/{'a' * 32}")
    expect(page.locator("main")).to_contain_text("nowhere")
