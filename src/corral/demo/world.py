"""The demo's workspace, set up through the public API and idempotently: every object is
looked up by name first and created only when missing, so running the demo again adds sessions,
not copies of its projects, agents, keys, policies, budgets or versions.

Agent keys cannot be read back from the server (only their hash is kept), so their secrets live
in ``demo.json`` under ``CORRAL_HOME`` (readable by the owner only), like the CLI's saved login.
A saved key that no longer works is revoked and replaced.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2

import corral
from corral.examples.fleet import AGENTS
from corral.schemas.policies import parse_rule

PROVIDER = "demo-llm"
DEMO_USER = "demo@corral.local"
USER_NAME = "Demo Operator"

PROJECTS: dict[str, str] = {
    "acme": "Acme Corp: the web shop's order export API",
    "globex": "Globex: the nightly data pipeline",
    "initech": "Initech: internal reporting tools",
}

GOALS: dict[str, str] = {
    "acme": "Ship cursor pagination for the order export API before the holiday peak.",
    "globex": "Make the nightly backfill reliable: no more manual replays.",
    "initech": "Replace the TPS report generator with a tested service.",
}

MODELS: dict[str, str] = {
    "planner": "gpt-4o-mini",
    "researcher": "gpt-4o-mini",
    "coder": "gpt-4.1-mini",
    "reviewer": "gpt-4o-mini",
}

POLICIES: dict[str, list[str]] = {
    "researcher": ["allow search_docs", "allow fetch_url when url domain_in example.com"],
    "coder": ["allow read_file, edit_file, run_tests, remember"],
    "reviewer": ["allow read_file, run_tests", "allow merge_change when target in staging,release"],
}
"""Tool policies (default deny once an agent has one). The planner uses no tools."""

SESSION_LIMIT_USD = 0.05
"""What one task may spend in globex, where the runaway happens."""


@dataclass
class DemoState:
    """What the demo keeps between runs, in ``demo.json`` under the server's home."""

    path: Path
    admin_key: str | None = None
    agent_keys: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, home: Path) -> DemoState:
        path = home / "demo.json"
        try:
            data = json.loads(path.read_text())
        except (FileNotFoundError, ValueError):
            return cls(path)
        return cls(path, data.get("admin_key"), dict(data.get("agent_keys") or {}))

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump({"admin_key": self.admin_key, "agent_keys": self.agent_keys}, handle)
        os.chmod(self.path, 0o600)


@dataclass(frozen=True)
class DemoWorld:
    """What the fleet needs to run, and what to tell the person who started the demo."""

    url: str
    admin_key: str
    agent_keys: dict[str, str]
    login: str
    password: str | None
    """The demo user's new password, when this run set one (shown once)."""
    created: list[str]
    """The setup objects this run created (empty on a second run)."""


def key_works(url: str, key: str | None) -> bool:
    if not key:
        return False
    try:
        with corral.Client(url=url, api_key=key) as client:
            client.status()
    except corral.CorralError:
        return False
    return True


def build_world(
    admin: corral.Client, state: DemoState, *, fake_url: str, new_password: bool = False
) -> DemoWorld:
    """Create what is missing of the demo's workspace; returns the keys the fleet uses."""
    created: list[str] = []
    _provider(admin, fake_url, created)
    for name, description in PROJECTS.items():
        _project(admin, name, description, created)
    for name, role in AGENTS.items():
        _agent(admin, name, role.description, created)
    for name in AGENTS:
        _version(admin, name, created)
    for name, rules in POLICIES.items():
        _policy(admin, name, rules, created)
    _budgets(admin, created)
    _detectors(admin)
    for project in PROJECTS:
        _memory(admin, project)
    keys = {name: _agent_key(admin, state, name, created) for name in AGENTS}
    password = _demo_user(admin, created, new_password)
    state.save()
    return DemoWorld(
        url=admin.url,
        admin_key=admin.api_key or "",
        agent_keys=keys,
        login=DEMO_USER,
        password=password,
        created=created,
    )


def _provider(admin: corral.Client, fake_url: str, created: list[str]) -> None:
    base_url = f"{fake_url}/v1"
    existing = {p.name: p for p in admin.providers.list()}
    if PROVIDER not in existing:
        admin.providers.add(
            PROVIDER, kind="openai", base_url=base_url, api_key="fake", models=["gpt-*"]
        )
        created.append(f"provider {PROVIDER}")
    elif existing[PROVIDER].base_url != base_url:  # the fake provider listens on a new port
        admin.providers.update(PROVIDER, base_url=base_url)


def _project(admin: corral.Client, name: str, description: str, created: list[str]) -> None:
    try:
        admin.projects.get(name)
    except corral.NotFound:
        admin.projects.create(name, description=description)
        created.append(f"project {name}")


def _agent(admin: corral.Client, name: str, description: str, created: list[str]) -> None:
    try:
        admin.agents.get(name)
    except corral.NotFound:
        admin.agents.create(name, description=description)
        created.append(f"agent {name}")
    for project in PROJECTS:
        members = admin.projects.members(project)
        if not any(m.principal_kind == "agent" and m.principal_name == name for m in members):
            admin.projects.grant_agent(project, name)


def version_config(name: str, **changes: Any) -> dict[str, Any]:
    """An agent's configuration: its model and its own system prompt (what the example's
    class sends), so a version can change either."""
    config: dict[str, Any] = {
        "model": MODELS[name],
        "system_prompt": AGENTS[name].instructions,
        "parameters": {"temperature": 0.2},
        "metadata": {"team": "fleet"},
    }
    config.update(changes)
    return config


def _version(admin: corral.Client, name: str, created: list[str]) -> None:
    if admin.agents.versions(name):
        return
    version = admin.agents.create_version(name, config=version_config(name), note="first version")
    admin.agents.deploy(name, version.number, reason="the demo fleet goes live")
    created.append(f"{name} v{version.number}")


def _policy(admin: corral.Client, agent: str, rules: list[str], created: list[str]) -> None:
    current = admin.policies.get(agent)
    in_force = [r.model_dump() for r in current.rules or []] if current and current.active else []
    if in_force == [parse_rule(r).model_dump() for r in rules]:
        return
    admin.policies.save(agent, rules=rules, note="demo fleet policy")
    created.append(f"policy of {agent}")


def _budgets(admin: corral.Client, created: list[str]) -> None:
    existing = {b.name for b in admin.budgets.list()}
    wanted: list[tuple[str, dict[str, Any]]] = [
        (
            f"{project} monthly",
            {"scope": "project", "project": project, "limit": 25.0, "window": "month"},
        )
        for project in PROJECTS
    ]
    wanted.append(("each agent per day", {"scope": "agent", "limit": 5.0, "window": "day"}))
    wanted.append(
        (
            "globex each task",
            {"scope": "session", "project": "globex", "limit": SESSION_LIMIT_USD},
        )
    )
    for name, options in wanted:
        if name not in existing:
            admin.budgets.create(name, **options)
            created.append(f"budget {name!r}")


def _detectors(admin: corral.Client) -> None:
    # initech halts a session on a critical tool loop; globex caps a session's tokens, so its
    # runaway is a finding as soon as it happens (baselines need ten finished sessions).
    admin.findings.configure("initech", halt_on=["tool_loop"])
    admin.findings.configure("globex", runaway_max_tokens=50_000)


def _memory(admin: corral.Client, project: str) -> None:
    """The client's brief, decisions and constraints (identical items are stored once)."""
    brief = admin.memory.brief(project)
    if not brief.goal:
        admin.memory.update_brief(
            project,
            goal=GOALS[project],
            directory="src/ — the service\ndocs/ — architecture, API, runbook",
        )
    items: list[dict[str, Any]] = [
        {"content": "Use PostgreSQL for all storage.", "kind": "decision", "key": "database"},
        {"content": "Every change ships with unit tests.", "kind": "constraint", "pinned": True},
        {
            "content": "deny edit_file when path prefix migrations/",
            "kind": "constraint",
            "key": "migrations",
        },
        {"content": "The client reviews changes on Fridays.", "kind": "fact"},
    ]
    admin.memory.remember_many(project, items)


def _agent_key(admin: corral.Client, state: DemoState, agent: str, created: list[str]) -> str:
    saved = state.agent_keys.get(agent)
    if saved is not None and key_works(admin.url, saved):
        return saved
    name = f"demo {agent}"
    for stale in admin.keys.list():
        if stale.name == name and stale.revoked_at is None:
            admin.keys.revoke(stale.id)
    key = admin.keys.create(name, agent=agent, projects=list(PROJECTS))
    state.agent_keys[agent] = key.secret
    created.append(f"key {name!r}")
    return key.secret


def _demo_user(admin: corral.Client, created: list[str], new_password: bool) -> str | None:
    user = next((u for u in admin.users.list() if u.email == DEMO_USER), None)
    if user is None:
        user = admin.users.create(DEMO_USER, name=USER_NAME, workspace_admin=True)
        created.append(f"user {DEMO_USER}")
    elif not new_password:
        return None
    password = "-".join(secrets.token_urlsafe(6) for _ in range(3))
    invite = admin.users.invite(user.id, valid_hours=1)
    # Accepting an invitation is what the person would do in the browser; the API answers the
    # same form.
    response = httpx2.post(
        f"{admin.url}/v1/auth/accept-invite",
        json={"token": invite.token, "password": password},
        timeout=30,
    )
    response.raise_for_status()
    return password
