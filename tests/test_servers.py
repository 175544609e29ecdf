from __future__ import annotations

import coredis
import psycopg
import pytest
import trio

from tests.servers import PostgresServer, RedisServer


def _libpq(url: str) -> str:
    """SQLAlchemy URL -> libpq URL for psycopg."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _query(url: str, sql: str) -> list[tuple[object, ...]]:
    with psycopg.connect(_libpq(url), autocommit=True) as conn:
        cur = conn.execute(sql)
        return cur.fetchall() if cur.description else []


async def test_redis_ping_and_set(redis_url: str) -> None:
    async with coredis.Redis.from_url(redis_url, decode_responses=True) as r:
        assert await r.ping() == "PONG"
        await r.set("k", "v")
        assert await r.get("k") == "v"


async def test_redis_is_flushed_between_tests(redis_url: str) -> None:
    async with coredis.Redis.from_url(redis_url, decode_responses=True) as r:
        assert await r.get("k") is None


async def test_redis_outage_and_recovery(redis_server: RedisServer, redis_url: str) -> None:
    redis_server.stop()
    async with coredis.Redis.from_url(redis_url) as r:
        with pytest.raises(coredis.exceptions.ConnectionError):  # not a builtin subclass
            await r.ping()
    redis_server.start()
    async with coredis.Redis.from_url(redis_url) as r:
        assert await r.ping()


async def test_postgres_select_1_in_thread(postgres_url: str) -> None:
    rows = await trio.to_thread.run_sync(_query, postgres_url, "select 1")
    assert rows == [(1,)]


def test_postgres_fresh_database_per_test(postgres_url: str) -> None:
    dbname = postgres_url.rsplit("/", 1)[1]
    assert dbname.startswith("test_")
    assert _query(postgres_url, "select current_database()") == [(dbname,)]
    tables = "select count(*) from information_schema.tables where table_schema = 'public'"
    assert _query(postgres_url, tables) == [(0,)]
    _query(postgres_url, "create table leftover (id int)")


def test_postgres_restart_keeps_data(postgres_server: PostgresServer, postgres_url: str) -> None:
    _query(postgres_url, "create table t (id int); insert into t values (42)")
    postgres_server.stop()
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(_libpq(postgres_url), connect_timeout=2)
    postgres_server.start()
    assert _query(postgres_url, "select id from t") == [(42,)]


def test_database_url(database_url: str) -> None:
    assert database_url.startswith(("sqlite:///", "postgresql+psycopg://"))
