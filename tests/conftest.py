"""Test fixtures: every database test runs on SQLite, and on PostgreSQL when a URL is given.

PostgreSQL: pass ``--postgres-url`` or set ``CORRAL_TEST_POSTGRES_URL`` (``.ci/run`` does). Each
test session creates its own database on that server, migrates it once and empties it between
tests; a server that cannot be reached fails the run rather than skipping the tests.
"""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

import corral
from corral.core.bootstrap import bootstrap_workspace
from corral.core.clock import ManualClock
from corral.core.runtime import Runtime
from corral.db import Database, migrate
from corral.db.schema import Base
from corral.server.app import create_app
from corral.settings import Settings


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--postgres-url",
        default=os.environ.get("CORRAL_TEST_POSTGRES_URL"),
        help="PostgreSQL server for the PostgreSQL half of the suite "
        "(e.g. postgresql+psycopg://postgres@127.0.0.1:5432/postgres).",
    )


def postgres_url(config: pytest.Config) -> str | None:
    value = config.getoption("--postgres-url")
    return str(value) if value else None


def pytest_report_header(config: pytest.Config) -> str:
    url = postgres_url(config)
    return f"databases: sqlite{', postgresql' if url else ' (no PostgreSQL URL given)'}"


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "backend" in metafunc.fixturenames:
        backends = ["sqlite"]
        if postgres_url(metafunc.config):
            backends.append("postgresql")
        metafunc.parametrize("backend", backends, scope="session")


class PostgresServer:
    """A scratch database per test session on the given PostgreSQL server."""

    def __init__(self, server_url: str) -> None:
        self.server_url = make_url(server_url)
        worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
        self.prefix = f"corral_test_{worker}_{uuid.uuid4().hex[:8]}"
        self._admin = create_engine(self.server_url, isolation_level="AUTOCOMMIT")
        self._created: list[str] = []

    def create_database(self, suffix: str = "") -> str:
        name = f"{self.prefix}{suffix}_{len(self._created)}"
        with self._admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        self._created.append(name)
        return self.server_url.set(database=name).render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with self._admin.connect() as conn:
            for name in self._created:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        self._admin.dispose()


@pytest.fixture(scope="session")
def postgres_server(request: pytest.FixtureRequest) -> Iterator[PostgresServer]:
    url = postgres_url(request.config)
    if url is None:
        pytest.fail("this test needs PostgreSQL: pass --postgres-url or CORRAL_TEST_POSTGRES_URL")
    server = PostgresServer(url)
    yield server
    server.drop_all()


_MIGRATED: dict[str, str] = {}


@pytest.fixture(scope="session")
def migrated_url(
    backend: str, tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest
) -> str:
    """A migrated database made once per session and backend: a template file to copy, or a
    PostgreSQL database emptied between tests."""
    if backend not in _MIGRATED:
        if backend == "sqlite":
            url = f"sqlite:///{tmp_path_factory.mktemp('template') / 'template.db'}"
        else:
            url = request.getfixturevalue("postgres_server").create_database()
        db = Database(url)
        migrate.upgrade(db)
        db.dispose()
        _MIGRATED[backend] = url
    return _MIGRATED[backend]


@pytest.fixture
def database_url(backend: str, migrated_url: str, tmp_path: Path) -> Iterator[str]:
    """A migrated, empty database for one test."""
    if backend == "sqlite":
        template = make_url(migrated_url).database
        assert template is not None
        target = tmp_path / "corral.db"
        shutil.copyfile(template, target)
        yield f"sqlite:///{target}"
        return
    yield migrated_url
    db = Database(migrated_url)
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    db.dispose()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    # In-process apps run no background jobs: tests call job functions directly, with the
    # manual clock, so nothing happens behind their back. Gateway calls are recorded by their
    # own requests, so a test reads them as soon as the call returns.
    return Settings(
        home=tmp_path / "home",
        database_url=database_url,
        jobs_enabled=False,
        gateway_record_delay_ms=0,
    )


@pytest.fixture
def runtime(settings: Settings, clock: ManualClock) -> Iterator[Runtime]:
    rt = Runtime.from_settings(settings, clock=clock)
    yield rt
    rt.db.dispose()


@pytest.fixture
def admin_key(runtime: Runtime) -> str:
    key = bootstrap_workspace(runtime)
    assert key is not None
    return key


@pytest.fixture
def app(runtime: Runtime, admin_key: str) -> FastAPI:
    return create_app(runtime=runtime)


@pytest.fixture
def http(app: FastAPI) -> Iterator[TestClient]:
    """The app over ASGI, started (lifespan run) and without credentials."""
    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


@pytest.fixture
def admin(http: TestClient, admin_key: str) -> corral.Client:
    """The SDK client of the workspace administrator, talking to the in-process app."""
    return corral.Client(url="http://testserver", api_key=admin_key, http_client=http)


def client_for(http: TestClient, key: str) -> corral.Client:
    return corral.Client(url="http://testserver", api_key=key, http_client=http)


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}
