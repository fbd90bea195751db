"""``corral demo``: Corral with a small agent fleet at work, in one command."""

from __future__ import annotations

import click

from corral.cli.output import err_console


@click.command()
@click.option(
    "--duration",
    type=click.FloatRange(min=10),
    default=180,
    show_default=True,
    help="Seconds the fleet works for.",
)
@click.option("--quick", is_flag=True, help="A short run: every incident once, no pacing.")
@click.option(
    "--exit", "exit_when_done", is_flag=True, help="Stop the server when the fleet is done."
)
@click.option("--port", type=int, help="Port of the server (CORRAL_PORT, default 8600; 0: any).")
@click.option(
    "--new-password", is_flag=True, help="Set (and show) a new password for the demo login."
)
def demo(
    duration: float, quick: bool, exit_when_done: bool, port: int | None, new_password: bool
) -> None:
    """Run Corral with a small agent fleet at work, for a tour of the console.

    Serves Corral on its usual database (SQLite under CORRAL_HOME unless CORRAL_DATABASE_URL
    says otherwise) and a fake model provider, sets up three client projects and four agents,
    then has them work through the gateway and the SDK — with the failures Corral exists to
    catch. Prints the console's address and login. Running it again adds work, not copies.
    """
    from corral.demo.runner import DemoOptions, run_demo
    from corral.settings import Settings

    settings = Settings() if port is None else Settings(port=port)
    options = DemoOptions(
        duration=duration,
        quick=quick,
        exit_when_done=exit_when_done,
        new_password=new_password,
        save_login=settings.port != 0,  # a login to a port picked at random would not last
    )
    run_demo(settings, options, console=err_console)
