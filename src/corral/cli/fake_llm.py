"""``corral fake-llm``: a local OpenAI- and Anthropic-compatible model server."""

from __future__ import annotations

import json
from pathlib import Path

import click


@click.command("fake-llm")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", type=int, default=8700, show_default=True, help="Port to listen on.")
@click.option(
    "--script",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON script of rules ({rules: [{match, model, respond}], latency_ms}).",
)
@click.option("--latency-ms", type=float, help="Delay before every answer (overrides the script).")
def fake_llm(host: str, port: int, script: Path | None, latency_ms: float | None) -> None:
    """Run a fake LLM provider for tests and demos: OpenAI chat completions and embeddings,
    Anthropic messages, streaming, tool calls and usage figures, answers scripted by rules."""
    import uvicorn

    from corral.testing.fake_llm import FakeLLM, FakeScript, create_fake_llm

    plan = FakeScript.from_dict(json.loads(script.read_text())) if script else FakeScript()
    if latency_ms is not None:
        plan.latency_ms = latency_ms
    app = create_fake_llm(FakeLLM(plan))
    click.echo(f"Fake LLM on http://{host}:{port}/v1 (OpenAI) and http://{host}:{port} (Anthropic)")
    uvicorn.run(app, host=host, port=port, log_level="warning")
