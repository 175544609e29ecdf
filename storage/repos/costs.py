"""Model prices: seeding, listing, editing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from storage.schema import model_costs

PRICE_COLUMNS = (
    "input_price",
    "output_price",
    "cache_write_5m_price",
    "cache_write_1h_price",
    "cache_read_price",
)


def upsert_costs(
    conn: Connection, rows: Sequence[Mapping[str, Any]], *, overwrite: bool, now: datetime
) -> tuple[int, int]:
    """Insert rows missing by (region, model_id); with `overwrite` update the others too.

    Returns (added, updated). Safe against concurrent seeders: conflicts are resolved by the
    database, never by a read-then-write race.
    """
    if not rows:
        return 0, 0
    existing = {
        (r.region, r.model_id)
        for r in conn.execute(sa.select(model_costs.c.region, model_costs.c.model_id))
    }
    values = [{**row, "updated_at": now} for row in rows]
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(model_costs)
    if overwrite:
        stmt = stmt.on_conflict_do_update(
            index_elements=["region", "model_id"],
            set_={
                name: stmt.excluded[name]
                for name in (*PRICE_COLUMNS, "model_name", "provider", "updated_at")
            },
        )
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=["region", "model_id"])
    conn.execute(stmt, values)
    added = sum(1 for r in rows if (r["region"], r["model_id"]) not in existing)
    updated = (len(rows) - added) if overwrite else 0
    return added, updated


def list_costs(conn: Connection) -> list[dict[str, Any]]:
    """Every price row, ordered by region then model."""
    result = conn.execute(
        sa.select(model_costs).order_by(model_costs.c.region, model_costs.c.model_id)
    )
    return [dict(r._mapping) for r in result]
