"""Gateway calls settled, recorded and judged from a process of their own (``corral serve``)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator

import openai
import pytest
from fastapi.testclient import TestClient

from corral.core import gateway_recorder
from corral.core.gateway_recorder import CallRecorder, running_recorder
from corral.core.runtime import Runtime
from corral.server.app import create_app
from tests.server.gateway.harness import Setup, spans
from tests.server.gateway.test_detection import history


@pytest.fixture
def replica(runtime: Runtime) -> Iterator[Runtime]:
    """A second replica on the same database that records its calls in the background."""
    settings = runtime.settings.model_copy(update={"gateway_record_delay_ms": 5})
    rt = Runtime.from_settings(settings, clock=runtime.clock)
    yield rt
    rt.db.dispose()


def _client(setup: Setup, http: TestClient, session: str) -> openai.OpenAI:
    return openai.OpenAI(
        base_url="http://testserver/v1",
        api_key=setup.agent_key,
        http_client=http,
        max_retries=0,
        default_headers={"x-corral-session": session},
    )


def _ask(client: openai.OpenAI) -> None:
    client.chat.completions.create(
        model="gpt-4o-mini", max_tokens=100, messages=[{"role": "user", "content": "hi"}]
    )


def _recorder(rt: Runtime) -> CallRecorder:
    recorder = running_recorder(rt)
    assert recorder is not None
    assert recorder.process is not None
    return recorder


def _record_process_pid(recorder: CallRecorder) -> int:
    assert recorder.process is not None
    pid = recorder.process.process.pid
    assert pid is not None
    return pid


def test_calls_are_settled_recorded_and_judged_by_the_record_process(
    setup: Setup, replica: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    budget = setup.admin.budgets.create("b", scope="agent", subject="support", limit=10.0)
    setup.admin.findings.configure("shop", halt_on=["tool_loop"])
    with TestClient(create_app(runtime=replica, record_process=True)) as http:
        recorder = _recorder(replica)
        # Nothing is written from this process: the record process writes, or nothing does.
        monkeypatch.setattr(gateway_recorder, "write_recorded", _refuse)
        monkeypatch.setattr(gateway_recorder, "record_calls", _refuse)
        client = _client(setup, http, "s-1")
        _ask(client)
        _ask(client)
        assert recorder.wait_idle(30)
        [usage] = setup.admin.budgets.usage(budget.id)
        assert (usage.reserved, usage.spent > 0) == (0, True)
        assert len(spans(setup, "s-1", at_least=2)) == 2
        # Its detectors judge the sessions it records: a loop halts the session here.
        looping = _client(setup, http, "loopy")
        looping.chat.completions.create(
            model="gpt-4o-mini", messages=history("lookup_order", {"order": 42}, 6)
        )
        assert recorder.wait_idle(30)
        deadline = time.monotonic() + 30
        while not setup.admin.findings.list("shop", type="tool_loop"):
            assert time.monotonic() < deadline, "the looping session was not judged"
            time.sleep(0.05)
        with pytest.raises(openai.ConflictError, match="halted"):
            _ask(looping)
        _ask(client)  # queued when the replica shuts down: written before it stops
    assert len(spans(setup, "s-1", at_least=3)) == 3


def test_a_batch_is_written_here_when_the_record_process_dies(
    setup: Setup, replica: Runtime
) -> None:
    with TestClient(create_app(runtime=replica, record_process=True)) as http:
        recorder = _recorder(replica)
        first = _record_process_pid(recorder)
        os.kill(first, signal.SIGKILL)
        client = _client(setup, http, "s-2")
        _ask(client)
        assert recorder.wait_idle(30)
        assert len(spans(setup, "s-2", at_least=1)) == 1  # written by this process
        _ask(client)
        assert recorder.wait_idle(30)
        assert len(spans(setup, "s-2", at_least=2)) == 2
        assert _record_process_pid(recorder) != first  # a new process wrote the next one


def _refuse(*_: object) -> None:
    raise AssertionError("written from the server process")
