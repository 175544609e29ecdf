"""The database handle: SQLAlchemy's sync engine, used from Trio through worker threads."""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

import attrs
import sqlalchemy as sa
import trio
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.pool import StaticPool

from storage.config import DatabaseConfig
from storage.errors import DatabaseUnavailable

log = logging.getLogger("bedrock.storage")

P = ParamSpec("P")
T = TypeVar("T")


@attrs.frozen
class DatabaseStatistics:
    """Counters of the database handle, for /health and metrics."""

    dialect: str
    threads_busy: int
    threads_total: int
    transactions: int
    failures: int


@attrs.define(eq=False)
class Database:
    """One engine and a thread limiter sized to its pool; every call runs in a worker thread.

    Repositories are plain sync functions taking a `Connection` first; `read` and `write` run
    one of them inside a transaction. On SQLite, `write` starts with `BEGIN IMMEDIATE` so a
    read-then-write cannot lose an update; `read` takes a deferred (shared) transaction.
    """

    engine: Engine
    limiter: trio.CapacityLimiter
    _transactions: int = 0
    _failures: int = 0

    @property
    def dialect(self) -> str:
        """`sqlite` or `postgresql`."""
        return self.engine.dialect.name

    async def read(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run `fn(conn, ...)` in a read transaction."""
        return await self._run(False, fn, *args, **kwargs)

    async def write(
        self, fn: Callable[Concatenate[Connection, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run `fn(conn, ...)` in a write transaction, committed when it returns."""
        return await self._run(True, fn, *args, **kwargs)

    def run_sync(self, write: bool, fn: Callable[[Connection], T]) -> T:
        """Run `fn(conn)` in a transaction on the calling thread (CLI and worker code)."""
        options = {"bedrock_write": write}
        try:
            with self.engine.connect().execution_options(**options) as conn, conn.begin():
                result = fn(conn)
            self._transactions += 1
            return result
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as exc:
            self._failures += 1
            raise DatabaseUnavailable(_describe(exc)) from exc

    async def _run(
        self,
        write: bool,
        fn: Callable[Concatenate[Connection, P], T],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> T:
        def call(conn: Connection) -> T:
            return fn(conn, *args, **kwargs)

        job = functools.partial(self.run_sync, write, call)
        return await trio.to_thread.run_sync(job, limiter=self.limiter)

    async def ping(self) -> None:
        """Raise `DatabaseUnavailable` unless a trivial query succeeds."""
        await self.read(lambda conn: conn.execute(sa.text("SELECT 1")).scalar_one())

    def statistics(self) -> DatabaseStatistics:
        """A snapshot of the handle's counters."""
        total = int(self.limiter.total_tokens)
        return DatabaseStatistics(
            dialect=self.dialect,
            threads_busy=total - int(self.limiter.available_tokens),
            threads_total=total,
            transactions=self._transactions,
            failures=self._failures,
        )

    def __repr__(self) -> str:
        stats = self.statistics()
        return (
            f"<Database {stats.dialect} busy={stats.threads_busy}/{stats.threads_total}"
            f" tx={stats.transactions} failures={stats.failures}>"
        )


def _describe(exc: BaseException) -> str:
    # the driver's message without the SQL statement and parameters
    orig = getattr(exc, "orig", None)
    return str(orig or exc).splitlines()[0][:300]


def create_engine(config: DatabaseConfig) -> Engine:
    """An engine configured for our use: SQLite pragmas and locking, or PostgreSQL via psycopg."""
    url = sa.make_url(config.url)
    if url.get_backend_name() == "sqlite":
        return _sqlite_engine(url, config)
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    return sa.create_engine(
        url,
        pool_size=config.max_connections,
        max_overflow=0,
        pool_pre_ping=True,
        pool_recycle=1800,
        connect_args={"connect_timeout": 5, "application_name": "bedrock-sso-proxy"},
    )


def _sqlite_engine(url: sa.URL, config: DatabaseConfig) -> Engine:
    memory = url.database in (None, "", ":memory:")
    if memory:
        engine = sa.create_engine(
            url, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
    else:
        Path(url.database or "").expanduser().parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(
            url,
            pool_size=config.max_connections,
            max_overflow=0,
            connect_args={"check_same_thread": False, "timeout": config.busy_timeout_ms / 1000},
        )

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # pysqlite's own transaction handling would defer BEGIN and lose updates
        dbapi_conn.isolation_level = None
        cursor = dbapi_conn.cursor()
        if not memory:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(config.busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        write = conn.get_execution_options().get("bedrock_write", True)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

    return engine


def _limiter_size(engine: Engine, config: DatabaseConfig) -> int:
    return 1 if isinstance(engine.pool, StaticPool) else config.max_connections


@asynccontextmanager
async def open_database(config: DatabaseConfig) -> AsyncIterator[Database]:
    """Open the engine; dispose of every pooled connection on exit."""
    engine = create_engine(config)
    db = Database(engine=engine, limiter=trio.CapacityLimiter(_limiter_size(engine, config)))
    try:
        yield db
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(engine.dispose)
        log.debug("database closed")
