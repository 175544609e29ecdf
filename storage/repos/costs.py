"""Model prices: seeding, listing, editing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from proxy.pricing import CostRow
from storage.schema import model_costs


def cost_row_values(row: CostRow) -> dict[str, Any]:
    """A pricing-table row as `model_costs` column values."""
    return {
        "region": row.region,
        "model_id": row.model_id,
        "model_name": row.model_name,
        "provider": row.provider,
        "input_price": row.prices.input,
        "output_price": row.prices.output,
        "cache_write_5m_price": row.prices.cache_write_5m,
        "cache_write_1h_price": row.prices.cache_write_1h,
        "cache_read_price": row.prices.cache_read,
    }


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


# --- the admin's view: filter, page, edit one, apply an upload --------------------------------


@attrs.frozen
class CostChanges:
    """What applying a price table did, row by row."""

    added: list[tuple[str, str]]
    updated: list[tuple[str, str]]
    unchanged: list[tuple[str, str]]


def _cost_filter(
    query: sa.Select[Any], region: str | None, model: str | None, provider: str | None
) -> sa.Select[Any]:
    if region is not None:
        query = query.where(model_costs.c.region == region)
    if model is not None:
        pattern = "%" + model.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            sa.or_(
                model_costs.c.model_id.ilike(pattern, escape="\\"),
                model_costs.c.model_name.ilike(pattern, escape="\\"),
            )
        )
    if provider is not None:
        query = query.where(sa.func.lower(model_costs.c.provider) == provider.lower())
    return query


def query_costs(
    conn: Connection,
    *,
    region: str | None = None,
    model: str | None = None,
    provider: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """A page of price rows (by region, then model) and how many match in all.

    `model` matches a substring of the model id or name, case-insensitively.
    """
    total = conn.execute(
        _cost_filter(sa.select(sa.func.count()).select_from(model_costs), region, model, provider)
    ).scalar_one()
    query = _cost_filter(sa.select(model_costs), region, model, provider).order_by(
        model_costs.c.region, model_costs.c.model_id
    )
    if limit is not None:
        query = query.limit(limit)
    if offset:
        query = query.offset(offset)
    return [dict(r._mapping) for r in conn.execute(query)], int(total)


def get_cost(conn: Connection, region: str, model_id: str) -> dict[str, Any] | None:
    """One price row, or None."""
    row = conn.execute(
        sa.select(model_costs).where(
            model_costs.c.region == region, model_costs.c.model_id == model_id
        )
    ).first()
    return None if row is None else dict(row._mapping)


def delete_cost(conn: Connection, region: str, model_id: str) -> dict[str, Any] | None:
    """Delete one price row; returns it as it was, or None when there was none."""
    before = get_cost(conn, region, model_id)
    if before is not None:
        conn.execute(
            sa.delete(model_costs).where(
                model_costs.c.region == region, model_costs.c.model_id == model_id
            )
        )
    return before


def _same_prices(old: Mapping[str, Any], new: Mapping[str, Any]) -> bool:
    names = (*PRICE_COLUMNS, "model_name", "provider")
    return all(old.get(name) == new.get(name) for name in names)


def apply_costs(
    conn: Connection, rows: Sequence[Mapping[str, Any]], *, now: datetime
) -> CostChanges:
    """Insert or update every row (keyed by region and model id) in this one transaction.

    On PostgreSQL the existing rows are locked first, so two admins uploading at once cannot
    misreport what they changed.
    """
    keys = {(r["region"], r["model_id"]) for r in rows}
    query = sa.select(model_costs)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    existing = {
        (r.region, r.model_id): dict(r._mapping)
        for r in conn.execute(query)
        if (r.region, r.model_id) in keys
    }
    added: list[tuple[str, str]] = []
    updated: list[tuple[str, str]] = []
    unchanged: list[tuple[str, str]] = []
    changed_rows: list[Mapping[str, Any]] = []
    for row in rows:
        key = (row["region"], row["model_id"])
        old = existing.get(key)
        if old is None:
            added.append(key)
            changed_rows.append(row)
        elif _same_prices(old, row):
            unchanged.append(key)
        else:
            updated.append(key)
            changed_rows.append(row)
    upsert_costs(conn, changed_rows, overwrite=True, now=now)
    return CostChanges(added=added, updated=updated, unchanged=unchanged)
