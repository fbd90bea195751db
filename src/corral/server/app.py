"""The app factory: everything the server needs is passed in, nothing connects at import."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI, Response
from starlette.concurrency import run_in_threadpool

from corral import __version__
from corral.core.bootstrap import bootstrap_workspace
from corral.core.clock import Clock
from corral.core.detection.live import start_detection
from corral.core.gateway_holds import stop_hold_writer
from corral.core.gateway_recorder import start_recorder
from corral.core.jobs import JobRunner
from corral.core.pricing import default_price_book
from corral.core.runtime import Runtime
from corral.core.schedule import background_jobs
from corral.core.status import readiness_problem
from corral.core.tokens import count_tokens
from corral.db import migrate
from corral.schemas.status import Health
from corral.server.api import build_public_router, build_v1_router
from corral.server.console import console_error, install_console
from corral.server.deps import refuse_nul_in_url
from corral.server.errors import install_error_handlers
from corral.server.gateway import upstream_of
from corral.server.gateway.fast_path import GatewayFastPath
from corral.server.heap import freeze_startup_heap
from corral.server.mcp import mount_mcp
from corral.server.middleware import BodySizeLimitMiddleware, RequestIdMiddleware
from corral.settings import Settings

log = logging.getLogger("corral.server")


def prepare_database(rt: Runtime) -> str | None:
    """Migrate (when enabled) and create the workspace on first start.

    Returns the initial admin key when this call created the workspace, else None.
    """
    if rt.settings.auto_migrate:
        migrate.upgrade(rt.db)
    return bootstrap_workspace(rt)


def create_app(
    settings: Settings | None = None,
    *,
    runtime: Runtime | None = None,
    clock: Clock | None = None,
    freeze_heap: bool = False,
    write_process: bool = False,
    record_process: bool = False,
) -> FastAPI:
    """Build the Corral ASGI app.

    Pass ``runtime`` to share a database and clock with the caller (tests, the CLI); otherwise
    one is built from ``settings`` (or the environment) when the app starts. ``freeze_heap``
    (what ``corral serve`` does) hides the start-up heap from the garbage collector once the app
    has started: see :mod:`corral.server.heap`. ``write_process`` (``corral serve`` on SQLite,
    unless ``CORRAL_SQLITE_WRITE_PROCESS=false``) writes ingested spans from a process of their
    own: see :mod:`corral.db.write_process`. ``record_process`` (``corral serve``, as
    ``CORRAL_GATEWAY_RECORDER`` says) settles and records gateway calls from a process of their
    own: see :mod:`corral.core.record_process`.
    """
    settings = runtime.settings if runtime is not None else (settings or Settings())

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or Runtime.from_settings(settings, clock=clock)
        app.state.runtime = rt
        admin_key = await run_in_threadpool(prepare_database, rt)
        if admin_key:
            log.warning(
                "Created the workspace. Initial admin API key (shown once): %s — "
                "if it is lost, run `corral db admin-key` for a new one.",
                admin_key,
            )
        rt.db.start_background_checkpoints()
        if write_process:
            await run_in_threadpool(rt.db.start_write_process)
        detection = start_detection(rt)
        recorder = await run_in_threadpool(
            functools.partial(start_recorder, rt, own_process=record_process)
        )
        jobs = JobRunner(rt, background_jobs(settings) if settings.jobs_enabled else [])
        jobs.start()
        if freeze_heap:
            await run_in_threadpool(_load_what_calls_read)
            log.debug("froze %d start-up objects", freeze_startup_heap())
        try:
            async with mcp_running():
                yield
        finally:
            await upstream_of(app.state).close()
            await run_in_threadpool(stop_hold_writer, rt)
            jobs.stop()
            if recorder is not None:  # before detection: its spans are judged as they commit
                await run_in_threadpool(recorder.stop)
            detection.stop()
            if runtime is None:
                rt.db.dispose()

    app = FastAPI(
        title="Corral",
        version=__version__,
        summary="The control plane for AI agents in production.",
        lifespan=lifespan,
        dependencies=[Depends(refuse_nul_in_url)],
    )
    install_error_handlers(app, html_errors=console_error)
    app.add_middleware(GatewayFastPath)  # innermost: the gateway's calls skip the router
    app.add_middleware(BodySizeLimitMiddleware, max_bytes=settings.max_request_bytes)
    app.add_middleware(RequestIdMiddleware)

    @app.get("/healthz", tags=["health"], summary="Liveness: the process answers")
    def healthz() -> Health:
        return Health(status="ok")

    @app.get(
        "/readyz",
        tags=["health"],
        summary="Readiness: the database answers and its schema is current",
        responses={503: {"model": Health}},
    )
    def readyz(response: Response) -> Health:
        problem = readiness_problem(app.state.runtime)
        if problem is None:
            return Health(status="ok")
        response.status_code = 503
        return Health(status="unavailable", detail=problem)

    app.include_router(build_public_router())
    app.include_router(build_v1_router())
    install_console(app)
    mcp_running = mount_mcp(app)
    return app


def _load_what_calls_read() -> None:
    """Load the price table and the tokenizer, which the first gateway call would: loaded
    before the heap is frozen, their objects (about 20,000) are frozen with it, instead of being
    walked by every full collection, a pause of the event loop."""
    default_price_book()
    count_tokens("")


def create_app_from_env() -> FastAPI:
    """Factory for ``uvicorn --factory`` and worker processes: settings from the environment."""
    settings = Settings()
    return create_app(
        settings,
        freeze_heap=True,
        write_process=settings.sqlite_write_process,
        record_process=settings.gateway_recorder == "process",
    )
