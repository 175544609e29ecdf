"""Writing usage rows: idempotent by `request_id`, and `last_used_at` of API keys alongside."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Connection

from storage.schema import api_keys, usage_records
from storage.types import Money, UtcDateTime

USAGE_COLUMNS = tuple(c.name for c in usage_records.columns if c.name != "id")


def _pg_array_type(column: sa.Column[Any]) -> str:
    kind = column.type
    if isinstance(kind, Money):
        return "numeric[]"
    if isinstance(kind, UtcDateTime):
        return "timestamptz[]"
    if isinstance(kind, sa.Boolean):
        return "boolean[]"
    if isinstance(kind, sa.Integer) or column.name in ("user_id", "api_key_id"):
        return "bigint[]"
    return "text[]"


# One array per column: a short statement psycopg prepares once. The generic multi-row
# VALUES form has ~30 parameters per row, too long for psycopg's statement cache, and
# re-parsing it dominated the accountant's time on PostgreSQL (bench/usage_insert_bench.py).
_PG_UNNEST_INSERT = sa.text(
    # built from our own schema's column names only; every value is a bound parameter
    f"INSERT INTO usage_records ({', '.join(USAGE_COLUMNS)}) SELECT * FROM unnest("  # noqa: S608
    + ", ".join(
        f"CAST(:{c.name} AS {_pg_array_type(c)})" for c in usage_records.columns if c.name != "id"
    )
    + ") ON CONFLICT (request_id) DO NOTHING RETURNING id"
)


def insert_usage_rows(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert rows, skipping request ids already present; returns how many were new."""
    if not rows:
        return 0
    # rowcount is unreliable for batched inserts; RETURNING names exactly the new rows
    if conn.dialect.name == "postgresql":
        columns = {name: [row.get(name) for row in rows] for name in USAGE_COLUMNS}
        return len(conn.execute(_PG_UNNEST_INSERT, columns).all())
    stmt = (
        sqlite.insert(usage_records)
        .on_conflict_do_nothing(index_elements=["request_id"])
        .returning(usage_records.c.id)
    )
    return len(conn.execute(stmt, [dict(r) for r in rows]).all())


def touch_api_keys(conn: Connection, last_used: Mapping[int, datetime]) -> None:
    """Move each key's `last_used_at` forward (never back) in one statement per key."""
    for key_id, when in last_used.items():
        conn.execute(
            sa.update(api_keys)
            .where(api_keys.c.id == key_id)
            .where(sa.or_(api_keys.c.last_used_at.is_(None), api_keys.c.last_used_at < when))
            .values(last_used_at=when)
        )


def write_usage_batch(
    conn: Connection, rows: Sequence[Mapping[str, Any]], last_used: Mapping[int, datetime]
) -> int:
    """One batch, one transaction: the rows and the keys they were made with."""
    inserted = insert_usage_rows(conn, rows)
    touch_api_keys(conn, last_used)
    return inserted
