from __future__ import annotations

from fastapi import APIRouter, Response

from corral.core import providers
from corral.schemas.providers import Provider, ProviderCreate, ProviderUpdate
from corral.server.deps import Actor, RuntimeDep

router = APIRouter(prefix="/providers", tags=["providers"])


@router.get("", summary="Upstream providers (workspace admins; keys are never shown)")
def list_providers(rt: RuntimeDep, actor: Actor) -> list[Provider]:
    return providers.list_providers(rt, actor)


@router.post("", status_code=201, summary="Add an upstream provider")
def create_provider(rt: RuntimeDep, actor: Actor, body: ProviderCreate) -> Provider:
    return providers.create_provider(rt, actor, body)


@router.patch("/{provider}", summary="Change a provider (its key is replaced, never read)")
def update_provider(rt: RuntimeDep, actor: Actor, provider: str, body: ProviderUpdate) -> Provider:
    return providers.update_provider(rt, actor, provider, body)


@router.delete("/{provider}", status_code=204, summary="Remove a provider")
def delete_provider(rt: RuntimeDep, actor: Actor, provider: str) -> Response:
    providers.delete_provider(rt, actor, provider)
    return Response(status_code=204)
