"""``corral serve``: run the server."""

from __future__ import annotations

import logging
import os

import click

from corral.cli.output import err_console


@click.command()
@click.option("--host", help="Address to listen on (CORRAL_HOST, default 127.0.0.1).")
@click.option("--port", type=int, help="Port to listen on (CORRAL_PORT, default 8600).")
@click.option("--workers", type=int, help="Worker processes (CORRAL_WORKERS, default 1).")
def serve(host: str | None, port: int | None, workers: int | None) -> None:
    """Run the Corral server (the REST API) until interrupted.

    On first start it creates the workspace and prints an admin API key once.
    """
    import uvicorn

    from corral.core.runtime import Runtime
    from corral.server.app import prepare_database
    from corral.settings import Settings

    # Worker processes read their settings from the environment, so overrides go there.
    for name, value in (("HOST", host), ("PORT", port), ("WORKERS", workers)):
        if value is not None:
            os.environ[f"CORRAL_{name}"] = str(value)
    settings = Settings()
    logging.basicConfig(
        level=settings.log_level.upper(), format="%(levelname)s %(name)s: %(message)s"
    )
    logging.getLogger("alembic").setLevel(logging.WARNING)
    rt = Runtime.from_settings(settings)
    try:
        admin_key = prepare_database(rt)
    finally:
        rt.db.dispose()
    url = f"http://{settings.host}:{settings.port}"
    if admin_key:
        _announce_admin_key(admin_key, url)
    err_console.print(f"Corral {rt.db.dialect} database: {rt.db}")
    err_console.print(f"Serving on [bold]{url}[/bold] (Ctrl-C to stop)")
    uvicorn.run(
        "corral.server.app:create_app_from_env",
        factory=True,
        host=settings.host,
        port=settings.port,
        workers=settings.workers,
        log_level=settings.log_level,
        proxy_headers=True,
    )


def _announce_admin_key(admin_key: str, url: str) -> None:
    from corral.cli import config as cli_config

    err_console.print(
        "\n[bold]Created the workspace.[/bold] Admin API key (shown only this once):\n\n"
        f"    [bold green]{admin_key}[/bold green]\n\n"
        "Keep it safe. If it is lost, `corral db admin-key` (run where the database is "
        "reachable) makes a new one."
    )
    if not cli_config.load_saved():
        path = cli_config.save(url, admin_key)
        err_console.print(f"The CLI on this machine is logged in with it ({path}).\n")
