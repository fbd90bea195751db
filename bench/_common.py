"""Shared by the benchmarks: running servers, databases, and summarising timings."""

from __future__ import annotations

import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2

from corral.core.access import Principal
from corral.core.bootstrap import bootstrap_workspace
from corral.core.keys import authenticate
from corral.core.runtime import Runtime
from corral.db import migrate
from corral.settings import Settings

REPO = Path(__file__).resolve().parents[1]
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[index]


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def postgres_available(url: str) -> bool:
    try:
        import psycopg

        psycopg.connect(url.replace("+psycopg", ""), connect_timeout=3).close()
        return True
    except Exception:
        return False


@contextmanager
def scratch_postgres(server_url: str) -> Iterator[str]:
    """A new empty database on the PostgreSQL server, dropped afterwards."""
    import psycopg

    name = f"corral_bench_{uuid.uuid4().hex[:8]}"
    admin = server_url.replace("+psycopg", "")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    base, _, _ = server_url.rpartition("/")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]
    home: Path
    admin_key: str

    def rss_mib(self) -> float:
        """Resident memory of the server and its worker processes."""
        return tree_rss_mib(self.process.pid)

    def cpu_seconds(self) -> float:
        """CPU time used so far by the server and its worker processes."""
        return tree_cpu_seconds(self.process.pid)


def process_tree(pid: int) -> list[int]:
    """A process and its living descendants (worker processes, the SQLite write process)."""
    found: list[int] = []
    pending = [pid]
    while pending:
        current = pending.pop()
        if current in found:
            continue
        try:
            for task in Path(f"/proc/{current}/task").iterdir():
                pending.extend(int(c) for c in (task / "children").read_text().split())
        except OSError:
            continue
        found.append(current)
    return found


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user and system) used so far by a process and its living descendants."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for process in process_tree(pid):
        try:
            # Fields after the command name (which may hold spaces): utime and stime are 14, 15.
            fields = Path(f"/proc/{process}/stat").read_text().rpartition(")")[2].split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / tick
    return total


def tree_rss_mib(pid: int) -> float:
    """Resident memory of a process and its living descendants."""
    total = 0.0
    for process in process_tree(pid):
        try:
            status = Path(f"/proc/{process}/status").read_text()
        except OSError:
            continue
        rss = [line for line in status.splitlines() if line.startswith("VmRSS:")]
        total += sum(int(line.split()[1]) for line in rss)
    return total / 1024


@contextmanager
def corral_server(database_url: str, **env: str) -> Iterator[Server]:
    """``corral serve`` on a free port with a fresh home, stopped at the end."""
    with tempfile.TemporaryDirectory(prefix="corral-bench-") as scratch:
        home = Path(scratch)
        port = free_port()
        environment = {k: v for k, v in os.environ.items() if not k.startswith("CORRAL_")}
        environment.update(
            CORRAL_HOME=str(home),
            CORRAL_DATABASE_URL=database_url,
            CORRAL_CONFIG=str(home / "cli.json"),
            CORRAL_LOG_LEVEL="warning",
            **env,
        )
        log = (home / "server.log").open("wb")
        process = subprocess.Popen(
            [sys.executable, "-m", "corral.cli", "serve", "--port", str(port)],
            env=environment,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        url = f"http://127.0.0.1:{port}"
        try:
            wait_http(f"{url}/readyz", process, home / "server.log")
            key = json.loads((home / "cli.json").read_text())["api_key"]
            yield Server(url=url, process=process, home=home, admin_key=key)
        finally:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                process.kill()
            log.close()


def wait_http(url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited early:\n{log.read_text(errors='replace')}")
        try:
            if httpx2.get(url, timeout=2).status_code == 200:
                return
        except httpx2.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"the server did not answer {url} in {timeout} s")


class PeakRss:
    """Samples a process's resident memory in the background and keeps the peak."""

    def __init__(self, rss: object) -> None:
        self._rss = rss
        self.peak = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> PeakRss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            value = self._rss()  # type: ignore[operator]
            if value == value:  # not NaN
                self.peak = max(self.peak, value)
            self._stop.wait(0.1)


def print_table(title: str, rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in rows:
        print("  ".join(str(c).ljust(w) for c, w in zip(row, widths, strict=True)))


@contextmanager
def scratch_runtime(
    database_url: str | None, **settings: object
) -> Iterator[tuple[Runtime, Principal, str]]:
    """A migrated, empty Corral in this process (a temporary SQLite file unless a URL is given),
    its admin principal and admin key."""
    with tempfile.TemporaryDirectory() as home:
        url = database_url or f"sqlite:///{home}/bench.db"
        rt = Runtime.from_settings(Settings(home=Path(home), database_url=url, **settings))  # type: ignore[arg-type]
        migrate.upgrade(rt.db)
        key = bootstrap_workspace(rt)
        if key is None:
            raise SystemExit(f"{url} is not empty: give a fresh database to benchmark on.")
        try:
            yield rt, authenticate(rt, key), key
        finally:
            rt.db.dispose()
