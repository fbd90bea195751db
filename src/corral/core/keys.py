"""API keys: minting, authenticating, listing and revoking.

A key reads ``crl_<id>_<secret>``. The id is public (it names the key in lists and logs); only a
SHA-256 of the secret is stored, so a key cannot be recovered from the database — a lost key is
replaced, never shown again.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from corral.core.access import Principal, authorize
from corral.core.audit import record_audit
from corral.core.principal_cache import PrincipalCache, current_generation
from corral.core.principals import load_principal
from corral.core.runtime import Runtime
from corral.db.schema import AgentRow, ApiKeyProjectRow, ApiKeyRow, ProjectRow, UserRow
from corral.errors import Forbidden, InvalidRequest, NotFound, Unauthenticated
from corral.schemas.access import Permission
from corral.schemas.keys import ApiKey, ApiKeyCreate, ApiKeyCreated

KEY_PREFIX = "crl_"
_ALPHABET = string.ascii_letters + string.digits
_SECRET_LENGTH = 40
LAST_USED_RESOLUTION = timedelta(minutes=1)
"""``last_used_at`` is refreshed at most this often, to keep writes off the request path."""


@dataclass(frozen=True)
class MintedKey:
    public_id: str
    secret_hash: str
    token: str


def mint_key() -> MintedKey:
    """A new random key and the hash that is stored for it."""
    public_id = secrets.token_hex(6)
    secret = "".join(secrets.choice(_ALPHABET) for _ in range(_SECRET_LENGTH))
    return MintedKey(public_id, hash_secret(secret), f"{KEY_PREFIX}{public_id}_{secret}")


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def parse_token(token: str) -> tuple[str, str]:
    """Split a key into its public id and its secret, or raise :class:`Unauthenticated`."""
    if token.startswith(KEY_PREFIX):
        public_id, sep, secret = token[len(KEY_PREFIX) :].partition("_")
        if sep and public_id and secret:
            return public_id, secret
    raise Unauthenticated(
        "the API key is malformed: Corral keys start with 'crl_'.", code="invalid_api_key"
    )


def remembered_principal(rt: Runtime, token: str) -> tuple[Principal | None, bool]:
    """The principal behind an API key if the cache holds it (no database read), else None;
    and whether it is due to be read again ahead of its expiry (:func:`authenticate` with
    ``remembered=False``, off the request's path)."""
    public_id, secret = parse_token(token)
    secret_hash, now = hash_secret(secret), rt.clock.now()
    cache = _principal_cache(rt)
    principal = cache.get(public_id, secret_hash, now)
    return principal, principal is not None and cache.due(public_id, secret_hash, now)


def authenticate(rt: Runtime, token: str, *, remembered: bool = True) -> Principal:
    """The principal behind an API key, or :class:`Unauthenticated` with the reason.

    Args:
        rt: The runtime.
        token: The API key.
        remembered: Whether a principal kept for the key will do; False reads it again.
    """
    public_id, secret = parse_token(token)
    secret_hash = hash_secret(secret)
    now = rt.clock.now()
    cache = _principal_cache(rt)
    cached = cache.get(public_id, secret_hash, now) if remembered else None
    if cached is not None:
        return cached
    try:
        return _read_principal(rt, cache, public_id, secret_hash, now)
    except Unauthenticated:
        cache.forget(public_id, secret_hash)  # revoked or expired since it was kept
        raise


def _read_principal(
    rt: Runtime, cache: PrincipalCache, public_id: str, secret_hash: str, now: datetime
) -> Principal:
    generation = current_generation()
    with rt.db.read() as uow:
        key = uow.scalars(select(ApiKeyRow).where(ApiKeyRow.public_id == public_id)).one_or_none()
        if key is None or not hmac.compare_digest(key.secret_hash, secret_hash):
            raise Unauthenticated("the API key is not valid.", code="invalid_api_key")
        if key.revoked_at is not None:
            raise Unauthenticated(
                f"the API key {public_id} was revoked; create a new one with `corral keys create`.",
                code="api_key_revoked",
            )
        if key.expires_at is not None and key.expires_at <= now:
            raise Unauthenticated(
                f"the API key {public_id} expired at {key.expires_at.isoformat()}.",
                code="api_key_expired",
            )
        principal = _principal_for_key(uow, key)
        stale = key.last_used_at is None or now - key.last_used_at >= LAST_USED_RESOLUTION
    if stale:
        # A hint for people (when was this key last used?), written at most once a resolution
        # period: it need not wait for the disk flush.
        with rt.db.write(durable=False) as uow:
            uow.get_one(ApiKeyRow, key.id).last_used_at = now
    cache.put(public_id, secret_hash, principal, key.expires_at, generation, now)
    return principal


def _principal_cache(rt: Runtime) -> PrincipalCache:
    cache = rt.extensions.get("principal_cache")
    if cache is None:
        cache = rt.extensions["principal_cache"] = PrincipalCache(rt.settings.auth_cache_seconds)
    assert isinstance(cache, PrincipalCache)
    return cache


def _principal_for_key(uow: Session, key: ApiKeyRow) -> Principal:
    projects = None
    if not key.all_projects:
        projects = frozenset(
            uow.scalars(
                select(ApiKeyProjectRow.project_id).where(ApiKeyProjectRow.key_id == key.id)
            )
        )
    permissions = None if key.permissions is None else frozenset(map(Permission, key.permissions))
    return load_principal(
        uow,
        user=uow.get(UserRow, key.user_id) if key.user_id is not None else None,
        agent=uow.get(AgentRow, key.agent_id) if key.agent_id is not None else None,
        key_id=key.public_id,
        key_projects=projects,
        key_permissions=permissions,
    )


def create_key(rt: Runtime, actor: Principal, body: ApiKeyCreate) -> ApiKeyCreated:
    """Mint a key for the caller, one of the caller's agents, or (admins) another user.

    Who may mint what: any user may mint keys for themselves; a key for an agent needs
    ``projects:admin`` in every project the key names (or workspace admin for an unlimited key);
    a key for another user needs workspace admin. Agents cannot mint keys.
    """
    now = rt.clock.now()
    if body.expires_at is not None and body.expires_at <= now:
        raise InvalidRequest("expires_at is in the past.", code="invalid_expiry")
    if actor.kind != "user":
        raise Forbidden("agents cannot create API keys.", code="permission_denied")
    _check_within_own_key(actor, body)
    with rt.db.write() as uow:
        projects = _scope_projects(uow, body.projects)
        user_id: int | None = None
        agent_id: int | None = None
        if body.agent is not None:
            if body.user_id is not None:
                raise InvalidRequest("give either agent or user_id, not both.")
            agent = uow.scalars(select(AgentRow).where(AgentRow.name == body.agent)).one_or_none()
            if agent is None:
                raise NotFound(f"agent {body.agent!r} does not exist.", code="agent_not_found")
            if projects is None:
                authorize(actor, Permission.WORKSPACE_ADMIN)
            for project in projects or []:
                authorize(actor, Permission.PROJECTS_ADMIN, project)
            agent_id = agent.id
        elif body.user_id is not None and body.user_id != actor.id:
            authorize(actor, Permission.WORKSPACE_ADMIN)
            if uow.get(UserRow, body.user_id) is None:
                raise NotFound(f"user {body.user_id} does not exist.", code="user_not_found")
            user_id = body.user_id
        else:
            for project in projects or []:
                authorize(actor, Permission.PROJECTS_READ, project)
            user_id = actor.id
        minted = mint_key()
        row = ApiKeyRow(
            public_id=minted.public_id,
            name=body.name,
            secret_hash=minted.secret_hash,
            user_id=user_id,
            agent_id=agent_id,
            all_projects=projects is None,
            permissions=None if body.permissions is None else sorted(set(body.permissions)),
            created_by_user_id=actor.id,
            created_at=now,
            expires_at=body.expires_at,
        )
        uow.add(row)
        uow.flush()
        for project in projects or []:
            uow.add(ApiKeyProjectRow(key_id=row.id, project_id=project.id))
        uow.flush()
        described = _describe(uow, row)
        record_audit(
            uow,
            actor=actor,
            action="api_key.create",
            target_kind="api_key",
            target_id=row.public_id,
            details={
                "owner": f"{described.owner_kind} {described.owner_name}",
                "projects": described.projects,
                "permissions": row.permissions,
                "expires_at": row.expires_at.isoformat() if row.expires_at else None,
            },
            now=now,
        )
        return ApiKeyCreated(**described.model_dump(), secret=minted.token)


def list_keys(rt: Runtime, actor: Principal, *, include_revoked: bool = False) -> list[ApiKey]:
    """The keys the caller may manage: their own, and every key for workspace admins."""
    with rt.db.read() as uow:
        query = select(ApiKeyRow).order_by(ApiKeyRow.id)
        if not include_revoked:
            query = query.where(ApiKeyRow.revoked_at.is_(None))
        rows = uow.scalars(query).all()
        return [_describe(uow, row) for row in rows if _may_manage(uow, actor, row)]


def revoke_key(rt: Runtime, actor: Principal, public_id: str) -> ApiKey:
    """Revoke a key at once; requests with it fail from now on. Revoking twice is harmless."""
    with rt.db.write() as uow:
        row = uow.scalars(select(ApiKeyRow).where(ApiKeyRow.public_id == public_id)).one_or_none()
        if row is None or not _may_manage(uow, actor, row):
            raise NotFound(
                f"no API key {public_id!r} that you manage; `corral keys list` shows them.",
                code="api_key_not_found",
            )
        if row.revoked_at is None:
            row.revoked_at = rt.clock.now()
            record_audit(
                uow,
                actor=actor,
                action="api_key.revoke",
                target_kind="api_key",
                target_id=row.public_id,
                now=row.revoked_at,
            )
        return _describe(uow, row)


def issue_admin_key(rt: Runtime, *, name: str) -> str:
    """Mint an unlimited key for the first workspace administrator, straight in the database.

    This is the way back in when the admin key is lost: it needs access to the database, not to
    the API.
    """
    with rt.db.write() as uow:
        return mint_admin_key(uow, name=name, now=rt.clock.now())


def mint_admin_key(uow: Session, *, name: str, now: datetime) -> str:
    """Add an unlimited key for the first enabled workspace administrator to ``uow``."""
    admin = uow.scalars(
        select(UserRow)
        .where(UserRow.workspace_admin.is_(True), UserRow.disabled.is_(False))
        .order_by(UserRow.id)
    ).first()
    if admin is None:
        raise NotFound(
            "there is no enabled workspace administrator; start the server once to create one.",
            code="no_workspace_admin",
        )
    minted = mint_key()
    uow.add(
        ApiKeyRow(
            public_id=minted.public_id,
            name=name,
            secret_hash=minted.secret_hash,
            user_id=admin.id,
            all_projects=True,
            created_at=now,
        )
    )
    uow.flush()
    record_audit(
        uow,
        actor=None,
        action="api_key.create",
        target_kind="api_key",
        target_id=minted.public_id,
        details={"owner": f"user {admin.email}", "name": name, "via": "database"},
        now=now,
    )
    return minted.token


def _check_within_own_key(actor: Principal, body: ApiKeyCreate) -> None:
    """A limited key can only mint keys inside its own limits, so a leaked narrow key cannot
    be turned into a broad one."""
    if actor.key_permissions is not None and (
        body.permissions is None or not set(body.permissions) <= actor.key_permissions
    ):
        raise Forbidden(
            "this API key is limited to some permissions; a key it creates must list a subset.",
            code="key_scope_exceeded",
        )
    if actor.key_projects is not None and body.projects is None:
        raise Forbidden(
            "this API key is limited to some projects; a key it creates must list a subset.",
            code="key_scope_exceeded",
        )


def _scope_projects(uow: Session, names: list[str] | None) -> list[ProjectRow] | None:
    if names is None:
        return None
    if not names:
        raise InvalidRequest(
            "projects is empty: list at least one project, or omit it for all projects.",
            code="empty_scope",
        )
    rows = uow.scalars(select(ProjectRow).where(ProjectRow.name.in_(names))).all()
    missing = sorted(set(names) - {row.name for row in rows})
    if missing:
        raise InvalidRequest(f"unknown projects: {missing}", code="project_not_found")
    return list(rows)


def _may_manage(uow: Session, actor: Principal, row: ApiKeyRow) -> bool:
    if actor.may(Permission.WORKSPACE_ADMIN):
        return True
    if row.user_id is not None:
        return actor.kind == "user" and row.user_id == actor.id
    if row.all_projects:
        return False
    project_ids = uow.scalars(
        select(ApiKeyProjectRow.project_id).where(ApiKeyProjectRow.key_id == row.id)
    ).all()
    return bool(project_ids) and all(
        actor.may(Permission.PROJECTS_ADMIN, pid) for pid in project_ids
    )


def _describe(uow: Session, row: ApiKeyRow) -> ApiKey:
    projects: list[str] | None = None
    if not row.all_projects:
        projects = sorted(
            uow.scalars(
                select(ProjectRow.name)
                .join(ApiKeyProjectRow, ApiKeyProjectRow.project_id == ProjectRow.id)
                .where(ApiKeyProjectRow.key_id == row.id)
            )
        )
    if row.user_id is not None:
        owner_kind, owner_id = "user", row.user_id
        owner_name = uow.get_one(UserRow, row.user_id).email
    else:
        assert row.agent_id is not None
        owner_kind, owner_id = "agent", row.agent_id
        owner_name = uow.get_one(AgentRow, row.agent_id).name
    return ApiKey(
        id=row.public_id,
        name=row.name,
        prefix=f"{KEY_PREFIX}{row.public_id}_",
        owner_kind=owner_kind,
        owner_id=owner_id,
        owner_name=owner_name,
        projects=projects,
        permissions=None if row.permissions is None else [Permission(p) for p in row.permissions],
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        last_used_at=row.last_used_at,
    )
