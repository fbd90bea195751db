"""Screenshots of every console page, for the docs.

    python scripts/screenshots.py                       # a fresh server with demo data
    python scripts/screenshots.py --url http://localhost:8000 --email me@example.com \\
        --password '...' --project acme                 # an instance you already run

Without ``--url`` it starts ``corral serve`` on a temporary home, fills it through the public
API (OTLP traces of a few agents, a session that loops and is halted, budgets, memory items),
creates a workspace administrator and signs in. Pages are opened in Debian's Chromium through
Playwright at 1280 px and saved as ``docs/images/console-<page>.png``. Pages this build does not
have are skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx2
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span, Status

from corral.core.otlp import encode_key_values
from corral.testing.traces import TraceShape, agent_trace_request

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "images"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
EMAIL, PASSWORD = "operator@example.com", "screenshots password"


@contextmanager
def demo_server() -> Iterator[tuple[str, str]]:
    """``corral serve`` on a free port and a temporary home; yields its URL and admin key."""
    with tempfile.TemporaryDirectory(prefix="corral-shots-") as scratch:
        home = Path(scratch)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        env = {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_")}
        env.update(
            CORRAL_HOME=str(home),
            CORRAL_CONFIG=str(home / "cli.json"),
            CORRAL_DETECTION_MODE="inline",
            CORRAL_LOG_LEVEL="warning",
        )
        process = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
            [sys.executable, "-m", "corral.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx2.get(f"{url}/readyz", timeout=2).status_code == 200:
                        break
                except httpx2.TransportError:
                    pass
                if time.monotonic() > deadline or process.poll() is not None:
                    raise SystemExit("the server did not start")
                time.sleep(0.2)
            yield url, json.loads((home / "cli.json").read_text())["api_key"]
        finally:
            process.send_signal(signal.SIGTERM)
            process.wait(30)


def _span(trace: int, number: int, parent: int | None, at_ns: int, **attributes: Any) -> Span:
    error = attributes.pop("error", None)
    return Span(
        trace_id=trace.to_bytes(16, "big"),
        span_id=number.to_bytes(8, "big"),
        parent_span_id=parent.to_bytes(8, "big") if parent else b"",
        name=str(attributes.pop("name")),
        start_time_unix_nano=at_ns,
        end_time_unix_nano=at_ns + int(attributes.pop("ms", 40)) * 1_000_000,
        attributes=encode_key_values({k.replace("__", "."): v for k, v in attributes.items()}),
        status=Status(code=Status.STATUS_CODE_ERROR, message=error)
        if error
        else Status(code=Status.STATUS_CODE_UNSET),
    )


def looping_session(start_ns: int) -> list[Span]:
    """A planner hands work to a researcher and back, and the researcher loops on a tool."""
    common = {"gen_ai__conversation__id": "refund-4711", "user__id": "ann@example.com"}
    spans = [
        _span(
            0xDE40,
            1,
            None,
            start_ns,
            name="invoke_agent planner",
            ms=9000,
            gen_ai__operation__name="invoke_agent",
            gen_ai__agent__name="planner",
            **common,
        )
    ]
    number, at = 2, start_ns
    for step in range(4):
        agent = ("researcher", "writer")[step % 2]
        agent_id = number
        spans.append(
            _span(
                0xDE40,
                agent_id,
                1,
                at,
                name=f"invoke_agent {agent}",
                ms=2000,
                gen_ai__operation__name="invoke_agent",
                gen_ai__agent__name=agent,
                **common,
            )
        )
        number += 1
        spans.append(
            _span(
                0xDE40,
                number,
                agent_id,
                at + 10**8,
                name="chat gpt-4o",
                ms=900,
                gen_ai__operation__name="chat",
                gen_ai__request__model="gpt-4o",
                gen_ai__usage__input_tokens=2400,
                gen_ai__usage__output_tokens=350,
                gen_ai__agent__name=agent,
                **common,
            )
        )
        number += 1
        for call in range(3 if agent == "researcher" else 1):
            spans.append(
                _span(
                    0xDE40,
                    number,
                    agent_id,
                    at + (2 + call) * 10**8,
                    name="execute_tool order_lookup",
                    ms=120,
                    gen_ai__operation__name="execute_tool",
                    gen_ai__tool__name="order_lookup",
                    gen_ai__tool__call__arguments='{"order": 4711}',
                    gen_ai__tool__call__result=f'{{"status": "pending", "n": {call}}}',
                    gen_ai__agent__name=agent,
                    **common,
                )
            )
            number += 1
        at += 2 * 10**9
    return spans


def send(url: str, key: str, request: ExportTraceServiceRequest) -> None:
    response = httpx2.post(
        f"{url}/v1/traces",
        content=request.SerializeToString(),
        headers={"authorization": f"Bearer {key}", "content-type": "application/x-protobuf"},
        timeout=60,
    )
    response.raise_for_status()


def populate(url: str, key: str) -> str:
    """Demo data through the public API; returns the project's name."""
    api = httpx2.Client(
        base_url=f"{url}/v1",
        headers={"authorization": f"Bearer {key}"},
        event_hooks={"response": [lambda r: r.raise_for_status()]},
    )
    api.post("/projects", json={"name": "support", "description": "Customer support agents"})
    for name, description in (("support-bot", "Answers tickets"), ("planner", "Plans refunds")):
        api.post("/agents", json={"name": name, "description": description})
        api.put(f"/projects/support/members/agents/{name}", json={"role": "member"})
    api.patch("/projects/support/detector-settings", json={"set": {"halt_on": ["tool_loop"]}})
    api.post(
        "/budgets",
        json={
            "name": "support monthly",
            "scope": "project",
            "project": "support",
            "limit": 50,
            "window": "month",
            "thresholds": [50, 80],
        },
    )
    api.post(
        "/budgets",
        json={
            "name": "per agent daily",
            "scope": "agent",
            "project": "support",
            "limit": 2,
            "window": "day",
        },
    )
    now = time.time_ns()
    hour = 3600 * 10**9
    for batch in range(24):
        shape = TraceShape(
            project="support", agent="support-bot", user=f"user-{batch % 5}", sessions=40
        )
        send(
            url,
            key,
            agent_trace_request(12, shape=shape, seed=batch, start_ns=now - (24 - batch) * hour),
        )
    request = ExportTraceServiceRequest()
    group = request.resource_spans.add()
    group.resource.attributes.extend(
        encode_key_values({"service.name": "refunds", "corral.project": "support"})
    )
    group.scope_spans.add().spans.extend(looping_session(now - 20 * 60 * 10**9))
    send(url, key, request)
    for content in (
        "Refunds above 500 EUR need a manager's approval.",
        "The order service is slow on Mondays; retry once, not more.",
        "<script>alert('memory items are shown as text')</script>",
    ):
        api.post("/projects/support/memory/items", json={"content": content, "kind": "constraint"})
    user = api.post("/users", json={"email": EMAIL, "workspace_admin": True}).json()
    token = api.post(f"/users/{user['id']}/invite", json={}).json()["token"]
    httpx2.post(f"{url}/v1/auth/accept-invite", json={"token": token, "password": PASSWORD})
    return "support"


def pages(url: str, project: str) -> dict[str, str]:
    """Page name -> path; trace, span, session and finding pages are found by following links."""
    return {
        "overview": "/console/",
        "traces": f"/console/traces?project={project}",
        "trace": "",
        "span": "",
        "sessions": f"/console/sessions?project={project}",
        "session": "",
        "costs": "/console/costs",
        "findings": f"/console/findings?project={project}",
        "finding": "",
        "alerts": "/console/findings/alerts",
        "memory": "/console/memory",
        "memory-project": "",
        "agents": "/console/agents",
        "agent": "",
        "audit": "/console/audit",
        "settings": "/console/settings",
    }


def _first_link(page: Any, selector: str) -> str:
    links = page.locator(selector)
    return (links.first.get_attribute("href") or "") if links.count() else ""


def shoot(
    url: str, email: str, password: str, project: str, agent: str | None, out: Path
) -> list[str]:
    from playwright.sync_api import sync_playwright

    out.mkdir(parents=True, exist_ok=True)
    saved = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=["--no-sandbox", "--disable-gpu"]
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(f"{url}/console/login")
        page.fill("input[name=email]", email)
        page.fill("input[name=password]", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{url}/console/**")
        found: dict[str, str] = {}
        for name, path in pages(url, project).items():
            path = path or found.get(name, "")
            if not path:
                continue
            response = page.goto(f"{url}{path}")
            if response is None or response.status == 404:
                print(f"skipped {name}: not in this build", file=sys.stderr)
                continue
            if name == "traces":
                found["trace"] = (
                    page.locator("main table tbody a").first.get_attribute("href") or ""
                )
            if name == "trace":
                links = page.locator("table.waterfall a[href*='/spans/']")
                found["span"] = links.nth(min(2, links.count() - 1)).get_attribute("href") or ""
            if name == "sessions":
                found["session"] = _first_link(page, "main table tr:has-text('halted') a") or (
                    _first_link(page, "main table tbody a")
                )
            if name == "memory":
                found["memory-project"] = _first_link(page, "main table tbody a")
            if name == "agents":
                found["agent"] = (
                    f"/console/agents/{agent}"
                    if agent
                    else _first_link(page, "main table tbody a[href^='/console/agents/']")
                )
            if name == "findings":
                first = page.locator("main table a[href^='/console/findings/']").first
                found["finding"] = first.get_attribute("href") or "" if first.count() else ""
            target = out / f"console-{name}.png"
            page.screenshot(path=str(target), full_page=True)
            saved.append(
                str(target.relative_to(REPO)) if target.is_relative_to(REPO) else str(target)
            )
        browser.close()
    return saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", help="A running Corral (default: start one with demo data).")
    parser.add_argument("--email", default=EMAIL)
    parser.add_argument("--password", default=PASSWORD)
    parser.add_argument("--project", default="support", help="Project whose pages to show.")
    parser.add_argument("--agent", help="Agent whose page to show (default: the first).")
    parser.add_argument("--out", type=Path, default=OUT, help="Where to write the PNG files.")
    args = parser.parse_args()
    if args.url:
        saved = shoot(
            args.url.rstrip("/"), args.email, args.password, args.project, args.agent, args.out
        )
    else:
        with demo_server() as (url, key):
            project = populate(url, key)
            saved = shoot(url, EMAIL, PASSWORD, project, args.agent, args.out)
    print("\n".join(saved))


if __name__ == "__main__":
    main()
