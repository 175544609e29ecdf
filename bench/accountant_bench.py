"""Benchmark of the usage accountant: rows written per second, and what `record()` costs the
request path, on SQLite and on a throwaway PostgreSQL.

    .venv/bin/python bench/accountant_bench.py [--events 100000] [--senders 50]
                                               [--batch-size 500] [--only sqlite|postgresql]

Each event is priced by the real price book (shipped price table) on the way in. Senders are
Trio tasks calling `await accountant.record(event)` as fast as they can, like request handlers;
the per-call time is measured on their side. Targets: >= 5,000 rows/s on SQLite, >= 10,000 on
PostgreSQL, and record() in microseconds.
"""

from __future__ import annotations

import argparse
import itertools
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors.config import UsageConfig
from actors.pricing import open_price_book
from actors.usage import open_usage_accountant
from bench.common import percentiles
from ops.database_init import initialise
from proxy.usage import UsageEvent
from storage.config import DatabaseConfig
from storage.database import open_database
from tests.factories import insert_user

MODELS = (
    "us.anthropic.claude-sonnet-4-5-20250929-v1:0",
    "anthropic.claude-haiku-4-5-20251001-v1:0",
    "global.anthropic.claude-opus-4-5-20251101-v1:0",
)


def events(users: list[int], n: int) -> list[UsageEvent]:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    out = []
    for i, (user, model) in zip(range(n), itertools.cycle(itertools.product(users, MODELS))):
        out.append(
            UsageEvent(
                request_id=f"bench-{i}",
                user_id=user,
                api_key_id=None,
                model_id=model,
                model_name=None,
                region="us-east-1",
                route="bedrock.invoke",
                requested_at=start + timedelta(milliseconds=i),
                input_tokens=1000 + i % 97,
                output_tokens=200 + i % 31,
                cache_read_tokens=i % 500,
                cache_write_5m_tokens=i % 7,
                response_time_ms=300 + i % 5000,
                first_byte_ms=120,
            )
        )
    return out


async def run_one(url: str, n: int, senders: int, batch_size: int, journal: Path) -> None:
    config = DatabaseConfig(url=url, max_connections=5)
    async with open_database(config) as db:
        await trio.to_thread.run_sync(initialise, db.engine, False, False)
        users = [await db.write(insert_user) for _ in range(20)]
        todo = events(users, n)
        usage = UsageConfig(
            journal_path=str(journal), batch_size=batch_size, queue_size=max(10_000, batch_size * 4)
        )
        per_call: list[float] = []
        async with (
            open_price_book(db, None, 300) as book,
            open_usage_accountant(db, usage, flush_timeout=120, pricer=book.quote) as acct,
        ):

            async def sender(chunk: list[UsageEvent]) -> None:
                for event in chunk:
                    t = time.perf_counter()
                    await acct.record(event)
                    per_call.append(time.perf_counter() - t)

            started = time.perf_counter()
            async with trio.open_nursery() as nursery:
                for k in range(senders):
                    nursery.start_soon(sender, todo[k::senders])
            sent = time.perf_counter() - started
            await acct.flush()
            elapsed = time.perf_counter() - started
            stats = acct.statistics()
            paced = await _paced(acct, users, rate=2000, seconds=2.0)
        assert stats.written == n, stats
        assert stats.journaled == 0, stats
        calls = percentiles(per_call)
        print(
            f"{db.dialect:10s} {n} rows in {elapsed:.2f}s = {n / elapsed:,.0f} rows/s"
            f" (batch {batch_size}, {senders} senders; all sent after {sent:.2f}s)"
        )
        print(
            f"{'':10s} record() per call: p50 {calls['p50'] * 1000:.1f} µs,"
            f" p99 {calls['p99'] * 1000:.1f} µs, mean {calls['mean'] * 1000:.1f} µs;"
            f" unpriced {stats.unpriced}, failed batches {stats.failed_batches}"
        )
        print(
            f"{'':10s} record() per call at 2,000 events/s (below capacity, like production):"
            f" p50 {paced['p50'] * 1000:.1f} µs, p99 {paced['p99'] * 1000:.1f} µs"
        )


async def _paced(acct: Any, users: list[int], *, rate: float, seconds: float) -> dict[str, float]:
    """record() latency when the accountant keeps up (the request path's normal case)."""
    todo = events(users, int(rate * seconds))
    for i, event in enumerate(todo):
        todo[i] = attrs.evolve(event, request_id=f"paced-{i}")
    samples: list[float] = []
    start = trio.current_time()
    for i, event in enumerate(todo):
        await trio.sleep_until(start + i / rate)
        t = time.perf_counter()
        await acct.record(event)
        samples.append(time.perf_counter() - t)
    await acct.flush()
    return percentiles(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--senders", type=int, default=50)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--only", choices=("sqlite", "postgresql"))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.only != "postgresql":
            url = f"sqlite:///{tmp}/bench.db"
            trio.run(run_one, url, args.events, args.senders, args.batch_size, Path(tmp) / "j1")
        if args.only != "sqlite":
            from tests.servers import run_postgres

            with run_postgres() as pg:
                url = pg.create_database("bench")
                trio.run(run_one, url, args.events, args.senders, args.batch_size, Path(tmp) / "j2")


if __name__ == "__main__":
    main()
