"""Findings through the real path: OTLP ingest, the detection worker, the REST API and the SDK."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from sqlalchemy import select

import corral
from corral.core.detection.live import running_detector
from corral.core.runtime import Runtime
from corral.db.schema import AlertRow, AuditEventRow
from tests.conftest import bearer
from tests.server.otlp_helpers import export, post_protobuf, span, span_id_hex, trace_id_hex
from tests.server.world import World, build_world


@pytest.fixture
def world(http: TestClient, admin: corral.Client) -> World:
    return build_world(http, admin)


def call(trace: int, number: int, *, session: str = "chat-1", tool: str = "convert") -> Span:
    """The agent's tool call number ``number`` in a session: the same call every time."""
    return span(
        trace,
        number,
        name=f"execute_tool {tool}",
        start_ms=number,
        gen_ai__operation__name="execute_tool",
        gen_ai__tool__name=tool,
        gen_ai__tool__call__arguments='{"amount": 5, "to": "EUR"}',
        gen_ai__tool__call__result=f"{number} EUR",
        gen_ai__conversation__id=session,
        gen_ai__agent__name="bot",
    )


def send(http: TestClient, key: str, runtime: Runtime, *spans: Span) -> None:
    """Export spans over OTLP and wait until the detector has judged them."""
    response = post_protobuf(http, key, export(*spans))
    assert response.status_code == 200, response.text
    detector = running_detector(runtime)
    assert detector is not None
    assert detector.wait_idle(30)


def test_findings_appear_after_ingest_and_are_not_duplicated(
    http: TestClient, world: World, runtime: Runtime
) -> None:
    admin = world.admin
    send(http, world.agent_key, runtime, call(1, 1), call(1, 2))
    assert admin.findings.list("alpha") == []
    send(http, world.agent_key, runtime, call(1, 3))
    [finding] = admin.findings.list("alpha")
    assert (finding.type, finding.severity, finding.status) == ("tool_loop", "warning", "open")
    assert (finding.agent, finding.session_id, finding.trace_id) == (
        "bot",
        "chat-1",
        trace_id_hex(1),
    )
    assert finding.span_ids == [span_id_hex(n) for n in (1, 2, 3)]
    assert finding.step == 2
    assert finding.step_span_id == span_id_hex(3)
    assert "convert with the same arguments 3 times" in finding.explanation
    # The next batch of the same session updates the finding instead of adding one.
    send(http, world.agent_key, runtime, call(1, 4))
    [again] = admin.findings.list("alpha")
    assert again.id == finding.id
    assert len(again.span_ids) == 4
    # One incident for the finding, routed like any alert.
    incidents = [a for a in admin.alerts.list() if a.kind == "finding"]
    assert [(a.key, a.count) for a in incidents] == [(f"finding:{finding.id}", 1)]
    assert incidents[0].details["type"] == "tool_loop"
    detail = admin.findings.get("alpha", finding.id)
    assert [s.span_id for s in detail.evidence] == [span_id_hex(n) for n in (1, 2, 3, 4)]
    assert detail.evidence[0].tool_result == "1 EUR"


def test_findings_filters_and_pages(http: TestClient, world: World, runtime: Runtime) -> None:
    for trace, session in ((1, "a"), (2, "b"), (3, "c")):
        spans = [call(trace, trace * 10 + n, session=session) for n in range(3)]
        send(http, world.agent_key, runtime, *spans)
    admin = world.admin
    assert len(admin.findings.list("alpha")) == 3
    assert [f.session_id for f in admin.findings.list("alpha", session="b")] == ["b"]
    assert admin.findings.list("alpha", type="refetch") == []
    assert admin.findings.list("alpha", agent="someone-else") == []
    page = admin.findings.page("alpha", limit=2)
    assert len(page.data) == 2
    assert page.next_cursor
    rest = admin.findings.page("alpha", limit=2, cursor=page.next_cursor)
    assert {f.id for f in page.data} | {f.id for f in rest.data} == {1, 2, 3}
    assert admin.findings.list("alpha", status="open", severity="warning", limit=10)
    response = http.get(
        "/v1/projects/alpha/findings", params={"type": "nonsense"}, headers=bearer(world.agent_key)
    )
    assert response.status_code == 422


def test_acknowledge_and_resolve_are_audited_and_follow_the_alert(
    http: TestClient, world: World, runtime: Runtime
) -> None:
    send(http, world.agent_key, runtime, *(call(1, n) for n in range(1, 4)))
    admin = world.admin
    [finding] = admin.findings.list("alpha")
    member = corral.Client(url="http://testserver", api_key=world.member_key, http_client=http)
    acked = member.findings.acknowledge("alpha", finding.id, note="looking")
    assert (acked.status, acked.acknowledged_by) == ("acknowledged", "member@example.com")
    [incident] = [a for a in admin.alerts.list() if a.kind == "finding"]
    assert incident.status == "acknowledged"
    resolved = member.findings.resolve("alpha", finding.id)
    assert (resolved.status, resolved.resolved_by) == ("resolved", "member@example.com")
    [incident] = [a for a in admin.alerts.list() if a.kind == "finding"]
    assert incident.status == "resolved"
    assert member.findings.reopen("alpha", finding.id).status == "open"
    viewer = corral.Client(url="http://testserver", api_key=world.viewer_key, http_client=http)
    assert viewer.findings.get("alpha", finding.id).id == finding.id
    with pytest.raises(corral.Forbidden):
        viewer.findings.resolve("alpha", finding.id)
    with pytest.raises(corral.NotFound) as missing:
        admin.findings.get("alpha", 999)
    assert missing.value.code == "finding_not_found"
    with pytest.raises(corral.NotFound):
        admin.findings.get("beta", finding.id)  # another project's id is not there
    with runtime.db.read() as uow:
        actions = list(uow.scalars(select(AuditEventRow.action)))
    assert {"finding.acknowledge", "finding.resolve", "finding.reopen"} <= set(actions)


def test_a_halted_session_is_refused_until_a_person_resumes_it(
    http: TestClient, world: World, runtime: Runtime
) -> None:
    admin = world.admin
    view = admin.findings.configure("alpha", halt_on=["tool_loop"])
    assert view.effective.halt_on == ["tool_loop"]
    agent = corral.Client(url="http://testserver", api_key=world.agent_key, http_client=http)
    assert agent.sessions.check("alpha", "chat-1").halted is False
    send(http, world.agent_key, runtime, *(call(1, n) for n in range(1, 7)))  # 6x: critical
    [finding] = admin.findings.list("alpha", type="tool_loop")
    assert finding.severity == "critical"
    with pytest.raises(corral.SessionHalted) as halted:
        agent.sessions.check("alpha", "chat-1")
    error = halted.value
    assert (error.code, error.status) == ("session_halted", 409)
    assert error.details["finding_id"] == finding.id
    assert f"finding {finding.id} (tool_loop)" in error.message
    assert "corral sessions resume alpha chat-1" in error.message
    [halt] = admin.sessions.halts("alpha")
    assert (halt.session_id, halt.finding_id, halt.resumed_at) == ("chat-1", finding.id, None)
    viewer = corral.Client(url="http://testserver", api_key=world.viewer_key, http_client=http)
    with pytest.raises(corral.Forbidden):
        viewer.sessions.resume("alpha", "chat-1")
    member = corral.Client(url="http://testserver", api_key=world.member_key, http_client=http)
    resumed = member.sessions.resume("alpha", "chat-1", note="false alarm")
    assert (resumed.resumed_by, resumed.resume_note) == ("member@example.com", "false alarm")
    assert agent.sessions.check("alpha", "chat-1").halted is False
    assert admin.sessions.halts("alpha") == []
    assert len(admin.sessions.halts("alpha", resumed=True)) == 1
    with pytest.raises(corral.Conflict) as twice:
        member.sessions.resume("alpha", "chat-1")
    assert twice.value.code == "session_not_halted"
    with runtime.db.read() as uow:
        actions = list(uow.scalars(select(AuditEventRow.action)))
    assert {"detector_settings.update", "session.halt", "session.resume"} <= set(actions)


def test_detector_settings_are_checked_and_inherited(http: TestClient, world: World) -> None:
    admin = world.admin
    defaults = admin.findings.settings("alpha")
    assert defaults.overrides == {}
    assert defaults.effective.loop_repeats == 3
    admin.findings.configure("alpha", loop_repeats=5, halt_on=["runaway"])
    agent_view = admin.findings.configure("alpha", agent="bot", loop_repeats=2)
    assert agent_view.overrides == {"loop_repeats": 2}
    assert (agent_view.effective.loop_repeats, agent_view.effective.halt_on) == (2, ["runaway"])
    assert admin.findings.settings("alpha").agents_with_overrides == ["bot"]
    back = admin.findings.configure("alpha", agent="bot", unset=["loop_repeats"])
    assert back.effective.loop_repeats == 5
    problems: list[dict[str, Any]] = [
        {"set": {"loop_repeats": 1}},
        {"set": {"halt_on": ["not_a_type"]}},
        {"set": {"no_such_setting": 1}},
        {"unset": ["no_such_setting"]},
    ]
    for body in problems:
        response = http.patch(
            "/v1/projects/alpha/detector-settings",
            json=body,
            headers=bearer(world.admin.api_key or ""),
        )
        assert response.status_code == 422, body
        assert response.json()["error"]["code"] in ("invalid_detector_settings", "unknown_setting")
    member = corral.Client(url="http://testserver", api_key=world.member_key, http_client=http)
    with pytest.raises(corral.Forbidden):
        member.findings.configure("alpha", loop_repeats=4)  # project admins only


def test_purging_a_session_forgets_its_findings(
    http: TestClient, world: World, runtime: Runtime
) -> None:
    send(http, world.agent_key, runtime, *(call(1, n) for n in range(1, 4)))
    admin = world.admin
    assert len(admin.findings.list("alpha")) == 1
    admin.traces.purge("alpha", session_id="chat-1")
    assert admin.findings.list("alpha") == []
    with runtime.db.read() as uow:
        alert = uow.scalars(select(AlertRow).where(AlertRow.kind == "finding")).one()
    assert alert.key.startswith("finding:")  # the incident stays, for the record
