"""``corral openapi``: the REST API schema."""

from __future__ import annotations

import json

import click


def openapi_document() -> str:
    """The OpenAPI schema of this version of the server, as stable, indented JSON."""
    from corral.server.app import create_app
    from corral.settings import Settings

    return json.dumps(create_app(Settings()).openapi(), indent=2, sort_keys=True) + "\n"


@click.command()
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write to this file.")
def openapi(output: str | None) -> None:
    """Print the OpenAPI schema of the REST API (docs/openapi.json is this output)."""
    document = openapi_document()
    if output:
        with open(output, "w") as handle:
            handle.write(document)
    else:
        click.echo(document, nl=False)
