"""Corral and the fake provider, served from this process for the length of the demo.

In-process (uvicorn in threads) rather than subprocesses: one Ctrl-C stops everything, nothing is
left running, and the demo reaches the database directly for the one thing the API cannot give
it — an admin key on a workspace it did not create.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from corral.core.keys import issue_admin_key
from corral.core.runtime import Runtime
from corral.errors import CorralError
from corral.settings import Settings


class PortInUse(CorralError):
    status = 409
    default_code = "port_in_use"


@dataclass
class DemoServers:
    url: str
    fake_url: str
    runtime: Runtime
    new_admin_key: str | None
    """The workspace's first admin key, when this start created the workspace."""

    def mint_admin_key(self) -> str:
        return issue_admin_key(self.runtime, name="corral demo")


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


@contextmanager
def serve_in_thread(app: Any, host: str, port: int) -> Iterator[str]:
    """Serve an ASGI app on ``host:port`` from a daemon thread until the block ends."""
    import uvicorn

    # The asyncio loop: uvloop cannot be closed cleanly from a thread with connections open.
    config = uvicorn.Config(app, host=host, port=port, log_level="warning", loop="asyncio")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"serve-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive():
            raise PortInUse(
                f"could not listen on {host}:{port}; is another server using it? "
                "Stop it, or choose another port with --port.",
            )
        if time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError(f"the server on port {port} did not start")
        time.sleep(0.02)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(30)


@contextmanager
def demo_servers(settings: Settings, *, fake_llm_app: Any) -> Iterator[DemoServers]:
    """Migrate and open the database of ``settings``, then serve Corral on its host and port
    (0: any free port) and the fake provider on a free port."""
    from corral.server.app import create_app, prepare_database

    runtime = Runtime.from_settings(settings)
    try:
        new_key = prepare_database(runtime)
        port = settings.port or free_port(settings.host)
        with (
            serve_in_thread(fake_llm_app, "127.0.0.1", free_port()) as fake_url,
            serve_in_thread(create_app(runtime=runtime), settings.host, port) as url,
        ):
            yield DemoServers(url=url, fake_url=fake_url, runtime=runtime, new_admin_key=new_key)
    finally:
        runtime.db.dispose()
