"""What every agent of the fleet does: ask the model through Corral's gateway, run the tools it
asks for, send the results back, until it answers.

Two lines make an ordinary ``openai`` agent a managed one: its client points at Corral
(``base_url``) with the agent's Corral key, and each request names the project, session and user
it works for. Corral then picks the agent's deployed version, enforces its tool policy and
budgets, records the call and the tool results as spans, and can halt a session that went wrong.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

import openai
from opentelemetry import propagate

import corral
from corral.examples.fleet.tools import TOOL_SPECS, Workspace


@dataclass(frozen=True)
class Assignment:
    """Where an agent works: a project, a session (one task of the team) and the person the
    work is for."""

    project: str
    session: str
    user: str | None = None


class Refused(Exception):
    """Corral refused one of the agent's calls: a budget is spent (``budget_exceeded``), a
    detector halted the session (``session_halted``), the model asked for a tool the agent may
    not use (``tool_call_denied``), …"""

    def __init__(self, agent: str, code: str, message: str) -> None:
        super().__init__(f"{agent}: {code}: {message}")
        self.agent = agent
        self.code = code
        self.message = message

    @classmethod
    def from_api_error(cls, agent: str, error: openai.APIStatusError) -> Refused:
        body = error.body if isinstance(error.body, dict) else {}
        code = str(body.get("code") or f"http_{error.status_code}")
        return cls(agent, code, str(body.get("message") or error.message))


class FleetAgent:
    """One role of the team: a system prompt, a model, the tools it may ask for."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    instructions: ClassVar[str]
    model: ClassVar[str] = "gpt-4o-mini"
    tools: ClassVar[tuple[str, ...]] = ()
    max_steps: ClassVar[int] = 10
    """Model calls per piece of work: the agent's own guard against running forever."""
    max_tokens: ClassVar[int] = 400

    def __init__(self, *, url: str, api_key: str, workspace: Workspace | None = None) -> None:
        self.corral = corral.Client(url=url, api_key=api_key)
        self.llm = openai.OpenAI(base_url=f"{url}/v1", api_key=api_key, max_retries=0)
        self.workspace = workspace or Workspace()

    def close(self) -> None:
        self.corral.close()
        self.llm.close()

    def run(self, job: Assignment, request: str) -> str:
        """Do one piece of work, as an agent span in the task's trace (a handoff when another
        agent's span is open)."""
        with corral.agent(self.name):
            return self.work(job, request)

    def work(self, job: Assignment, request: str) -> str:
        """What the role does with a request; by default, a conversation with tools."""
        return self.converse(job, request)

    def converse(self, job: Assignment, request: str) -> str:
        """Ask the model; run each tool it calls and answer it, until it replies in words."""
        messages: list[Any] = [
            {"role": "system", "content": self.instructions},
            {"role": "user", "content": request},
        ]
        for _ in range(self.max_steps):
            message = self.complete(job, messages)
            if not message.tool_calls:
                return message.content or ""
            messages.append(message.model_dump(exclude_none=True))
            for call in message.tool_calls:
                if call.type != "function":
                    continue
                result = self.use_tool(job, call.function.name, call.function.arguments)
                messages.append({"role": "tool", "tool_call_id": call.id, "content": result})
        return f"{self.name} stopped after {self.max_steps} model calls without an answer."

    def complete(self, job: Assignment, messages: list[Any]) -> Any:
        """One model call through the gateway; a refusal becomes :class:`Refused`."""
        specs: list[Any] = [TOOL_SPECS[name] for name in self.tools]
        try:
            reply = self.llm.chat.completions.create(
                model=self.model,
                messages=messages,
                tools=specs or openai.omit,
                max_tokens=self.max_tokens,
                extra_headers=self.headers(job),
            )
        except openai.APIStatusError as exc:
            raise Refused.from_api_error(self.name, exc) from exc
        return reply.choices[0].message

    def headers(self, job: Assignment) -> dict[str, str]:
        """Who the call is for, and the trace it belongs to (so the gateway's span joins the
        agent's own spans in one trace)."""
        headers = {"X-Corral-Project": job.project, "X-Corral-Session": job.session}
        if job.user:
            headers["X-Corral-User"] = job.user
        propagate.inject(headers)  # traceparent of the current span
        return headers

    def use_tool(self, job: Assignment, name: str, arguments: str) -> str:
        """Run a tool the model asked for. The gateway already checked it against the agent's
        policy; memory tools go to Corral, the rest to the workspace."""
        try:
            args = json.loads(arguments or "{}")
        except ValueError:
            return "Could not read the arguments: send JSON."
        if name == "remember":
            return self.remember(job, args)
        return self.workspace.run(name, args)

    def remember(self, job: Assignment, args: dict[str, Any]) -> str:
        """Write to the project's memory. A decision that contradicts an active one is refused
        by Corral (409) unless superseded on purpose; the model hears why."""
        try:
            result = self.corral.memory.remember(
                job.project,
                str(args.get("content", "")),
                kind=str(args.get("kind", "note")),
                key=args.get("key"),
                session=job.session,
            )
        except corral.Conflict as conflict:
            return f"Not recorded: {conflict.message}"
        return f"Remembered as item {result.item.id} ({result.outcome})."
