"""Upstream providers: configuration, encrypted keys, and which one serves a model."""

from __future__ import annotations

import base64
import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.fernet import Fernet, InvalidToken
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from corral.core.access import Principal, authorize
from corral.core.audit import record_audit
from corral.core.runtime import Runtime
from corral.core.secrets import derive_key
from corral.db.schema import ProviderRow
from corral.errors import Conflict, InvalidRequest, NotFound, ServiceUnavailable
from corral.schemas.access import Permission
from corral.schemas.providers import Provider, ProviderCreate, ProviderUpdate


def _fernet(rt: Runtime) -> Fernet:
    return Fernet(base64.urlsafe_b64encode(derive_key(rt.master_secret, "provider-keys")))


def encrypt_key(rt: Runtime, api_key: str) -> str:
    return _fernet(rt).encrypt(api_key.encode()).decode()


def decrypt_key(rt: Runtime, token: str | None) -> str | None:
    if token is None:
        return None
    try:
        return _fernet(rt).decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise ServiceUnavailable(
            "a provider key cannot be decrypted: CORRAL_SECRET_KEY differs from the one it was "
            "stored with. Restore the secret or set the key again with `corral providers update`.",
            code="provider_key_unreadable",
        ) from exc


def describe_provider(row: ProviderRow) -> Provider:
    return Provider(
        name=row.name,
        kind=row.kind,
        base_url=row.base_url,
        models=row.models,
        priority=row.priority,
        timeout_seconds=row.timeout_seconds,
        disabled=row.disabled,
        has_api_key=row.api_key_encrypted is not None,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


def create_provider(rt: Runtime, actor: Principal, body: ProviderCreate) -> Provider:
    authorize(actor, Permission.WORKSPACE_ADMIN)
    now = rt.clock.now()
    row = ProviderRow(
        name=body.name,
        kind=body.kind,
        base_url=body.base_url.rstrip("/"),
        api_key_encrypted=encrypt_key(rt, body.api_key) if body.api_key else None,
        models=body.models,
        priority=body.priority,
        timeout_seconds=body.timeout_seconds,
        disabled=False,
        created_at=now,
        updated_at=now,
    )
    try:
        with rt.db.write() as uow:
            uow.add(row)
            uow.flush()
            record_audit(
                uow,
                actor=actor,
                action="provider.create",
                target_kind="provider",
                target_id=row.name,
                details={
                    "kind": row.kind,
                    "base_url": row.base_url,
                    "models": row.models,
                    "api_key_set": body.api_key is not None,
                },
                now=now,
            )
    except IntegrityError as exc:
        raise Conflict(
            f"a provider named {body.name!r} already exists.", code="provider_exists"
        ) from exc
    return describe_provider(row)


def _provider_row(uow: Session, name: str) -> ProviderRow:
    row = uow.scalars(select(ProviderRow).where(ProviderRow.name == name)).one_or_none()
    if row is None:
        raise NotFound(
            f"provider {name!r} does not exist; `corral providers list` shows them.",
            code="provider_not_found",
        )
    return row


def update_provider(rt: Runtime, actor: Principal, name: str, body: ProviderUpdate) -> Provider:
    authorize(actor, Permission.WORKSPACE_ADMIN)
    if body.api_key and body.clear_api_key:
        raise InvalidRequest("give api_key or clear_api_key, not both.")
    with rt.db.write() as uow:
        row = _provider_row(uow, name)
        changes = body.model_dump(exclude_unset=True, exclude={"api_key", "clear_api_key"})
        for field, value in changes.items():
            if value is not None:
                setattr(row, field, value.rstrip("/") if field == "base_url" else value)
        if body.api_key:
            row.api_key_encrypted = encrypt_key(rt, body.api_key)
        elif body.clear_api_key:
            row.api_key_encrypted = None
        row.updated_at = rt.clock.now()
        record_audit(
            uow,
            actor=actor,
            action="provider.update",
            target_kind="provider",
            target_id=row.name,
            details={**changes, "api_key_changed": bool(body.api_key or body.clear_api_key)},
            now=row.updated_at,
        )
        return describe_provider(row)


def delete_provider(rt: Runtime, actor: Principal, name: str) -> None:
    authorize(actor, Permission.WORKSPACE_ADMIN)
    with rt.db.write() as uow:
        row = _provider_row(uow, name)
        record_audit(
            uow,
            actor=actor,
            action="provider.delete",
            target_kind="provider",
            target_id=row.name,
            now=rt.clock.now(),
        )
        uow.delete(row)


def list_providers(rt: Runtime, actor: Principal) -> list[Provider]:
    authorize(actor, Permission.WORKSPACE_ADMIN)
    with rt.db.read() as uow:
        rows = uow.scalars(
            select(ProviderRow).order_by(ProviderRow.priority, ProviderRow.name)
        ).all()
    return [describe_provider(r) for r in rows]


@dataclass(frozen=True)
class Route:
    """Where a call goes: the provider, its decrypted key, and the model name it knows."""

    provider: ProviderRow
    api_key: str | None
    model: str


def enabled_providers(rt: Runtime, uow: Session) -> list[tuple[ProviderRow, str | None]]:
    """Every enabled provider with its decrypted key, in routing order (priority, then name)."""
    rows = uow.scalars(
        select(ProviderRow)
        .where(ProviderRow.disabled.is_(False))
        .order_by(ProviderRow.priority, ProviderRow.name)
    ).all()
    return [(row, decrypt_key(rt, row.api_key_encrypted)) for row in rows]


def choose_route(
    providers: Sequence[tuple[ProviderRow, str | None]], kind: str, model: str
) -> Route:
    """The provider that serves ``model``, of ``providers`` (:func:`enabled_providers`): an
    explicit ``provider/model`` prefix, else the first provider of the right kind whose model
    patterns match."""
    prefix, slash, rest = model.partition("/")
    if slash:
        for row, key in providers:
            if row.name == prefix and row.kind == kind:
                return Route(row, key, rest)
    for row, key in providers:
        if row.kind == kind and any(fnmatch.fnmatchcase(model, p) for p in row.models):
            return Route(row, key, model)
    raise NotFound(
        f"no {kind} provider serves model {model!r}; add one with `corral providers add`, or "
        "name it as '<provider>/<model>'.",
        code="model_not_routed",
        details={"model": model, "api": kind},
    )
