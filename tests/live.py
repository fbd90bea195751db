"""Real servers on real sockets: ``corral serve`` started as a subprocess."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class LiveServer:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def server_env(home: Path, database_url: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_")}
    env.update(
        CORRAL_HOME=str(home),
        CORRAL_DATABASE_URL=database_url,
        CORRAL_CONFIG=str(home / "cli-config.json"),
        CORRAL_LOG_LEVEL="warning",
        **extra,
    )
    return env


def start_server(
    home: Path, database_url: str, *, workers: int = 1, **extra_env: str
) -> LiveServer:
    """Start ``corral serve`` on a free port without waiting for it."""
    home.mkdir(parents=True, exist_ok=True)
    port = free_port()
    log_path = home / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "corral.cli",
                "serve",
                "--port",
                str(port),
                "--workers",
                str(workers),
            ],
            env=server_env(home, database_url, **extra_env),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    return LiveServer(url=f"http://127.0.0.1:{port}", process=process, log_path=log_path)


@contextmanager
def live_servers(
    homes: list[Path], database_url: str, *, timeout: float = 60.0, **extra_env: str
) -> Iterator[list[LiveServer]]:
    """Start one ``corral serve`` per home, all at once, on the same database."""
    servers = [start_server(home, database_url, **extra_env) for home in homes]
    try:
        for server in servers:
            wait_ready(server, timeout)
        yield servers
    finally:
        for server in servers:
            stop(server)


@contextmanager
def live_server(
    home: Path, database_url: str, *, timeout: float = 60.0, **extra_env: str
) -> Iterator[LiveServer]:
    """Start ``corral serve`` on a free port and stop it (SIGTERM) at the end."""
    with live_servers([home], database_url, timeout=timeout, **extra_env) as (server,):
        yield server


def wait_ready(server: LiveServer, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"corral serve exited early:\n{server.log()}")
        try:
            if httpx2.get(f"{server.url}/readyz", timeout=2).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"corral serve did not become ready in {timeout} s:\n{server.log()}")


def stop(server: LiveServer, sig: int = signal.SIGTERM) -> None:
    if server.process.poll() is None:
        server.process.send_signal(sig)
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait()


@contextmanager
def app_in_thread(app: object) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free port in a background thread; yields its URL."""
    import threading

    import uvicorn

    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")  # type: ignore[arg-type]
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the app did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)
