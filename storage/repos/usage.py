"""Writing usage rows: idempotent by `request_id`, and `last_used_at` of API keys alongside."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from storage.schema import api_keys, usage_records

USAGE_COLUMNS = tuple(c.name for c in usage_records.columns if c.name != "id")


def insert_usage_rows(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> int:
    """Insert rows, skipping request ids already present; returns how many were new."""
    if not rows:
        return 0
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = (
        insert(usage_records)
        .on_conflict_do_nothing(index_elements=["request_id"])
        .returning(usage_records.c.id)
    )
    # rowcount is unreliable for batched inserts; RETURNING names exactly the new rows
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
