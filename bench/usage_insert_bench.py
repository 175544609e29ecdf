"""How fast one batch of usage rows goes into PostgreSQL, by statement shape (a proposal).

    .venv/bin/python bench/usage_insert_bench.py [--batches 20] [--batch-size 500]

Compares the accountant's current `insert_usage_rows` (SQLAlchemy insertmanyvalues: one huge
INSERT ... VALUES with ~30 parameters per row, which psycopg re-parses for every batch because
it is too long for its query cache) with an `INSERT ... SELECT FROM unnest(...)` that sends one
array per column (a short, cacheable statement, same ON CONFLICT and RETURNING semantics).
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from storage import migrate
from storage.config import DatabaseConfig
from storage.database import create_engine
from storage.repos.usage import insert_usage_rows
from storage.schema import usage_records
from storage.types import Money, UtcDateTime
from tests.factories import insert_user
from tests.servers import run_postgres
from tests.usage_rows import usage_row

COLUMNS = [c for c in usage_records.columns if c.name != "id"]


def _pg_type(column: sa.Column[Any]) -> str:
    kind = column.type
    if isinstance(kind, Money):
        return "numeric"
    if isinstance(kind, UtcDateTime):
        return "timestamptz"
    if isinstance(kind, sa.Boolean):
        return "boolean"
    if isinstance(kind, sa.BigInteger) or column.name in ("user_id", "api_key_id"):
        return "bigint"
    if isinstance(kind, sa.Integer):
        return "integer"
    return "text"


UNNEST_SQL = (
    f"INSERT INTO usage_records ({', '.join(c.name for c in COLUMNS)})"
    f" SELECT * FROM unnest({', '.join(f'%({c.name})s::{_pg_type(c)}[]' for c in COLUMNS)})"
    " ON CONFLICT (request_id) DO NOTHING RETURNING id"
)


def insert_unnest(conn: Connection, rows: list[dict[str, Any]]) -> int:
    """The proposed PostgreSQL path: one array per column."""
    params = {c.name: [r.get(c.name) for r in rows] for c in COLUMNS}
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(UNNEST_SQL, params)
    return len(cursor.fetchall())


def batch(user: int, tag: str, size: int) -> list[dict[str, Any]]:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    rows = []
    for i in range(size):
        row = usage_row(user, start + timedelta(seconds=i), cost=Decimal("0.0123456"))
        row.update(
            request_id=f"{tag}-{i}",
            price_input=Decimal(3),
            price_output=Decimal(15),
            price_cache_write_5m=Decimal("3.75"),
            price_cache_write_1h=Decimal(6),
            price_cache_read=Decimal("0.3"),
            first_byte_ms=100,
            error_type=None,
            stop_reason="end_turn",
            streaming=True,
            partial=False,
            client_session_id=None,
        )
        rows.append(row)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--batch-size", type=int, default=500)
    args = parser.parse_args()
    with run_postgres() as pg:
        engine = create_engine(DatabaseConfig(url=pg.create_database("inserts")))
        migrate.upgrade(engine)
        with engine.begin() as conn:
            user = insert_user(conn)
        for name, insert in (("insertmanyvalues", insert_usage_rows), ("unnest", insert_unnest)):
            batches = [batch(user, f"{name}{k}", args.batch_size) for k in range(args.batches)]
            started = time.perf_counter()
            for rows in batches:
                with engine.begin() as conn:
                    assert insert(conn, rows) == len(rows)
            elapsed = time.perf_counter() - started
            total = args.batches * args.batch_size
            print(f"{name:17s} {total / elapsed:10,.0f} rows/s ({args.batch_size} per batch)")
        engine.dispose()


if __name__ == "__main__":
    main()
