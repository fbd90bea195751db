"""The gateway with the real openai and anthropic clients, against the fake provider."""

from __future__ import annotations

import json

import openai
import pytest

from corral.testing.fake_llm import FakeResponse
from tests.live import free_port
from tests.server.gateway.harness import Setup, spans


def test_openai_chat_is_forwarded_costed_and_recorded(setup: Setup) -> None:
    client = setup.openai()
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.choices[0].message.content == "Sunny and mild."
    sent = setup.upstream()[-1]
    assert sent["headers"]["authorization"] == "Bearer sk-upstream"  # never the Corral key
    assert sent["body"]["max_completion_tokens"] == 4096  # worst case made explicit
    [span] = [s for s in spans(setup, "s-1") if s.span_type == "llm"]
    assert (span.agent_name, span.model, span.input_tokens, span.output_tokens) == (
        "support",
        "gpt-4o-mini",
        1200,
        300,
    )
    assert span.cost_usd == pytest.approx(1200 * 0.15e-6 + 300 * 0.6e-6)


def test_openai_streaming_and_embeddings(setup: Setup) -> None:
    client = setup.openai()
    chunks = list(
        client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "hi"}], stream=True
        )
    )
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "Sunny and mild."
    )
    assert all(c.choices for c in chunks)  # the usage chunk Corral asked for is not passed on
    vectors = client.embeddings.create(model="gpt-embed", input=["a", "b"])
    assert len(vectors.data) == 2
    kinds = sorted(s.span_type for s in spans(setup, "s-1", at_least=2))
    assert kinds == ["embedding", "llm"]
    streamed = next(s for s in spans(setup, "s-1") if s.span_type == "llm")
    assert streamed.output_tokens == 300


def test_anthropic_plain_and_streaming(setup: Setup) -> None:
    client = setup.anthropic()
    reply = client.messages.create(
        model="claude-sonnet-4-6", max_tokens=200, messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.content[0].text == "Sunny and mild."
    assert setup.upstream()[-1]["headers"]["x-api-key"] == "sk-ant-upstream"
    with client.messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=200,
        messages=[{"role": "user", "content": "weather?"}],
    ) as stream:
        final = stream.get_final_message()
    assert final.content[0].input == {"city": "Oslo"}
    llm = [s for s in spans(setup, "s-2", at_least=2) if s.span_type == "llm"]
    assert len(llm) == 2
    assert all(s.cost_usd and s.cost_usd > 0 for s in llm)


def test_budget_refusal_is_typed_and_not_retried(setup: Setup) -> None:
    setup.admin.budgets.create("tiny", scope="agent", subject="support", limit=0.0005)
    client = openai.OpenAI(
        base_url="http://testserver/v1", api_key=setup.agent_key, http_client=setup.http
    )  # default retries on
    before = len(setup.upstream())
    with pytest.raises(openai.RateLimitError) as err:
        client.chat.completions.create(
            model="gpt-4o-mini", max_tokens=2000, messages=[{"role": "user", "content": "hi"}]
        )
    error = err.value.body
    assert isinstance(error, dict)
    assert error["code"] == "budget_exceeded"
    assert error["details"]["budget"]["name"] == "tiny"
    assert err.value.response.headers["x-should-retry"] == "false"
    assert len(setup.upstream()) == before  # refused before anything reached the provider


def test_tool_policy_hides_tools_and_refuses_calls(setup: Setup) -> None:
    setup.admin.policies.save(
        "support", rules=["allow search", 'allow get_weather when city == "Paris"']
    )
    tools = [
        {"type": "function", "function": {"name": n, "parameters": {"type": "object"}}}
        for n in ("search", "get_weather", "delete_user")
    ]
    client = setup.openai()
    with pytest.raises(openai.PermissionDeniedError) as err:
        client.chat.completions.create(
            model="gpt-4o-mini",
            tools=tools,
            messages=[{"role": "user", "content": "weather in Oslo?"}],
        )
    assert isinstance(err.value.body, dict)
    assert err.value.body["code"] == "tool_call_denied"
    assert err.value.body["details"]["tool"] == "get_weather"
    offered = [t["function"]["name"] for t in setup.upstream()[-1]["body"]["tools"]]
    assert offered == ["search", "get_weather"]  # delete_user is never offered
    with pytest.raises(openai.APIError, match=r"tool_call_denied|may not call"):
        list(
            client.chat.completions.create(
                model="gpt-4o-mini",
                tools=tools,
                stream=True,
                messages=[{"role": "user", "content": "weather?"}],
            )
        )
    decisions = setup.admin.audit.list(action="tool.authorize")
    assert {(d.outcome, d.details["via"]) for d in decisions} == {("denied", "gateway")}


def test_tool_results_become_tool_spans_and_traceparent_joins(setup: Setup) -> None:
    # A plain HTTP call: an OpenTelemetry instrumentation of the openai client (other tests
    # install one) would put its own traceparent on the request.
    response = setup.http.post(
        "/v1/chat/completions",
        headers={
            "authorization": f"Bearer {setup.agent_key}",
            "x-corral-session": "s-1",
            "traceparent": "00-" + "ab" * 16 + "-" + "cd" * 8 + "-01",
        },
        json={
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "user", "content": "weather?"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {
                                "name": "get_weather",
                                "arguments": json.dumps({"city": "Oslo"}),
                            },
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": '{"error": "no station"}'},
            ],
        },
    )
    assert response.status_code == 200, response.text
    recorded = spans(setup, "s-1", at_least=2)
    summary = next(s for s in recorded if s.span_type == "tool")
    tool = setup.admin.traces.span("shop", summary.trace_id, summary.span_id)
    assert (tool.tool_name, tool.tool_result) == ("get_weather", '{"error": "no station"}')
    assert {s.trace_id for s in recorded} == {"ab" * 16}
    assert {s.parent_span_id for s in recorded} == {"cd" * 8}


def test_upstream_errors_pass_through_and_release(setup: Setup) -> None:
    setup.admin.budgets.create("b", scope="agent", subject="support", limit=5)
    with pytest.raises(openai.InternalServerError) as err:
        setup.openai().chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "explode"}]
        )
    assert err.value.status_code == 503
    [usage] = setup.admin.budgets.usage(setup.admin.budgets.list()[0].id)
    assert (usage.spent, usage.reserved) == (0.0, 0.0)


def test_unreachable_and_slow_providers_are_told_apart_and_release(setup: Setup) -> None:
    budget = setup.admin.budgets.create("b", scope="agent", subject="support", limit=5)
    setup.admin.providers.add(
        "gone", kind="openai", base_url=f"http://127.0.0.1:{free_port()}/v1", models=["gone-*"]
    )
    setup.admin.providers.add(
        "slow", kind="openai", base_url=f"{setup.fake_url}/v1", models=["slow-*"]
    )
    setup.admin.providers.update("slow", timeout_seconds=0.2)
    setup.fake.queue.append(FakeResponse(content="late", latency_ms=2000))
    client = setup.openai()
    with pytest.raises(openai.APIStatusError) as gone:
        client.chat.completions.create(model="gone-1", messages=[{"role": "user", "content": "x"}])
    with pytest.raises(openai.APIStatusError) as slow:
        client.chat.completions.create(model="slow-1", messages=[{"role": "user", "content": "x"}])
    assert (gone.value.status_code, slow.value.status_code) == (502, 504)
    assert isinstance(gone.value.body, dict)
    assert isinstance(slow.value.body, dict)
    assert (gone.value.body["code"], slow.value.body["code"]) == (
        "upstream_unreachable",
        "upstream_timeout",
    )
    [usage] = setup.admin.budgets.usage(budget.id)
    assert (usage.spent, usage.reserved) == (0.0, 0.0)  # both holds released


def test_unknown_model_and_missing_project_are_clear(setup: Setup, admin_key: str) -> None:
    with pytest.raises(openai.NotFoundError) as err:
        setup.openai().chat.completions.create(
            model="llama-9", messages=[{"role": "user", "content": "x"}]
        )
    assert "no openai provider serves model 'llama-9'" in str(err.value)
    admin = openai.OpenAI(
        base_url="http://testserver/v1", api_key=admin_key, http_client=setup.http, max_retries=0
    )
    with pytest.raises(openai.UnprocessableEntityError, match="X-Corral-Project"):
        admin.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": "x"}]
        )
    bad = setup.http.post(
        "/v1/chat/completions",
        content=b"{not json",
        headers={"authorization": f"Bearer {setup.agent_key}"},
    )
    assert (bad.status_code, bad.json()["error"]["code"]) == (400, "malformed_json")


def test_agent_version_is_applied(setup: Setup) -> None:
    agents = setup.admin.agents
    agents.create_version(
        "support",
        config={
            "model": "gpt-4o",
            "system_prompt": "Be brief.",
            "parameters": {"temperature": 0.1},
        },
    )
    agents.deploy("support", 1)
    setup.openai().chat.completions.create(
        model="gpt-3.5-turbo", messages=[{"role": "user", "content": "hi"}]
    )
    sent = setup.upstream()[-1]["body"]
    assert (sent["model"], sent["temperature"]) == ("gpt-4o", 0.1)
    assert sent["messages"][0] == {"role": "system", "content": "Be brief."}
    llm = next(s for s in spans(setup, "s-1") if s.span_type == "llm")
    assert (llm.model, llm.agent_version) == ("gpt-4o", "1")


def test_text_holding_nul_is_forwarded_and_recorded_storable(setup: Setup) -> None:
    """A prompt or tool result may hold NUL: the call goes through, and its spans keep the text
    with U+FFFD in its place (PostgreSQL cannot store NUL)."""
    response = setup.http.post(
        "/v1/chat/completions",
        headers={"authorization": f"Bearer {setup.agent_key}", "x-corral-session": "s-nul"},
        json={
            "model": "gpt-4o-mini",
            "messages": [
                {"role": "user", "content": "read\u0000this"},
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "call_1",
                            "type": "function",
                            "function": {"name": "cat", "arguments": '{"path": "a\\u0000b"}'},
                        }
                    ],
                },
                {"role": "tool", "tool_call_id": "call_1", "content": "bytes\u0000here"},
            ],
        },
    )
    assert response.status_code == 200, response.text
    assert setup.upstream()[-1]["body"]["messages"][0]["content"] == "read\u0000this"
    recorded = spans(setup, "s-nul", at_least=2)
    tool_summary = next(s for s in recorded if s.span_type == "tool")
    llm_summary = next(s for s in recorded if s.span_type == "llm")
    tool = setup.admin.traces.span("shop", tool_summary.trace_id, tool_summary.span_id)
    llm = setup.admin.traces.span("shop", llm_summary.trace_id, llm_summary.span_id)
    assert tool.tool_result == "bytes\ufffdhere"
    assert llm.input_text is not None
    assert "\x00" not in llm.input_text
    assert "read\\u0000this" in llm.input_text  # the messages as JSON: escaped, not replaced


def test_gateway_refusals_before_the_call_look_like_every_other_route(setup: Setup) -> None:
    body = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "x"}]}
    anonymous = setup.http.post("/v1/chat/completions", json=body)
    assert anonymous.status_code == 401
    assert anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.json()["error"]["code"] == "missing_credentials"
    assert anonymous.headers["x-request-id"] == anonymous.json()["error"]["request_id"]
    nul = setup.http.post(
        "/v1/messages?x=%00",
        json=body,
        headers={"authorization": f"Bearer {setup.agent_key}"},
    )
    assert (nul.status_code, nul.json()["error"]["code"]) == (422, "invalid_text")
    wrong_method = setup.http.get(
        "/v1/chat/completions", headers={"authorization": f"Bearer {setup.agent_key}"}
    )
    assert wrong_method.status_code == 405
