"""Retention deletes, one bounded batch per call (the caller loops, one transaction each).

Every batch is `DELETE ... WHERE id IN (SELECT id ... WHERE <old> LIMIT n)`: the inner select
walks the index on the time column, so PostgreSQL never scans or locks the whole table and
SQLite's write lock is held for one batch at a time. API keys are referenced by usage rows
(ON DELETE SET NULL); those references are cleared in batches first, so deleting a key never
turns into one huge cascading update.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.schema import api_keys, audit_logs, refresh_tokens, usage_records, usage_summaries

Target = Literal["records", "hourly", "daily", "weekly", "monthly", "keys", "tokens", "audit"]
TARGETS: tuple[Target, ...] = (
    "records",
    "hourly",
    "daily",
    "weekly",
    "monthly",
    "keys",
    "tokens",
    "audit",
)


def _where(
    target: Target, cutoff: datetime, upto_id: int | None = None
) -> tuple[sa.Table, sa.ColumnElement[bool]]:
    """The table and the condition selecting rows of `target` older than `cutoff`.

    `upto_id` spares usage rows not summarized yet (ids above the lowest watermark).
    """
    if target == "records":
        old = usage_records.c.requested_at < cutoff
        if upto_id is not None:
            old = sa.and_(old, usage_records.c.id <= upto_id)
        return usage_records, old
    if target in ("hourly", "daily", "weekly", "monthly"):
        s = usage_summaries.c
        return usage_summaries, sa.and_(s.period_type == target, s.period_start < cutoff)
    if target == "keys":
        k = api_keys.c
        return api_keys, sa.or_(k.revoked_at < cutoff, k.expires_at < cutoff)
    if target == "tokens":
        t = refresh_tokens.c
        return refresh_tokens, sa.or_(
            t.expires_at < cutoff, t.used_at < cutoff, t.revoked_at < cutoff
        )
    if target == "audit":
        return audit_logs, audit_logs.c.created_at < cutoff
    raise ValueError(f"unknown cleanup target {target!r}")


def count_expired(
    conn: Connection, target: Target, cutoff: datetime, upto_id: int | None = None
) -> int:
    """How many rows of `target` a cleanup with `cutoff` would delete."""
    table, condition = _where(target, cutoff, upto_id)
    query = sa.select(sa.func.count()).select_from(table).where(condition)
    return int(conn.execute(query).scalar_one())


def count_key_references(conn: Connection, cutoff: datetime) -> int:
    """Usage rows that reference an API key a cleanup with `cutoff` would delete."""
    _, dead = _where("keys", cutoff)
    keys = sa.select(api_keys.c.id).where(dead)
    query = sa.select(sa.func.count()).where(usage_records.c.api_key_id.in_(keys))
    return int(conn.execute(query).scalar_one())


def delete_expired_batch(
    conn: Connection, target: Target, cutoff: datetime, batch: int, upto_id: int | None = None
) -> int:
    """Delete up to `batch` rows of `target` older than `cutoff`; how many went."""
    table, condition = _where(target, cutoff, upto_id)
    ids = sa.select(table.c.id).where(condition).limit(batch).scalar_subquery()
    return int(conn.execute(sa.delete(table).where(table.c.id.in_(ids))).rowcount)


def unlink_key_references_batch(conn: Connection, cutoff: datetime, batch: int) -> int:
    """Clear `api_key_id` on up to `batch` usage rows of keys about to be deleted."""
    _, dead = _where("keys", cutoff)
    keys = sa.select(api_keys.c.id).where(dead)
    ids = (
        sa.select(usage_records.c.id)
        .where(usage_records.c.api_key_id.in_(keys))
        .limit(batch)
        .scalar_subquery()
    )
    statement = sa.update(usage_records).where(usage_records.c.id.in_(ids)).values(api_key_id=None)
    return int(conn.execute(statement).rowcount)
