"""The fake provider speaks the real client libraries' protocols."""

from __future__ import annotations

from collections.abc import Iterator

import anthropic
import httpx2
import openai
import pytest

from corral.testing.fake_llm import FakeLLM, FakeResponse, FakeRule, FakeScript, create_fake_llm
from tests.live import app_in_thread

SCRIPT = FakeScript(
    rules=[
        FakeRule(
            match="weather",
            respond=FakeResponse(
                tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo"}}]
            ),
        ),
        FakeRule(
            match="explode", respond=FakeResponse(error={"status": 503, "message": "overloaded"})
        ),
        FakeRule(
            match="hello",
            respond=FakeResponse(
                content="Hi there, friend.", usage={"input_tokens": 11, "output_tokens": 4}
            ),
        ),
    ]
)


@pytest.fixture(scope="module")
def fake() -> FakeLLM:
    return FakeLLM(SCRIPT)


@pytest.fixture(scope="module")
def url(fake: FakeLLM) -> Iterator[str]:
    with app_in_thread(create_fake_llm(fake)) as running:
        yield running


def test_openai_chat_plain_streaming_and_tools(url: str, fake: FakeLLM) -> None:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-test")
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "hello"}]
    )
    assert reply.choices[0].message.content == "Hi there, friend."
    assert (reply.usage.prompt_tokens, reply.usage.completion_tokens) == (11, 4)

    stream = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "hello"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert (
        "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        == "Hi there, friend."
    )
    assert chunks[-1].usage.completion_tokens == 4

    tools = client.chat.completions.create(
        model="gpt-4o-mini",
        messages=[{"role": "user", "content": "what is the weather"}],
        tools=[
            {
                "type": "function",
                "function": {"name": "get_weather", "parameters": {"type": "object"}},
            }
        ],
    )
    call = tools.choices[0].message.tool_calls[0]
    assert (call.function.name, call.function.arguments) == ("get_weather", '{"city": "Oslo"}')
    assert tools.choices[0].finish_reason == "tool_calls"
    assert fake.requests[-1]["headers"]["authorization"] == "Bearer sk-test"


def test_openai_errors_and_embeddings(url: str) -> None:
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-test", max_retries=0)
    with pytest.raises(openai.APIStatusError) as err:
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "explode"}])
    assert err.value.status_code == 503
    vectors = client.embeddings.create(model="text-embedding-3-small", input=["a", "b", "a"])
    assert len(vectors.data) == 3
    assert vectors.data[0].embedding == vectors.data[2].embedding != vectors.data[1].embedding


def test_anthropic_messages_plain_streaming_and_tools(url: str) -> None:
    client = anthropic.Anthropic(base_url=url, api_key="sk-ant-test")
    reply = client.messages.create(
        model="claude-sonnet-4-6", max_tokens=100, messages=[{"role": "user", "content": "hello"}]
    )
    assert reply.content[0].text == "Hi there, friend."
    assert (reply.usage.input_tokens, reply.usage.output_tokens) == (11, 4)
    with client.messages.stream(
        model="claude-sonnet-4-6",
        max_tokens=100,
        messages=[{"role": "user", "content": "weather?"}],
    ) as stream:
        final = stream.get_final_message()
    assert final.stop_reason == "tool_use"
    assert final.content[0].input == {"city": "Oslo"}


def test_queue_and_recorded_requests(url: str, fake: FakeLLM) -> None:
    httpx2.delete(f"{url}/_fake/requests")
    httpx2.post(f"{url}/_fake/responses", json=[{"content": "first"}, {"content": "second"}])
    client = openai.OpenAI(base_url=f"{url}/v1", api_key="k")
    said = [
        client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hello"}])
        .choices[0]
        .message.content
        for _ in range(3)
    ]
    assert said == ["first", "second", "Hi there, friend."]
    recorded = httpx2.get(f"{url}/_fake/requests").json()
    assert len(recorded) == 3
    assert recorded[0]["body"]["model"] == "m"
    bad = httpx2.post(f"{url}/_fake/responses", json={"contents": "typo"})
    assert bad.status_code == 400


def test_rules_can_key_on_the_conversation_and_count_turns() -> None:
    script = FakeScript.from_dict(
        {
            "rules": [
                {
                    "context": r"\[mode:loop\]",
                    "respond": {"tool_calls": [{"name": "step", "arguments": {"n": "{turn}"}}]},
                },
                {"respond": {"content": "turn {turn}"}},
            ]
        }
    )
    fake = FakeLLM(script)
    first = fake.choose("go", "m", conversation="system\n[mode:loop]\ngo", turn=1)
    third = fake.choose("result", "m", conversation="system\n[mode:loop]\nresult", turn=3)
    assert first.tool_calls == [{"name": "step", "arguments": {"n": "1"}}]
    assert third.tool_calls == [{"name": "step", "arguments": {"n": "3"}}]
    assert fake.choose("go", "m", conversation="plain", turn=2).content == "turn 2"
    assert script.rules[1].respond.content == "turn {turn}"  # the script itself is unchanged


def test_the_turn_counts_assistant_messages_over_http(url: str, fake: FakeLLM) -> None:
    fake.script = FakeScript.from_dict({"rules": [{"respond": {"content": "answer {turn}"}}]})
    try:
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="sk-test")
        messages = [
            {"role": "user", "content": "a"},
            {"role": "assistant", "content": "b"},
            {"role": "user", "content": "c"},
        ]
        reply = client.chat.completions.create(model="gpt-4o-mini", messages=messages)
        assert reply.choices[0].message.content == "answer 2"
    finally:
        fake.script = SCRIPT
