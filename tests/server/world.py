"""A small populated workspace for API tests: two projects, users of each role, an agent."""

from __future__ import annotations

from dataclasses import dataclass, field

from fastapi.testclient import TestClient

import corral
from tests.conftest import client_for


@dataclass
class World:
    admin: corral.Client
    viewer_id: int
    member_id: int
    other_id: int
    viewer_key: str
    member_key: str
    project_admin_key: str
    other_project_key: str
    agent_key: str
    ids: dict[str, str] = field(default_factory=dict)  # path parameters a test filled in


def build_world(http: TestClient, admin: corral.Client) -> World:
    """Projects alpha and beta; in alpha a viewer, a member, a project admin and agent ``bot``;
    in beta only user ``other``."""
    admin.projects.create("alpha", description="first")
    admin.projects.create("beta", description="second")
    ids = {}
    keys = {}
    for email, project, role in [
        ("viewer@example.com", "alpha", "viewer"),
        ("member@example.com", "alpha", "member"),
        ("padmin@example.com", "alpha", "admin"),
        ("other@example.com", "beta", "member"),
    ]:
        user = admin.users.create(email)
        admin.projects.set_role(project, user.id, role)
        ids[email] = user.id
        keys[email] = admin.keys.create(f"{email} key", user_id=user.id).secret
    admin.agents.create("bot", description="does things")
    admin.projects.grant_agent("alpha", "bot")
    agent_key = admin.keys.create("bot key", agent="bot", projects=["alpha"]).secret
    return World(
        admin=admin,
        viewer_id=ids["viewer@example.com"],
        member_id=ids["member@example.com"],
        other_id=ids["other@example.com"],
        viewer_key=keys["viewer@example.com"],
        member_key=keys["member@example.com"],
        project_admin_key=keys["padmin@example.com"],
        other_project_key=keys["other@example.com"],
        agent_key=agent_key,
    )


def as_key(http: TestClient, key: str) -> corral.Client:
    return client_for(http, key)
