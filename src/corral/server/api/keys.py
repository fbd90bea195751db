from __future__ import annotations

from fastapi import APIRouter

from corral.core import keys
from corral.schemas.keys import ApiKey, ApiKeyCreate, ApiKeyCreated
from corral.server.deps import Actor, RuntimeDep

router = APIRouter(prefix="/keys", tags=["keys"])


@router.get("", summary="API keys the caller manages")
def list_keys(rt: RuntimeDep, actor: Actor, include_revoked: bool = False) -> list[ApiKey]:
    return keys.list_keys(rt, actor, include_revoked=include_revoked)


@router.post("", status_code=201, summary="Create an API key; the secret is in this answer only")
def create_key(rt: RuntimeDep, actor: Actor, body: ApiKeyCreate) -> ApiKeyCreated:
    return keys.create_key(rt, actor, body)


@router.delete("/{key_id}", summary="Revoke an API key")
def revoke_key(rt: RuntimeDep, actor: Actor, key_id: str) -> ApiKey:
    return keys.revoke_key(rt, actor, key_id)
