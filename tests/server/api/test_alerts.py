from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

import corral
from corral.core.alerts import deliver_webhooks, raise_alert
from corral.core.budget_holds import reserve
from corral.core.budgets import Amounts, CallContext, settle
from corral.core.clock import ManualClock
from corral.core.runtime import Runtime
from tests.live import app_in_thread
from tests.server.world import World, as_key, build_world


class Receiver:
    """A webhook endpoint that records what it gets and fails on demand."""

    def __init__(self) -> None:
        self.received: list[tuple[dict[str, str], bytes]] = []
        self.failures_left = 0

    def app(self) -> Starlette:
        async def hook(request: Request) -> JSONResponse:
            body = await request.body()
            if self.failures_left:
                self.failures_left -= 1
                return JSONResponse({"error": "down"}, status_code=503)
            self.received.append((dict(request.headers), body))
            return JSONResponse({"ok": True})

        return Starlette(routes=[Route("/hook", hook, methods=["POST"])])


@pytest.fixture
def receiver() -> Iterator[tuple[Receiver, str]]:
    target = Receiver()
    with app_in_thread(target.app()) as url:
        yield target, f"{url}/hook"


@pytest.fixture
def world(http: TestClient, admin: corral.Client) -> World:
    return build_world(http, admin)


def alpha_id(world: World) -> int:
    return world.admin.projects.get("alpha").id


def raise_finding(
    runtime: Runtime, project_id: int, key: str = "f1", severity: str = "critical"
) -> None:
    with runtime.db.write() as uow:
        raise_alert(
            uow,
            kind="finding",
            severity=severity,
            key=key,
            title="loop in session s1",
            details={"type": "tool_loop", "agent": "bot"},
            project_id=project_id,
            now=runtime.clock.now(),
        )


def test_signed_delivery_once_per_incident_and_renotify(
    world: World, runtime: Runtime, clock: ManualClock, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    rule = world.admin.alerts.create_rule(
        "loops",
        project="alpha",
        kinds=["finding"],
        match={"types": ["tool_loop"]},
        webhook_url=url,
        renotify_minutes=30,
    )
    assert rule.signing_secret
    raise_finding(runtime, alpha_id(world))
    raise_finding(runtime, alpha_id(world))  # the same incident again: no second notification
    assert deliver_webhooks(runtime) == 1
    headers, body = target.received[0]
    expected = hmac.new(
        rule.signing_secret.encode(),
        headers["x-corral-timestamp"].encode() + b"." + body,
        hashlib.sha256,
    )
    assert headers["x-corral-signature"] == f"sha256={expected.hexdigest()}"
    payload = json.loads(body)
    assert (payload["alert"]["kind"], payload["alert"]["count"]) == ("finding", 1)
    clock.advance(timedelta(minutes=31))
    raise_finding(runtime, alpha_id(world))
    assert deliver_webhooks(runtime) == 1
    assert json.loads(target.received[1][1])["alert"]["count"] == 3
    [alert] = world.admin.alerts.list()
    assert (alert.status, alert.count) == ("open", 3)


def test_failed_deliveries_retry_with_backoff_and_survive_restarts(
    world: World, runtime: Runtime, clock: ManualClock, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    world.admin.alerts.create_rule("all", project="alpha", webhook_url=url)
    target.failures_left = 2
    raise_finding(runtime, alpha_id(world))
    assert deliver_webhooks(runtime) == 0
    [delivery] = world.admin.alerts.deliveries()
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("pending", 1, 503)
    assert deliver_webhooks(runtime) == 0  # not due yet: backing off
    clock.advance(timedelta(seconds=5))
    # A fresh runtime is a restarted server: the outbox is in the database.
    restarted = Runtime(db=runtime.db, settings=runtime.settings, clock=clock)
    assert deliver_webhooks(restarted) == 0  # second failure
    clock.advance(timedelta(seconds=10))
    assert deliver_webhooks(restarted) == 1
    [delivery] = world.admin.alerts.deliveries()
    assert (delivery.status, delivery.attempts) == ("delivered", 3)
    assert len(target.received) == 1


def test_rules_filter_by_kind_severity_and_project(
    world: World, runtime: Runtime, receiver: tuple[Receiver, str]
) -> None:
    _, url = receiver
    world.admin.alerts.create_rule(
        "critical only", kinds=["finding"], match={"min_severity": "critical"}, webhook_url=url
    )
    world.admin.alerts.create_rule("beta only", project="beta", webhook_url=url)
    raise_finding(runtime, alpha_id(world), key="w", severity="warning")
    raise_finding(runtime, alpha_id(world), key="c", severity="critical")
    assert deliver_webhooks(runtime) == 1


def test_budget_thresholds_raise_alerts(
    world: World, runtime: Runtime, receiver: tuple[Receiver, str]
) -> None:
    target, url = receiver
    world.admin.alerts.create_rule("budgets", kinds=["budget_threshold"], webhook_url=url)
    world.admin.budgets.create(
        "alpha", scope="project", project="alpha", limit=1.0, thresholds=[50]
    )
    with runtime.db.write() as uow:
        held = reserve(
            uow,
            CallContext(project_id=alpha_id(world)),
            Amounts(600_000_000, 0),
            now=runtime.clock.now(),
        )
        settle(uow, held.id, Amounts(600_000_000, 0), now=runtime.clock.now())
    assert deliver_webhooks(runtime) == 1
    alert: dict[str, Any] = json.loads(target.received[0][1])["alert"]
    assert alert["kind"] == "budget_threshold"
    assert "reached 50%" in alert["title"]


def test_acknowledge_resolve_and_visibility(
    world: World, runtime: Runtime, http: TestClient
) -> None:
    raise_finding(runtime, alpha_id(world))
    member = as_key(http, world.member_key)
    [alert] = member.alerts.list()
    assert member.alerts.acknowledge(alert.id).status == "acknowledged"
    assert member.alerts.resolve(alert.id).resolved_at is not None
    assert as_key(http, world.other_project_key).alerts.list() == []
    with pytest.raises(corral.Forbidden):
        as_key(http, world.viewer_key).alerts.resolve(alert.id)
    raise_finding(runtime, alpha_id(world))  # raised again: the incident reopens
    assert member.alerts.list()[0].status == "open"
