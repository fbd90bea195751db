"""OTLP ingest and the trace query API, over ASGI, on every database."""

from __future__ import annotations

import gzip

import pytest
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceResponse
from sqlalchemy import select

import corral
from corral.core import traces
from corral.core.keys import authenticate
from corral.core.runtime import Runtime
from corral.core.span_store import StoredBatch
from corral.db.schema import AuditEventRow
from corral.schemas.observability import SpanSummary
from tests.conftest import bearer
from tests.server.otlp_helpers import (
    export,
    post_json,
    post_protobuf,
    span,
    span_id_hex,
    to_otlp_json,
    trace_id_hex,
)
from tests.server.world import World, build_world


@pytest.fixture
def world(http: TestClient, admin: corral.Client) -> World:
    return build_world(http, admin)


def agent_run(trace: int, *, session: str = "s1", error: bool = False) -> list:
    """An agent step with a chat call and a tool call; ids 1..3 offset by the trace number."""
    base = trace * 10
    return [
        span(
            trace,
            base + 1,
            name="invoke_agent planner",
            duration_ms=100,
            gen_ai__operation__name="invoke_agent",
            gen_ai__agent__name="planner",
            gen_ai__conversation__id=session,
            user__id="u-7",
        ),
        span(
            trace,
            base + 2,
            base + 1,
            name="chat gpt-4o",
            start_ms=5,
            duration_ms=40,
            gen_ai__operation__name="chat",
            gen_ai__request__model="gpt-4o",
            gen_ai__provider__name="openai",
            gen_ai__usage__input_tokens=1000,
            gen_ai__usage__output_tokens=200,
            gen_ai__input__messages="find the refund policy",
        ),
        span(
            trace,
            base + 3,
            base + 1,
            name="execute_tool search",
            start_ms=50,
            duration_ms=20,
            error="timeout" if error else None,
            gen_ai__operation__name="execute_tool",
            gen_ai__tool__name="search",
            gen_ai__tool__call__arguments='{"q": "refund"}',
        ),
    ]


def test_protobuf_export_is_stored_normalized_and_costed(
    http: TestClient, world: World, admin: corral.Client
) -> None:
    response = post_protobuf(http, world.agent_key, export(*agent_run(1)))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/x-protobuf"
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert not answer.HasField("partial_success")

    listed = admin.traces.list("alpha")
    assert [t.trace_id for t in listed] == [trace_id_hex(1)]
    trace = listed[0]
    assert trace.name == "invoke_agent planner"
    assert (trace.span_count, trace.llm_calls, trace.error_count) == (3, 1, 0)
    assert (trace.session_id, trace.user_id, trace.agent_name) == ("s1", "u-7", "planner")
    assert trace.input_tokens == 1000
    assert trace.output_tokens == 200
    assert trace.cost_usd == pytest.approx(1000 * 2.5e-6 + 200 * 10e-6)

    tree = admin.traces.get("alpha", trace_id_hex(1))
    assert [(s.name, s.depth) for s in tree.spans] == [
        ("invoke_agent planner", 0),
        ("chat gpt-4o", 1),
        ("execute_tool search", 1),
    ]
    chat, tool = tree.spans[1], tree.spans[2]
    assert (chat.span_type, chat.model, chat.provider) == ("llm", "gpt-4o", "openai")
    assert chat.price_version
    assert chat.price_version.startswith("genai-prices==")
    # Trace-level fields are copied onto every row.
    assert {(s.session_id, s.user_id, s.agent_name) for s in tree.spans} == {
        ("s1", "u-7", "planner")
    }
    assert (tool.span_type, tool.tool_name, tool.tool_arguments) == (
        "tool",
        "search",
        '{"q": "refund"}',
    )
    detail = admin.traces.span("alpha", trace_id_hex(1), span_id_hex(12))
    assert detail.input_text == "find the refund policy"
    assert detail.attributes["gen_ai.usage.input_tokens"] == 1000
    assert detail.resource == {"service.name": "test-agent"}


def test_trace_body_is_the_models_own_serialization(
    runtime: Runtime, http: TestClient, world: World
) -> None:
    """The tree's JSON is written without a model per span: it must still be exactly what the
    model would write, for every kind of value a span holds."""
    spans = [
        *agent_run(5, error=True),
        span(
            5,
            60,
            52,
            name='chat \u00e9t\u00e9 \U0001f600 <b>"quoted"</b>\n\t',
            start_ms=7,
            duration_ms=3,
            gen_ai__operation__name="chat",
            gen_ai__request__model="claude-sonnet-4",
            gen_ai__usage__input_tokens=3,
            gen_ai__usage__cache_read_input_tokens=1,
        ),
        span(5, 61, 999, name="orphan: its parent never arrived", start_ms=1, duration_ms=0),
    ]
    spans[-1].start_time_unix_nano += 123_456  # sub-millisecond start
    assert post_protobuf(http, world.agent_key, export(*spans)).status_code == 200

    response = http.get(
        f"/v1/projects/alpha/traces/{trace_id_hex(5)}", headers=bearer(world.agent_key)
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    model = traces.get_trace(
        runtime, authenticate(runtime, world.agent_key), "alpha", trace_id_hex(5)
    )
    assert response.content == model.model_dump_json().encode()
    assert len(model.spans) == 5
    assert {s.depth for s in model.spans} == {0, 1, 2}
    assert set(model.spans[0].model_fields_set) >= set(SpanSummary.model_fields) - {"depth"}


def test_nul_in_exported_text_is_kept_as_a_replacement_character(
    http: TestClient, world: World, admin: corral.Client
) -> None:
    """Telemetry holding NUL is stored, not refused: PostgreSQL cannot store the character, so
    both databases keep U+FFFD in its place, in columns and raw attributes alike."""
    chat = span(
        7,
        71,
        name="chat\u0000gpt-4o",
        error="failed\u0000here",
        gen_ai__operation__name="chat",
        gen_ai__request__model="gpt-4o",
        gen_ai__input__messages="before\u0000after",
        **{"odd\u0000key": "v", "list": ["x\u0000"]},
    )
    event = chat.events.add()
    event.name = "retry\u0000"
    response = post_protobuf(http, world.agent_key, export(chat, host="h\u0000"))
    assert response.status_code == 200, response.text

    [stored] = admin.traces.get("alpha", trace_id_hex(7)).spans
    assert (stored.name, stored.error_message) == ("chat\ufffdgpt-4o", "failed\ufffdhere")
    detail = admin.traces.span("alpha", trace_id_hex(7), span_id_hex(71))
    assert detail.input_text == "before\ufffdafter"
    assert detail.attributes["odd\ufffdkey"] == "v"
    assert detail.attributes["list"] == ["x\ufffd"]
    assert detail.events is not None
    assert detail.events[0]["name"] == "retry\ufffd"
    assert detail.resource == {"service.name": "test-agent", "host": "h\ufffd"}


def test_json_export_with_hex_ids_and_gzip(
    http: TestClient, world: World, admin: corral.Client
) -> None:
    document = to_otlp_json(export(*agent_run(2)))
    assert document["resourceSpans"][0]["scopeSpans"][0]["spans"][0]["traceId"] == trace_id_hex(2)
    response = post_json(http, world.agent_key, document)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {}
    gz = post_protobuf(http, world.agent_key, export(*agent_run(3)), compress=True)
    assert gz.status_code == 200, gz.text
    assert {t.trace_id for t in admin.traces.list("alpha")} == {trace_id_hex(2), trace_id_hex(3)}


def test_retried_export_is_not_counted_twice(
    http: TestClient, world: World, admin: corral.Client
) -> None:
    for _ in range(2):
        assert post_protobuf(http, world.agent_key, export(*agent_run(4))).status_code == 200
    (trace,) = admin.traces.list("alpha")
    assert trace.span_count == 3
    assert len(admin.traces.get("alpha", trace.trace_id).spans) == 3
    assert admin.sessions.get("alpha", "s1").span_count == 3


def test_spans_of_one_trace_in_several_exports_roll_up(
    http: TestClient, world: World, admin: corral.Client
) -> None:
    root, chat, tool = agent_run(5, error=True)
    # Children usually end, and are exported, before their root.
    post_protobuf(http, world.agent_key, export(chat))
    post_protobuf(http, world.agent_key, export(tool))
    early = admin.traces.list("alpha")[0]
    assert early.root_span_id is None
    assert early.span_count == 2
    post_protobuf(http, world.agent_key, export(root))
    (trace,) = admin.traces.list("alpha")
    assert trace.root_span_id == span_id_hex(51)
    assert trace.name == "invoke_agent planner"
    assert (trace.span_count, trace.error_count, trace.status) == (3, 1, "error")
    assert trace.duration_ms == pytest.approx(100)
    tree = admin.traces.get("alpha", trace.trace_id)
    assert tree.spans[2].error_message == "timeout"


def test_project_from_resource_attribute(
    http: TestClient, world: World, admin: corral.Client
) -> None:
    response = post_protobuf(http, world.member_key, export(*agent_run(6), project="alpha"))
    assert response.status_code == 200, response.text
    assert len(admin.traces.list("alpha")) == 1


def test_project_is_required_when_the_key_reaches_several(http: TestClient, world: World) -> None:
    response = post_protobuf(http, world.admin.api_key or "", export(*agent_run(7)))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "project_required"


def test_unknown_or_forbidden_project_is_refused(http: TestClient, world: World) -> None:
    unknown = post_protobuf(http, world.agent_key, export(*agent_run(8), project="nope"))
    assert unknown.status_code == 403
    assert unknown.json()["error"]["code"] == "project_access_denied"
    other = post_protobuf(http, world.agent_key, export(*agent_run(8), project="beta"))
    assert other.status_code == 403
    viewer = post_protobuf(http, world.viewer_key, export(*agent_run(8), project="alpha"))
    assert viewer.status_code == 403
    assert viewer.json()["error"]["code"] == "permission_denied"
    admin_unknown = post_protobuf(
        http, world.admin.api_key or "", export(*agent_run(8), project="nope")
    )
    assert admin_unknown.status_code == 404


def test_partial_success_names_what_was_rejected(
    http: TestClient, world: World, admin: corral.Client
) -> None:
    request = export(*agent_run(9), project="alpha")
    refused = request.resource_spans.add()
    refused.CopyFrom(export(*agent_run(10), project="beta").resource_spans[0])
    response = post_protobuf(http, world.member_key, request)
    assert response.status_code == 200
    answer = ExportTraceServiceResponse.FromString(response.content)
    assert answer.partial_success.rejected_spans == 3
    assert "beta" in answer.partial_success.error_message
    assert [t.trace_id for t in admin.traces.list("alpha")] == [trace_id_hex(9)]

    bad_id = export(span(11, 1), span(0, 2), project="alpha")
    document = post_protobuf(http, world.member_key, bad_id)
    answer = ExportTraceServiceResponse.FromString(document.content)
    assert answer.partial_success.rejected_spans == 1


@pytest.mark.parametrize(
    ("body", "headers", "status", "code"),
    [
        (
            b"\xff\xff\xff garbage",
            {"content-type": "application/x-protobuf"},
            400,
            "malformed_otlp",
        ),
        (b"{not json", {"content-type": "application/json"}, 400, "malformed_json"),
        (b"[1, 2]", {"content-type": "application/json"}, 400, "malformed_otlp"),
        (
            b'{"resourceSpans": [{"scopeSpans": [{"spans": [{"traceId": "zz"}]}]}]}',
            {"content-type": "application/json"},
            400,
            "malformed_otlp",
        ),
        (
            b"not gzip at all",
            {"content-type": "application/x-protobuf", "content-encoding": "gzip"},
            400,
            "malformed_compression",
        ),
        (
            gzip.compress(b"x", mtime=0)[:-4],
            {"content-type": "application/x-protobuf", "content-encoding": "gzip"},
            400,
            "malformed_compression",
        ),
        (b"", {"content-type": "text/plain"}, 400, "unsupported_content_type"),
        (
            b"",
            {"content-type": "application/x-protobuf", "content-encoding": "br"},
            400,
            "unsupported_content_encoding",
        ),
    ],
)
def test_bad_exports_get_a_400_and_the_server_keeps_serving(
    http: TestClient, world: World, body: bytes, headers: dict[str, str], status: int, code: str
) -> None:
    response = http.post("/v1/traces", content=body, headers={**bearer(world.agent_key), **headers})
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert post_protobuf(http, world.agent_key, export(*agent_run(12))).status_code == 200


def test_oversized_exports_get_413(runtime: Runtime, http: TestClient, world: World) -> None:
    limit = runtime.settings.otlp_max_decoded_bytes
    bomb = gzip.compress(b"\0" * (limit + 10))
    response = http.post(
        "/v1/traces",
        content=bomb,
        headers={
            **bearer(world.agent_key),
            "content-type": "application/x-protobuf",
            "content-encoding": "gzip",
        },
    )
    assert response.status_code == 413
    assert response.json()["error"]["details"]["limit_bytes"] == limit
    too_big = b"\0" * (runtime.settings.max_request_bytes + 1)
    response = http.post(
        "/v1/traces",
        content=too_big,
        headers={**bearer(world.agent_key), "content-type": "application/x-protobuf"},
    )
    assert response.status_code == 413


def test_filters_search_and_pagination(
    http: TestClient, world: World, admin: corral.Client
) -> None:
    for trace in range(20, 26):
        run = agent_run(trace, session=f"s{trace % 2}", error=trace == 25)
        for item in run:
            item.start_time_unix_nano += trace * 1_000_000_000
            item.end_time_unix_nano += trace * 1_000_000_000
        post_protobuf(http, world.agent_key, export(*run))
    everything = admin.traces.list("alpha")
    assert [t.trace_id for t in everything] == [trace_id_hex(t) for t in range(25, 19, -1)]
    page = admin.traces.page("alpha", limit=4)
    assert len(page.data) == 4
    assert page.next_cursor
    rest = admin.traces.page("alpha", limit=4, cursor=page.next_cursor)
    assert [t.trace_id for t in page.data + rest.data] == [t.trace_id for t in everything]
    assert [t.trace_id for t in admin.traces.list("alpha", status="error")] == [trace_id_hex(25)]
    assert len(admin.traces.list("alpha", session="s0")) == 3
    assert len(admin.traces.list("alpha", model="gpt-4o")) == 6
    assert admin.traces.list("alpha", model="claude") == []
    assert len(admin.traces.list("alpha", search="REFUND POLICY")) == 6
    assert admin.traces.list("alpha", search="50%_") == []
    assert len(admin.traces.list("alpha", agent="planner", user="u-7")) == 6
    assert len(admin.traces.list("alpha", since="2026-01-01T00:00:23Z")) == 3
    with pytest.raises(corral.InvalidRequest):
        admin.traces.page("alpha", cursor="garbage!")


def test_sessions_timeline_graph_and_metrics(
    http: TestClient, world: World, admin: corral.Client
) -> None:
    post_protobuf(http, world.agent_key, export(*agent_run(30, session="chat-1")))
    post_protobuf(http, world.agent_key, export(*agent_run(31, session="chat-1", error=True)))
    # A handoff: the planner's step starts a "writer" agent, which calls a tool.
    post_protobuf(
        http,
        world.agent_key,
        export(
            span(
                32,
                1,
                name="invoke_agent planner",
                gen_ai__agent__name="planner",
                gen_ai__operation__name="invoke_agent",
                gen_ai__conversation__id="chat-1",
            ),
            span(
                32,
                2,
                1,
                name="invoke_agent writer",
                start_ms=1,
                gen_ai__agent__name="writer",
                gen_ai__operation__name="invoke_agent",
            ),
            span(32, 3, 2, name="execute_tool save", start_ms=2, gen_ai__tool__name="save"),
        ),
    )
    (session,) = admin.sessions.list("alpha")
    assert (session.session_id, session.span_count, session.error_count) == ("chat-1", 9, 1)
    assert session.llm_calls == 2
    assert session.agent_name == "planner"
    timeline = admin.sessions.timeline("alpha", "chat-1")
    assert len(timeline) == 9
    assert [s.start_time for s in timeline] == sorted(s.start_time for s in timeline)

    graph = admin.sessions.graph("alpha", "chat-1")
    edges = {(e.source, e.target, e.kind): e.count for e in graph.edges}
    assert edges == {
        ("agent:planner", "tool:search", "tool_call"): 2,
        ("agent:planner", "agent:writer", "handoff"): 1,
        ("agent:writer", "tool:save", "tool_call"): 1,
    }
    assert {n.id for n in graph.nodes} == {
        "agent:planner",
        "agent:writer",
        "tool:search",
        "tool:save",
    }
    writer = admin.traces.handoff_graph(
        "alpha", agent="writer", since="2026-01-01T00:00:00Z", until="2026-01-02T00:00:00Z"
    )
    assert {(e.source, e.target) for e in writer.edges} == {
        ("agent:planner", "agent:writer"),
        ("agent:writer", "tool:save"),
    }

    metrics = admin.traces.metrics(
        projects=["alpha"],
        group_by="model",
        interval="hour",
        since="2025-12-31T23:00:00Z",
        until="2026-01-01T02:00:00Z",
    )
    (point,) = metrics.points
    assert (point.group, point.calls, point.errors) == ("gpt-4o", 2, 0)
    assert point.input_tokens == 2000
    assert point.latency_p95_ms == pytest.approx(40)
    tools = admin.traces.metrics(
        group_by="project",
        span_type="tool",
        since="2025-12-31T23:00:00Z",
        until="2026-01-01T02:00:00Z",
    )
    (point,) = tools.points
    assert (point.group, point.calls, point.errors) == ("alpha", 3, 1)


def test_listeners_see_committed_spans(runtime: Runtime, http: TestClient, world: World) -> None:
    seen: list[StoredBatch] = []
    runtime.span_listeners.append(seen.append)
    runtime.span_listeners.append(lambda batch: 1 / 0)  # a broken listener changes nothing
    assert post_protobuf(http, world.agent_key, export(*agent_run(40))).status_code == 200
    assert post_protobuf(http, world.agent_key, export(*agent_run(40))).status_code == 200
    assert [len(b.spans) for b in seen] == [3]  # the retry stored nothing new
    assert seen[0].spans[0].session_id == "s1"


def test_purge_is_for_admins_and_audited(
    runtime: Runtime, http: TestClient, world: World, admin: corral.Client
) -> None:
    post_protobuf(http, world.agent_key, export(*agent_run(50, session="old")))
    post_protobuf(http, world.agent_key, export(*agent_run(51, session="keep")))
    member = corral.Client(url="http://testserver", api_key=world.member_key, http_client=http)
    with pytest.raises(corral.Forbidden):
        member.traces.purge("alpha", session_id="old")
    result = admin.traces.purge("alpha", session_id="old")
    assert (result.traces_deleted, result.spans_deleted, result.sessions_deleted) == (1, 3, 1)
    assert [t.session_id for t in admin.traces.list("alpha")] == ["keep"]
    with pytest.raises(corral.NotFound):
        admin.traces.get("alpha", trace_id_hex(50))
    with pytest.raises(corral.InvalidRequest):
        admin.traces.purge("alpha")
    with runtime.db.read() as uow:
        (event,) = uow.scalars(select(AuditEventRow).where(AuditEventRow.action == "traces.purge"))
        assert (event.project_name, event.details["session_id"]) == ("alpha", "old")
        assert event.details["spans_deleted"] == 3
