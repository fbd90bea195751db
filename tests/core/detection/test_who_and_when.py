from __future__ import annotations

import json
from pathlib import Path

import pytest

from corral.core.detection.engine import DetectionContext, detect
from corral.core.detection.who_and_when import load_log, load_logs

DATA = Path(__file__).parents[3].parent / "shared" / "data" / "who_and_when"


def test_magentic_one_roles_become_agents_tools_and_handoffs(tmp_path: Path) -> None:
    log = {
        "mistake_agent": "WebSurfer",
        "mistake_step": "2",
        "history": [
            {"role": "human", "content": "Find the cafe."},
            {"role": "Orchestrator (-> WebSurfer)", "content": "Please search for the cafe."},
            {"role": "WebSurfer", "content": "I typed 'cafe near me' into 'Search'.\n\nResults..."},
            {"role": "Orchestrator (thought)", "content": "Next speaker WebSurfer"},
            {"role": "Coder", "content": "```python\nprint(1/0)\n```"},
            {
                "role": "ComputerTerminal",
                "content": "exitcode: 1 (execution failed)\nZeroDivisionError",
            },
        ],
    }
    path = tmp_path / "1.json"
    path.write_text(json.dumps(log))
    loaded = load_log(path)
    assert (loaded.mistake_agent, loaded.mistake_step) == ("WebSurfer", 2)
    spans = {s.step: s for s in loaded.spans}
    assert (spans[1].agent_name, spans[1].handoff_to) == ("Orchestrator", "WebSurfer")
    assert (spans[2].span_type, spans[2].tool_name) == ("tool", "websurfer.type")
    assert json.loads(spans[2].tool_arguments or "{}")["value"] == "cafe near me"
    assert (spans[5].tool_name, spans[5].agent_name) == ("execute_code", "Coder")
    assert json.loads(spans[5].tool_arguments or "{}") == {"code": "print(1/0)"}
    assert loaded.spans[-1].parent_span_id is None


@pytest.mark.skipif(not DATA.exists(), reason="the Who&When logs are outside data, not shipped")
def test_routing_boilerplate_alone_never_makes_a_loop() -> None:
    for log in load_logs(DATA):
        for finding in detect(log.spans, DetectionContext()):
            if finding.type.endswith("loop") or finding.type == "handoff_cycle":
                evidence = [s for s in log.spans if s.span_id in finding.span_ids]
                assert any(
                    s.span_type == "tool" or "next speaker" not in (s.output_text or "").lower()
                    for s in evidence
                ), (log.name, finding)
