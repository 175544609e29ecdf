from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import trio

from storage import migrate
from storage.config import DatabaseConfig
from storage.database import Database, open_database
from tests.servers import PostgresServer, RedisServer, run_postgres, run_redis

if TYPE_CHECKING:
    from tests.oidc import OidcProvider

# --- real servers ---
# One redis-server and one PostgreSQL cluster per session, started on first use on
# free loopback ports. Tests may stop()/start() them to simulate outages; the
# function-scoped fixtures below start them again if a test left them down.


@pytest.fixture(scope="session")
def redis_server() -> Iterator[RedisServer]:
    with run_redis() as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """URL of the shared redis-server, running and emptied (FLUSHALL) for this test."""
    redis_server.start()
    redis_server.flushall()
    return redis_server.url


@pytest.fixture(scope="session")
def oidc_provider() -> Iterator[OidcProvider]:
    """A real OpenID Connect provider on 127.0.0.1 (tests/oidc.py); set users per test."""
    from tests.oidc import run_oidc_provider  # Flask and friends only when asked for

    with run_oidc_provider() as provider:
        yield provider


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with run_postgres() as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """SQLAlchemy URL of a fresh, uniquely named database, dropped after the test."""
    postgres_server.start()
    name = f"test_{uuid.uuid4().hex[:12]}"
    url = postgres_server.create_database(name)
    yield url
    postgres_server.start()
    postgres_server.drop_database(name)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path}/test.db"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """The same test against SQLite and PostgreSQL (ids: sqlite, postgresql)."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    return str(request.getfixturevalue(fixture))


# --- storage ---


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    """A migrated database (SQLite and PostgreSQL), closed after the test."""
    async with open_database(DatabaseConfig(url=database_url)) as database:
        await trio.to_thread.run_sync(migrate.upgrade, database.engine)
        yield database


@pytest.fixture
async def sqlite_db(sqlite_url: str) -> AsyncIterator[Database]:
    """A migrated SQLite database only (for tests that need file-level tricks)."""
    async with open_database(DatabaseConfig(url=sqlite_url)) as database:
        await trio.to_thread.run_sync(migrate.upgrade, database.engine)
        yield database


# --- hygiene ---


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """Tests that run the CLI in-process install log handlers on pytest's captured stderr,
    which is closed after the test; put the root logger back as it was."""
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers = handlers
    root.setLevel(level)
