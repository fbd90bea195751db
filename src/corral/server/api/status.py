from __future__ import annotations

from fastapi import APIRouter

from corral import __version__
from corral.core.status import server_status
from corral.schemas.status import Status
from corral.server.deps import Actor, RuntimeDep

router = APIRouter(tags=["status"])


@router.get("/status", summary="Server version, database and who the caller is")
def get_status(rt: RuntimeDep, actor: Actor) -> Status:
    return server_status(rt, actor, version=__version__)
