"""Benchmark of `GET /api/usage/stats` (and `/api/admin/usage/stats`) over a million raw rows,
answered from raw rows only and then summaries-first.

    .venv/bin/python bench/stats_bench.py [--rows 1000000] [--users 100] [--days 30]
                                          [--postgresql] [--repeat 20]

The rows span `--days` days for `--users` users and four models; user 1 is heavy (10% of the
rows). Requests go through the real Quart app (auth, validation, JSON) with the test client,
for a 30-day range with ragged edges (minutes past the hour). Target: <= 200 ms from
summaries. Also prints how long the summaries job takes to roll the rows up the first time.
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import trio

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from actors.config import JobsConfig
from actors.jobs import SummariesOptions, run_summaries
from bench.common import percentiles
from storage import migrate
from storage.cache import MemoryCache
from storage.config import DatabaseConfig
from storage.database import Database, open_database
from tests.factories import insert_user

MODELS = (
    "anthropic.claude-sonnet-4-5-20250929-v1:0",
    "anthropic.claude-haiku-4-5-20251001-v1:0",
    "anthropic.claude-opus-4-5-20251101-v1:0",
    "anthropic.claude-opus-4-1-20250805-v1:0",
)
COLUMNS = (
    "request_id",
    "user_id",
    "model_id",
    "region",
    "route",
    "requested_at",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "cost_usd",
    "response_time_ms",
    "success",
    "status_code",
    "streaming",
    "partial",
)


def generate(rows: int, users: list[int], days: int, end: datetime) -> list[tuple[Any, ...]]:
    rnd = random.Random(7)
    span = days * 86400
    heavy = users[0]
    out = []
    for i in range(rows):
        user = heavy if rnd.random() < 0.1 else rnd.choice(users)
        at = end - timedelta(seconds=rnd.random() * span)
        inp, outp = rnd.randint(10, 20000), rnd.randint(1, 4000)
        cost = f"{(inp * 3 + outp * 15) / 1_000_000:.9f}"
        out.append(
            (
                f"bench-{i}",
                user,
                rnd.choice(MODELS),
                "us-east-1",
                "bedrock.invoke",
                at,
                inp,
                outp,
                rnd.randint(0, 5000),
                0,
                0,
                cost,
                rnd.randint(200, 60000),
                rnd.random() > 0.02,
                200,
                True,
                False,
            )
        )
    return out


def load_sqlite(db: Database, data: list[tuple[Any, ...]]) -> None:
    raw = db.engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("BEGIN")
        sql = (
            f"INSERT INTO usage_records ({', '.join(COLUMNS)})"
            f" VALUES ({', '.join('?' for _ in COLUMNS)})"
        )
        fmt = "%Y-%m-%d %H:%M:%S.%f"
        cursor.executemany(
            sql,
            (
                (*r[:5], r[5].astimezone(UTC).strftime(fmt), *r[6:13], int(r[13]), r[14], 1, 0)
                for r in data
            ),
        )
        cursor.execute("COMMIT")
    finally:
        raw.close()


def load_postgresql(db: Database, data: list[tuple[Any, ...]]) -> None:
    raw = db.engine.raw_connection()
    try:
        conn: Any = raw.driver_connection
        with conn.cursor() as cursor:
            copy_sql = f"COPY usage_records ({', '.join(COLUMNS)}) FROM STDIN"
            with cursor.copy(copy_sql) as copy:
                for row in data:
                    copy.write_row(row)
        conn.commit()
    finally:
        raw.close()


async def measure(
    client: Any, path: str, headers: dict[str, str], params: dict[str, str], repeat: int
) -> dict[str, float]:
    samples = []
    for _ in range(repeat):
        t = time.perf_counter()
        response = await client.get(path, headers=headers, query_string=params)
        await response.get_data()
        samples.append(time.perf_counter() - t)
        assert response.status_code == 200, await response.get_data()
    return percentiles(samples)


async def run(args: argparse.Namespace, url: str, tmp: Path) -> None:
    from tests.web.conftest import identity_settings, open_test_services
    from web.app import create_app

    end = datetime.now(UTC).replace(microsecond=0)
    async with open_database(DatabaseConfig(url=url, max_connections=5)) as db:
        await trio.to_thread.run_sync(migrate.upgrade, db.engine)
        users = [await db.write(insert_user) for _ in range(args.users)]
        admin_email = "admin@example.com"
        data = generate(args.rows, users, args.days, end)
        t = time.perf_counter()
        loader = load_postgresql if db.dialect == "postgresql" else load_sqlite
        await trio.to_thread.run_sync(loader, db, data)
        del data
        print(f"{db.dialect}: loaded {args.rows:,} rows in {time.perf_counter() - t:.1f}s")

        jobs = JobsConfig()
        async with open_test_services(
            db, MemoryCache(max_entries=10_000), tmp, identity_settings()
        ) as services:
            services = attrs.evolve(services, jobs=jobs)
            app = create_app(services)
            async with app.test_app() as test_app:
                client = test_app.test_client()
                from storage.repos import users as users_repo

                def make_admin(conn: Any) -> int:
                    row = users_repo.upsert_login(
                        conn,
                        provider="test",
                        provider_user_id="bench-admin",
                        email=admin_email,
                        email_verified=True,
                        display_name="admin",
                        now=end,
                    )
                    return row.id

                admin = await db.write(make_admin)
                ragged = end - timedelta(days=args.days) + timedelta(minutes=17)
                midnight = (end - timedelta(days=args.days)).replace(hour=0, minute=0, second=0)
                ranges = {
                    "from midnight": {"start": midnight.isoformat(), "end": end.isoformat()},
                    "ragged start": {"start": ragged.isoformat(), "end": end.isoformat()},
                }
                cases = [
                    ("heavy user", "/api/usage/stats", users[0]),
                    ("typical user", "/api/usage/stats", users[1]),
                    ("admin, everyone", "/api/admin/usage/stats", admin),
                ]

                async def report(label: str, repeat: int) -> None:
                    for range_name, params in ranges.items():
                        for name, path, who in cases:
                            token, _ = services.auth.mint_token(who)
                            headers = {"Authorization": f"Bearer {token}"}
                            p = await measure(client, path, headers, params, repeat)
                            print(
                                f"  {label:16s} {range_name:14s} {name:16s}"
                                f" p50 {p['p50']:8.1f} ms  p90 {p['p90']:8.1f} ms"
                                f"  p99 {p['p99']:8.1f} ms"
                            )

                await report("raw rows only", max(1, args.repeat // 20))
                t = time.perf_counter()
                result = await run_summaries(db, jobs, SummariesOptions(), now=end)
                print(
                    f"  summaries job: {result.rows:,} rows rolled up in"
                    f" {time.perf_counter() - t:.1f}s ({result.describe()[:160]}...)"
                )
                await report("summaries-first", args.repeat)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--users", type=int, default=100)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--postgresql", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.postgresql:
            from tests.servers import run_postgres

            with run_postgres() as pg:
                trio.run(run, args, pg.create_database("stats"), Path(tmp))
        else:
            trio.run(run, args, f"sqlite:///{tmp}/stats.db", Path(tmp))


if __name__ == "__main__":
    main()
