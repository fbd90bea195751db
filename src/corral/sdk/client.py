"""``corral.Client`` and ``corral.AsyncClient``: the REST API as Python methods.

Both clients read ``CORRAL_URL`` and ``CORRAL_API_KEY`` when they are not given. Every method
raises a :class:`~corral.errors.CorralError` subclass carrying the server's code and message.
"""

from __future__ import annotations

import builtins
import json
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from datetime import datetime
from typing import Any, TypeVar

import httpx2

from corral.errors import InvalidRequest
from corral.schemas.access import Permission, Role
from corral.schemas.audit import AuditCheckpoint, AuditEvent, AuditVerification
from corral.schemas.auth import InviteCreated
from corral.schemas.common import Page
from corral.schemas.keys import ApiKey, ApiKeyCreated
from corral.schemas.lifecycle import (
    AgentConfig,
    AgentVersion,
    Deployment,
    ResolvedVersion,
    VersionDiff,
)
from corral.schemas.policies import AuthorizeDecision, ToolPolicy, ToolRule, parse_rule
from corral.schemas.status import Status
from corral.schemas.tenancy import Agent, Membership, Project, User
from corral.sdk import _identity_operations as idops
from corral.sdk import _lifecycle_operations as lops
from corral.sdk import _operations as ops
from corral.sdk._calls import Call, default_headers, read_response, resolve_settings
from corral.sdk.alerts import Alerts, AsyncAlerts
from corral.sdk.cost import (
    AsyncBudgets,
    AsyncCosts,
    AsyncPrices,
    AsyncProviders,
    Budgets,
    Costs,
    Prices,
    Providers,
)
from corral.sdk.detection import AsyncFindings, Findings
from corral.sdk.memory import AsyncMemory, Memory
from corral.sdk.rollouts import AsyncRollouts, Rollouts
from corral.sdk.traces import AsyncSessions, AsyncTraces, Sessions, Traces

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
        self.policies = Policies(self)
        self.audit = Audit(self)
        self.budgets = Budgets(self)
        self.providers = Providers(self)
        self.costs = Costs(self)
        self.prices = Prices(self)
        self.alerts = Alerts(self)
        self.traces = Traces(self)
        self.sessions = Sessions(self)
        self.memory = Memory(self)
        self.findings = Findings(self)

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

    def stream_lines(self, call: Call[T]) -> Iterator[T]:
        """Send a call answered with JSON Lines and parse each line as it arrives."""
        with self._http.stream(
            call.method, self.url + call.path, params=dict(call.params), headers=self._headers
        ) as response:
            if response.status_code >= 400:
                response.read()
                read_response(call, response)
            for line in response.iter_lines():
                if line.strip():
                    yield call.parse(json.loads(line))

    def status(self) -> Status:
        """Server version, database, and who this key belongs to."""
        return self.call(ops.status())

    def authorize(
        self,
        tool: str,
        args: dict[str, Any] | None = None,
        *,
        project: str,
        agent: str | None = None,
    ) -> AuthorizeDecision:
        """May the agent (this key's, or ``agent``) call ``tool`` with ``args`` in ``project``?

        Call it in the agent's own tool runner before running a tool; the decision is audited.
        """
        return self.call(idops.authorize(project, tool, args or {}, agent))

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
        self.policies = AsyncPolicies(self)
        self.audit = AsyncAudit(self)
        self.budgets = AsyncBudgets(self)
        self.providers = AsyncProviders(self)
        self.costs = AsyncCosts(self)
        self.prices = AsyncPrices(self)
        self.alerts = AsyncAlerts(self)
        self.traces = AsyncTraces(self)
        self.sessions = AsyncSessions(self)
        self.memory = AsyncMemory(self)
        self.findings = AsyncFindings(self)

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

    async def stream_lines(self, call: Call[T]) -> AsyncIterator[T]:
        async with self._http.stream(
            call.method, self.url + call.path, params=dict(call.params), headers=self._headers
        ) as response:
            if response.status_code >= 400:
                await response.aread()
                read_response(call, response)
            async for line in response.aiter_lines():
                if line.strip():
                    yield call.parse(json.loads(line))

    async def status(self) -> Status:
        return await self.call(ops.status())

    async def authorize(
        self,
        tool: str,
        args: dict[str, Any] | None = None,
        *,
        project: str,
        agent: str | None = None,
    ) -> AuthorizeDecision:
        return await self.call(idops.authorize(project, tool, args or {}, agent))

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

    def __init__(self, client: Client) -> None:
        super().__init__(client)
        self.rollouts = Rollouts(client)

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

    def versions(self, name: str) -> builtins.list[AgentVersion]:
        """Every version of agent ``name``, newest first."""
        return self._client.call(lops.list_versions(name))

    def create_version(
        self,
        name: str,
        *,
        config: AgentConfig | dict[str, Any] | None = None,
        changes: dict[str, Any] | None = None,
        base: int | None = None,
        note: str = "",
        draft: bool = False,
    ) -> AgentVersion:
        """A new version from a whole ``config``, or ``changes`` merged onto version ``base``
        (default: the newest)."""
        return self._client.call(
            lops.create_version(name, _version_body(config, changes, base, note, draft))
        )

    def version(self, name: str, number: int) -> AgentVersion:
        return self._client.call(lops.get_version(name, number))

    def update_draft(
        self,
        name: str,
        number: int,
        *,
        config: AgentConfig | dict[str, Any] | None = None,
        note: str | None = None,
    ) -> AgentVersion:
        return self._client.call(lops.update_draft(name, number, _draft_body(config, note)))

    def transition(self, name: str, number: int, state: str, *, reason: str = "") -> AgentVersion:
        return self._client.call(lops.transition(name, number, state, reason))

    def diff(self, name: str, first: int, second: int) -> VersionDiff:
        return self._client.call(lops.diff(name, first, second))

    def deployments(self, name: str) -> builtins.list[Deployment]:
        return self._client.call(lops.list_deployments(name))

    def deploy(
        self,
        name: str,
        version: int,
        *,
        environment: str = "production",
        canary_weight: float | None = None,
        reason: str = "",
    ) -> Deployment:
        """Serve ``version`` in ``environment``: as active, or as a canary for a share of new
        sessions."""
        return self._client.call(
            lops.deploy(name, _deploy_body(version, environment, canary_weight, reason))
        )

    def rollback(
        self, name: str, *, environment: str = "production", reason: str = ""
    ) -> Deployment:
        return self._client.call(lops.rollback(name, environment, reason))

    def resolve(
        self, name: str, *, environment: str = "production", session: str | None = None
    ) -> ResolvedVersion:
        """The version (and its config) a session must use; stable for the session's life."""
        return self._client.call(lops.resolve(name, environment, session))


class AsyncAgents(_Resource):
    _client: AsyncClient

    def __init__(self, client: AsyncClient) -> None:
        super().__init__(client)
        self.rollouts = AsyncRollouts(client)

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

    async def versions(self, name: str) -> builtins.list[AgentVersion]:
        """Every version of agent ``name``, newest first."""
        return await self._client.call(lops.list_versions(name))

    async def create_version(
        self,
        name: str,
        *,
        config: AgentConfig | dict[str, Any] | None = None,
        changes: dict[str, Any] | None = None,
        base: int | None = None,
        note: str = "",
        draft: bool = False,
    ) -> AgentVersion:
        """A new version from a whole ``config``, or ``changes`` merged onto version ``base``
        (default: the newest)."""
        return await self._client.call(
            lops.create_version(name, _version_body(config, changes, base, note, draft))
        )

    async def version(self, name: str, number: int) -> AgentVersion:
        return await self._client.call(lops.get_version(name, number))

    async def update_draft(
        self,
        name: str,
        number: int,
        *,
        config: AgentConfig | dict[str, Any] | None = None,
        note: str | None = None,
    ) -> AgentVersion:
        return await self._client.call(lops.update_draft(name, number, _draft_body(config, note)))

    async def transition(
        self, name: str, number: int, state: str, *, reason: str = ""
    ) -> AgentVersion:
        return await self._client.call(lops.transition(name, number, state, reason))

    async def diff(self, name: str, first: int, second: int) -> VersionDiff:
        return await self._client.call(lops.diff(name, first, second))

    async def deployments(self, name: str) -> builtins.list[Deployment]:
        return await self._client.call(lops.list_deployments(name))

    async def deploy(
        self,
        name: str,
        version: int,
        *,
        environment: str = "production",
        canary_weight: float | None = None,
        reason: str = "",
    ) -> Deployment:
        """Serve ``version`` in ``environment``: as active, or as a canary for a share of new
        sessions."""
        return await self._client.call(
            lops.deploy(name, _deploy_body(version, environment, canary_weight, reason))
        )

    async def rollback(
        self, name: str, *, environment: str = "production", reason: str = ""
    ) -> Deployment:
        return await self._client.call(lops.rollback(name, environment, reason))

    async def resolve(
        self, name: str, *, environment: str = "production", session: str | None = None
    ) -> ResolvedVersion:
        """The version (and its config) a session must use; stable for the session's life."""
        return await self._client.call(lops.resolve(name, environment, session))


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

    def invite(self, user_id: int, *, valid_hours: float = 72) -> InviteCreated:
        """A one-time token with which the user sets a console password."""
        return self._client.call(idops.invite_user(user_id, valid_hours))


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

    async def invite(self, user_id: int, *, valid_hours: float = 72) -> InviteCreated:
        return await self._client.call(idops.invite_user(user_id, valid_hours))


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


def _rules(
    rules: Sequence[ToolRule | str | dict[str, Any]] | None,
) -> builtins.list[ToolRule] | None:
    """Rules given as models, dicts or one-line text (``"allow refund when amount <= 500"``)."""
    if rules is None:
        return None
    try:
        return [
            r if isinstance(r, ToolRule) else parse_rule(r) if isinstance(r, str) else ToolRule(**r)
            for r in rules
        ]
    except ValueError as exc:  # a rule that cannot be read is the caller's mistake, like a 422
        raise InvalidRequest(f"invalid policy rule: {exc}", code="invalid_rule") from exc


class Policies(_Resource):
    """Agents' tool policies."""

    _client: Client

    def get(self, agent: str) -> ToolPolicy | None:
        return self._client.call(idops.get_policy(agent))

    def save(
        self,
        agent: str,
        *,
        rules: Sequence[ToolRule | str | dict[str, Any]] | None = None,
        cedar: str | None = None,
        note: str = "",
    ) -> ToolPolicy:
        """Save a new version from simple ``rules`` or raw ``cedar`` (exactly one)."""
        return self._client.call(idops.save_policy(agent, _rules(rules), cedar, note))

    def clear(self, agent: str) -> ToolPolicy:
        return self._client.call(idops.clear_policy(agent))

    def versions(self, agent: str) -> builtins.list[ToolPolicy]:
        return self._client.call(idops.policy_versions(agent))

    def restore(self, agent: str, version: int) -> ToolPolicy:
        return self._client.call(idops.restore_policy(agent, version))


class AsyncPolicies(_Resource):
    _client: AsyncClient

    async def get(self, agent: str) -> ToolPolicy | None:
        return await self._client.call(idops.get_policy(agent))

    async def save(
        self,
        agent: str,
        *,
        rules: Sequence[ToolRule | str | dict[str, Any]] | None = None,
        cedar: str | None = None,
        note: str = "",
    ) -> ToolPolicy:
        return await self._client.call(idops.save_policy(agent, _rules(rules), cedar, note))

    async def clear(self, agent: str) -> ToolPolicy:
        return await self._client.call(idops.clear_policy(agent))

    async def versions(self, agent: str) -> builtins.list[ToolPolicy]:
        return await self._client.call(idops.policy_versions(agent))

    async def restore(self, agent: str, version: int) -> ToolPolicy:
        return await self._client.call(idops.restore_policy(agent, version))


class Audit(_Resource):
    """The audit trail."""

    _client: Client

    def list(
        self,
        *,
        action: str | None = None,
        actor: str | None = None,
        project: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> builtins.list[AuditEvent]:
        """The newest ``limit`` matching events, newest first."""
        params = idops.audit_params(action, actor, project, outcome, since, until)
        events: builtins.list[AuditEvent] = []
        cursor: str | None = None
        while len(events) < limit:
            page = self._client.call(
                idops.audit_page(params, cursor, min(500, limit - len(events)))
            )
            events.extend(page.data)
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        return events

    def export(
        self,
        *,
        action: str | None = None,
        actor: str | None = None,
        project: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> Iterator[AuditEvent]:
        """Every matching event, oldest first, streamed."""
        params = idops.audit_params(action, actor, project, outcome, since, until)
        yield from self._client.stream_lines(idops.audit_export(params))

    def verify(self) -> AuditVerification:
        return self._client.call(idops.audit_verify())

    def checkpoints(self) -> builtins.list[AuditCheckpoint]:
        return self._client.call(idops.audit_checkpoints())


class AsyncAudit(_Resource):
    _client: AsyncClient

    async def list(
        self,
        *,
        action: str | None = None,
        actor: str | None = None,
        project: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
    ) -> builtins.list[AuditEvent]:
        params = idops.audit_params(action, actor, project, outcome, since, until)
        events: builtins.list[AuditEvent] = []
        cursor: str | None = None
        while len(events) < limit:
            call = idops.audit_page(params, cursor, min(500, limit - len(events)))
            page = await self._client.call(call)
            events.extend(page.data)
            if not page.next_cursor:
                break
            cursor = page.next_cursor
        return events

    async def export(
        self,
        *,
        action: str | None = None,
        actor: str | None = None,
        project: str | None = None,
        outcome: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> AsyncIterator[AuditEvent]:
        params = idops.audit_params(action, actor, project, outcome, since, until)
        async for event in self._client.stream_lines(idops.audit_export(params)):
            yield event

    async def verify(self) -> AuditVerification:
        return await self._client.call(idops.audit_verify())

    async def checkpoints(self) -> builtins.list[AuditCheckpoint]:
        return await self._client.call(idops.audit_checkpoints())


def _version_body(
    config: AgentConfig | dict[str, Any] | None,
    changes: dict[str, Any] | None,
    base: int | None,
    note: str,
    draft: bool,
) -> dict[str, Any]:
    body: dict[str, Any] = {"note": note, "draft": draft}
    if config is not None:
        body["config"] = (
            config.model_dump(mode="json") if isinstance(config, AgentConfig) else config
        )
    if changes is not None:
        body["changes"] = changes
    if base is not None:
        body["base"] = base
    return body


def _draft_body(config: AgentConfig | dict[str, Any] | None, note: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if config is not None:
        body["config"] = (
            config.model_dump(mode="json") if isinstance(config, AgentConfig) else config
        )
    if note is not None:
        body["note"] = note
    return body


def _deploy_body(
    version: int, environment: str, canary_weight: float | None, reason: str
) -> dict[str, Any]:
    body: dict[str, Any] = {"version": version, "environment": environment, "reason": reason}
    if canary_weight is not None:
        body["canary_weight"] = canary_weight
    return body
