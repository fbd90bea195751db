"""``corral.Client`` and ``corral.AsyncClient``: the REST API as Python methods.

Both clients read ``CORRAL_URL`` and ``CORRAL_API_KEY`` when they are not given. Every method
raises a :class:`~corral.errors.CorralError` subclass carrying the server's code and message.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import httpx2

from corral.schemas.access import Permission, Role
from corral.schemas.common import Page
from corral.schemas.keys import ApiKey, ApiKeyCreated
from corral.schemas.status import Status
from corral.schemas.tenancy import Agent, Membership, Project, User
from corral.sdk import _operations as ops
from corral.sdk._calls import Call, default_headers, read_response, resolve_settings
from corral.sdk.memory import AsyncMemory, Memory

T = TypeVar("T")


class Client:
    """Synchronous client of a Corral server.

    Args:
        url: Server address; defaults to ``CORRAL_URL``, then ``http://127.0.0.1:8600``.
        api_key: A ``crl_…`` key; defaults to ``CORRAL_API_KEY``.
        timeout: Seconds to wait for the server.
        http_client: An ``httpx2.Client`` to send requests with (its base URL is not used).
    """

    def __init__(
        self,
        *,
        url: str | None = None,
        api_key: str | None = None,
        timeout: float = 30.0,
        http_client: httpx2.Client | None = None,
    ) -> None:
        self.url, self.api_key = resolve_settings(url, api_key)
        self._http = http_client or httpx2.Client(timeout=timeout)
        self._owns_http = http_client is None
        self._headers = default_headers(self.api_key)
        self.projects = Projects(self)
        self.agents = Agents(self)
        self.users = Users(self)
        self.keys = Keys(self)
        self.memory = Memory(self)

    def call(self, call: Call[T]) -> T:
        """Send one prepared call and read its answer."""
        response = self._http.request(
            call.method,
            self.url + call.path,
            json=call.json if call.content is None else None,
            content=call.content,
            params=dict(call.params),
            headers=call.headers(self._headers),
        )
        return read_response(call, response)

    def collect(self, first_page: Callable[[str | None], Call[Page[T]]]) -> list[T]:
        """Every item of a paginated list."""
        items: list[T] = []
        cursor: str | None = None
        while True:
            page = self.call(first_page(cursor))
            items.extend(page.data)
            if not page.next_cursor:
                return items
            cursor = page.next_cursor

    def status(self) -> Status:
        """Server version, database, and who this key belongs to."""
        return self.call(ops.status())

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncClient:
    """Asynchronous client of a Corral server; the same methods as :class:`Client`, awaited."""

    def __init__(
        self,
        *,
        url: str | None = None,
        api_key: str | None = None,
        timeout: float = 30.0,
        http_client: httpx2.AsyncClient | None = None,
    ) -> None:
        self.url, self.api_key = resolve_settings(url, api_key)
        self._http = http_client or httpx2.AsyncClient(timeout=timeout)
        self._owns_http = http_client is None
        self._headers = default_headers(self.api_key)
        self.projects = AsyncProjects(self)
        self.agents = AsyncAgents(self)
        self.users = AsyncUsers(self)
        self.keys = AsyncKeys(self)
        self.memory = AsyncMemory(self)

    async def call(self, call: Call[T]) -> T:
        response = await self._http.request(
            call.method,
            self.url + call.path,
            json=call.json if call.content is None else None,
            content=call.content,
            params=dict(call.params),
            headers=call.headers(self._headers),
        )
        return read_response(call, response)

    async def collect(self, first_page: Callable[[str | None], Call[Page[T]]]) -> list[T]:
        items: list[T] = []
        cursor: str | None = None
        while True:
            page = await self.call(first_page(cursor))
            items.extend(page.data)
            if not page.next_cursor:
                return items
            cursor = page.next_cursor

    async def status(self) -> Status:
        return await self.call(ops.status())

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> AsyncClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


class _Resource:
    def __init__(self, client: Any) -> None:
        self._client = client


class Projects(_Resource):
    _client: Client

    def list(self) -> builtins.list[Project]:
        """Projects this key reaches, most recently active first."""
        return self._client.collect(ops.list_projects)

    def create(
        self, name: str, *, description: str = "", retention_days: int | None = None
    ) -> Project:
        return self._client.call(ops.create_project(name, description, retention_days))

    def get(self, name: str) -> Project:
        return self._client.call(ops.get_project(name))

    def update(
        self,
        name: str,
        *,
        new_name: str | None = None,
        description: str | None = None,
        retention_days: int | None = None,
    ) -> Project:
        return self._client.call(ops.update_project(name, new_name, description, retention_days))

    def delete(self, name: str) -> None:
        self._client.call(ops.delete_project(name))

    def members(self, project: str) -> builtins.list[Membership]:
        return self._client.call(ops.list_members(project))

    def set_role(self, project: str, user_id: int, role: Role | str) -> Membership:
        return self._client.call(ops.set_user_role(project, user_id, str(role)))

    def remove_user(self, project: str, user_id: int) -> None:
        self._client.call(ops.remove_user(project, user_id))

    def grant_agent(self, project: str, agent: str, role: Role | str = Role.MEMBER) -> Membership:
        return self._client.call(ops.grant_agent(project, agent, str(role)))

    def revoke_agent(self, project: str, agent: str) -> None:
        self._client.call(ops.revoke_agent(project, agent))


class AsyncProjects(_Resource):
    _client: AsyncClient

    async def list(self) -> builtins.list[Project]:
        return await self._client.collect(ops.list_projects)

    async def create(
        self, name: str, *, description: str = "", retention_days: int | None = None
    ) -> Project:
        return await self._client.call(ops.create_project(name, description, retention_days))

    async def get(self, name: str) -> Project:
        return await self._client.call(ops.get_project(name))

    async def update(
        self,
        name: str,
        *,
        new_name: str | None = None,
        description: str | None = None,
        retention_days: int | None = None,
    ) -> Project:
        call = ops.update_project(name, new_name, description, retention_days)
        return await self._client.call(call)

    async def delete(self, name: str) -> None:
        await self._client.call(ops.delete_project(name))

    async def members(self, project: str) -> builtins.list[Membership]:
        return await self._client.call(ops.list_members(project))

    async def set_role(self, project: str, user_id: int, role: Role | str) -> Membership:
        return await self._client.call(ops.set_user_role(project, user_id, str(role)))

    async def remove_user(self, project: str, user_id: int) -> None:
        await self._client.call(ops.remove_user(project, user_id))

    async def grant_agent(
        self, project: str, agent: str, role: Role | str = Role.MEMBER
    ) -> Membership:
        return await self._client.call(ops.grant_agent(project, agent, str(role)))

    async def revoke_agent(self, project: str, agent: str) -> None:
        await self._client.call(ops.revoke_agent(project, agent))


class Agents(_Resource):
    _client: Client

    def list(self) -> builtins.list[Agent]:
        return self._client.collect(ops.list_agents)

    def create(self, name: str, *, description: str = "") -> Agent:
        return self._client.call(ops.create_agent(name, description))

    def get(self, name: str) -> Agent:
        return self._client.call(ops.get_agent(name))

    def update(
        self, name: str, *, description: str | None = None, disabled: bool | None = None
    ) -> Agent:
        return self._client.call(ops.update_agent(name, description, disabled))


class AsyncAgents(_Resource):
    _client: AsyncClient

    async def list(self) -> builtins.list[Agent]:
        return await self._client.collect(ops.list_agents)

    async def create(self, name: str, *, description: str = "") -> Agent:
        return await self._client.call(ops.create_agent(name, description))

    async def get(self, name: str) -> Agent:
        return await self._client.call(ops.get_agent(name))

    async def update(
        self, name: str, *, description: str | None = None, disabled: bool | None = None
    ) -> Agent:
        return await self._client.call(ops.update_agent(name, description, disabled))


class Users(_Resource):
    _client: Client

    def list(self) -> builtins.list[User]:
        return self._client.collect(ops.list_users)

    def create(self, email: str, *, name: str = "", workspace_admin: bool = False) -> User:
        return self._client.call(ops.create_user(email, name, workspace_admin))

    def get(self, user_id: int) -> User:
        return self._client.call(ops.get_user(user_id))

    def update(
        self,
        user_id: int,
        *,
        name: str | None = None,
        workspace_admin: bool | None = None,
        disabled: bool | None = None,
    ) -> User:
        return self._client.call(ops.update_user(user_id, name, workspace_admin, disabled))


class AsyncUsers(_Resource):
    _client: AsyncClient

    async def list(self) -> builtins.list[User]:
        return await self._client.collect(ops.list_users)

    async def create(self, email: str, *, name: str = "", workspace_admin: bool = False) -> User:
        return await self._client.call(ops.create_user(email, name, workspace_admin))

    async def get(self, user_id: int) -> User:
        return await self._client.call(ops.get_user(user_id))

    async def update(
        self,
        user_id: int,
        *,
        name: str | None = None,
        workspace_admin: bool | None = None,
        disabled: bool | None = None,
    ) -> User:
        return await self._client.call(ops.update_user(user_id, name, workspace_admin, disabled))


class Keys(_Resource):
    _client: Client

    def list(self, *, include_revoked: bool = False) -> builtins.list[ApiKey]:
        return self._client.call(ops.list_keys(include_revoked))

    def create(
        self,
        name: str,
        *,
        agent: str | None = None,
        user_id: int | None = None,
        projects: builtins.list[str] | None = None,
        permissions: builtins.list[Permission] | builtins.list[str] | None = None,
        expires_at: datetime | None = None,
    ) -> ApiKeyCreated:
        """Create a key. The secret is in the answer's ``secret`` and is never shown again."""
        perms = None if permissions is None else [str(p) for p in permissions]
        return self._client.call(ops.create_key(name, agent, user_id, projects, perms, expires_at))

    def revoke(self, key_id: str) -> ApiKey:
        return self._client.call(ops.revoke_key(key_id))


class AsyncKeys(_Resource):
    _client: AsyncClient

    async def list(self, *, include_revoked: bool = False) -> builtins.list[ApiKey]:
        return await self._client.call(ops.list_keys(include_revoked))

    async def create(
        self,
        name: str,
        *,
        agent: str | None = None,
        user_id: int | None = None,
        projects: builtins.list[str] | None = None,
        permissions: builtins.list[Permission] | builtins.list[str] | None = None,
        expires_at: datetime | None = None,
    ) -> ApiKeyCreated:
        perms = None if permissions is None else [str(p) for p in permissions]
        return await self._client.call(
            ops.create_key(name, agent, user_id, projects, perms, expires_at)
        )

    async def revoke(self, key_id: str) -> ApiKey:
        return await self._client.call(ops.revoke_key(key_id))
