"""The usage accountant: batches, the journal, replay, backpressure — no row lost or doubled."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa
import trio

from actors.config import UsageConfig
from actors.usage import open_usage_accountant
from actors.usage.accountant import UsageAccountant
from storage.config import DatabaseConfig
from storage.database import Database, open_database
from storage.schema import api_keys, usage_records
from tests.factories import insert_user, usage_event
from tests.readonly import read_only_sqlite
from tests.servers import PostgresServer


def config(tmp_path: Path, **overrides: object) -> UsageConfig:
    fields: dict[str, object] = {
        "journal_path": str(tmp_path / "journal.jsonl"),
        "batch_size": 50,
        "flush_interval_seconds": 0.05,
        "retry_max_seconds": 0.2,
    }
    fields.update(overrides)
    return UsageConfig(**fields)  # type: ignore[arg-type]


async def count_rows(db: Database) -> int:
    return int(
        await db.read(
            lambda c: c.execute(sa.select(sa.func.count()).select_from(usage_records)).scalar_one()
        )
    )


async def request_ids(db: Database) -> list[str]:
    return sorted(
        await db.read(lambda c: list(c.execute(sa.select(usage_records.c.request_id)).scalars()))
    )


async def wait_for(predicate, timeout: float = 10) -> None:  # type: ignore[no-untyped-def]
    """Poll a condition driven by the accountant's own progress (it works in threads)."""
    with trio.fail_after(timeout):
        while not predicate():
            await trio.sleep(0.01)


async def test_rows_are_written_in_batches_and_duplicates_ignored(
    db: Database, tmp_path: Path
) -> None:
    user = await db.write(insert_user)
    events = [usage_event(user, n) for n in range(120)]
    async with open_usage_accountant(db, config(tmp_path), flush_timeout=10) as acct:
        for event in events:
            await acct.record(event)
        await acct.record(events[0])  # the same request id again (e.g. a replayed journal)
    stats = acct.statistics()
    assert await count_rows(db) == 120
    assert stats.written == 121 and stats.duplicates == 1
    assert stats.journaled == 0 and stats.queued == 0
    row = await db.read(
        lambda c: c.execute(
            sa.select(usage_records).where(usage_records.c.request_id == events[5].request_id)
        ).one()
    )
    assert (row.input_tokens, row.output_tokens, row.model_id) == (15, 25, events[5].model_id)
    assert row.cost_usd is None  # no pricer: unknown, not zero
    assert stats.unpriced == 121


async def test_api_key_last_used_moves_forward_with_the_batch(db: Database, tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    user = await db.write(insert_user)
    now = datetime(2026, 11, 1, tzinfo=UTC)

    def make_key(conn: sa.Connection) -> int:
        result = conn.execute(
            sa.insert(api_keys).values(
                user_id=user, name="k", key_hash="h", hint="SSOK_…", created_at=now
            )
        )
        return int(result.inserted_primary_key[0])

    key = await db.write(make_key)
    async with open_usage_accountant(db, config(tmp_path), flush_timeout=10) as acct:
        for minutes in (5, 30, 10):
            await acct.record(
                usage_event(user, api_key_id=key, requested_at=now + timedelta(minutes=minutes))
            )
    last_used = await db.read(lambda c: c.execute(sa.select(api_keys.c.last_used_at)).scalar_one())
    assert last_used == now + timedelta(minutes=30)


async def test_sqlite_read_only_journals_then_replays(sqlite_db: Database, tmp_path: Path) -> None:
    db = sqlite_db
    user = await db.write(insert_user)
    db_file = Path(db.engine.url.database or "")
    first = [usage_event(user, n) for n in range(30)]
    during = [usage_event(user, 100 + n) for n in range(70)]
    async with open_usage_accountant(db, config(tmp_path), flush_timeout=10) as acct:
        for event in first:
            await acct.record(event)
        await wait_for(lambda: acct.statistics().written == 30)
        with read_only_sqlite(db_file):
            for event in during:
                await acct.record(event)
            await wait_for(lambda: acct.statistics().journaled == 70)
            assert not acct.statistics().database_available
            assert acct.statistics().journal_bytes > 0
        await wait_for(lambda: acct.statistics().replayed == 70)
    stats = acct.statistics()
    assert await request_ids(db) == sorted(e.request_id for e in first + during)
    assert stats.journal_bytes == 0 and stats.failed_batches >= 1
    assert (tmp_path / "journal.jsonl").stat().st_size == 0


async def test_postgres_stopped_and_restarted_loses_nothing(
    postgres_url: str, postgres_server: PostgresServer, tmp_path: Path
) -> None:
    from storage import migrate

    async with open_database(DatabaseConfig(url=postgres_url)) as db:
        await trio.to_thread.run_sync(migrate.upgrade, db.engine)
        user = await db.write(insert_user)
        events = [usage_event(user, n) for n in range(200)]
        async with open_usage_accountant(db, config(tmp_path), flush_timeout=20) as acct:
            for event in events[:50]:
                await acct.record(event)
            await wait_for(lambda: acct.statistics().written == 50)
            await trio.to_thread.run_sync(postgres_server.stop)
            for event in events[50:150]:
                await acct.record(event)
            await wait_for(lambda: acct.statistics().journaled == 100)
            await trio.to_thread.run_sync(postgres_server.start)
            for event in events[150:]:
                await acct.record(event)
            # events recorded around the restart may be journaled too: wait for the journal
            # to drain, then every row must be in the database exactly once
            await wait_for(
                lambda: acct.statistics().replayed >= 100 and acct.statistics().journal_bytes == 0,
                timeout=30,
            )
        assert await request_ids(db) == sorted(e.request_id for e in events)


async def test_backpressure_when_memory_and_journal_are_full(
    sqlite_db: Database, tmp_path: Path
) -> None:
    db = sqlite_db
    user = await db.write(insert_user)
    db_file = Path(db.engine.url.database or "")
    small = config(tmp_path, queue_size=5, batch_size=5, max_journal_bytes=4096)
    blocked = trio.Event()
    sent = 0
    async with open_usage_accountant(db, small, flush_timeout=10) as acct:
        with read_only_sqlite(db_file):

            async def producer() -> None:
                nonlocal sent
                for n in range(200):
                    with trio.move_on_after(1) as waited:
                        await acct.record(usage_event(user, n))
                    if waited.cancelled_caught:
                        blocked.set()
                        return
                    sent += 1

            async with trio.open_nursery() as nursery:
                nursery.start_soon(producer)
                with trio.fail_after(10):
                    await blocked.wait()
            assert acct.statistics().backpressure
            assert 0 < sent < 200
        # writable again: everything held and journaled reaches the database
    assert await count_rows(db) == sent


async def test_flush_timeout_keeps_the_rest_in_the_journal_for_the_next_start(
    sqlite_db: Database, tmp_path: Path
) -> None:
    db = sqlite_db
    user = await db.write(insert_user)
    db_file = Path(db.engine.url.database or "")
    events = [usage_event(user, n) for n in range(40)]
    with read_only_sqlite(db_file):
        async with open_usage_accountant(db, config(tmp_path), flush_timeout=0.5) as acct:
            for event in events:
                await acct.record(event)
        assert acct.statistics().journaled == 40
    assert await count_rows(db) == 0
    # the next start replays the journal
    async with open_usage_accountant(db, config(tmp_path), flush_timeout=10) as acct2:
        await wait_for(lambda: acct2.statistics().replayed == 40)
    assert await request_ids(db) == sorted(e.request_id for e in events)


CHILD = Path(__file__).with_name("journal_child.py")


async def test_killed_process_loses_nothing_journaled(sqlite_db: Database, tmp_path: Path) -> None:
    db = sqlite_db
    user = await db.write(insert_user)
    db_file = Path(db.engine.url.database or "")
    journal = tmp_path / "journal.jsonl"
    with read_only_sqlite(db_file):
        child = await trio.lowlevel.open_process(
            [sys.executable, str(CHILD), str(db.engine.url), str(journal), str(user), "60"],
            stdout=subprocess.PIPE,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
        )
        assert child.stdout is not None
        with trio.fail_after(30):
            line = await child.stdout.receive_some(100)
        assert line.startswith(b"journaled 60"), line
        child.send_signal(signal.SIGKILL)
        await child.wait()
    assert await count_rows(db) == 0
    async with open_usage_accountant(db, config(tmp_path), flush_timeout=10) as acct:
        await wait_for(lambda: acct.statistics().replayed == 60)
    assert await count_rows(db) == 60


async def test_statistics_and_repr(sqlite_db: Database, tmp_path: Path) -> None:
    acct = UsageAccountant(sqlite_db, config(tmp_path))
    assert "queued=0" in repr(acct)
    assert acct.statistics().database_available


async def test_flush_returns_once_earlier_events_are_written(db: Database, tmp_path: Path) -> None:
    user = await db.write(insert_user)
    slow = config(tmp_path, flush_interval_seconds=60, batch_size=10_000)
    async with open_usage_accountant(db, slow, flush_timeout=10) as acct:
        for n in range(7):
            await acct.record(usage_event(user, n))
        await acct.flush()  # without it the batch would wait for its 60 s interval
        assert await count_rows(db) == 7
        await acct.flush()  # nothing pending: returns at once
