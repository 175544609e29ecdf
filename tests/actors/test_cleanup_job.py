"""Retention: a dry run changes nothing; a real run keeps exactly what the retention says."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from actors.config import CleanupJobConfig, JobsConfig, RetentionDays
from actors.jobs import CleanupOptions, SummariesOptions, run_cleanup, run_summaries
from storage.database import Database
from storage.schema import (
    api_keys,
    audit_logs,
    refresh_tokens,
    usage_records,
    usage_summaries,
)
from tests.factories import insert_user
from tests.usage_rows import insert_rows, usage_row

NOW = datetime(2026, 11, 25, 3, 30, tzinfo=UTC)
CONFIG = JobsConfig(
    usage_cleanup=CleanupJobConfig(
        raw_records_days=30,
        summaries_retention_days=RetentionDays(hourly=7, daily=90, weekly=365, monthly=1095),
        revoked_grace_days=30,
        audit_log_days=365,
        batch_size=3,  # several batches per target
    )
)
_seq = itertools.count(1)
TABLES = (usage_records, usage_summaries, api_keys, refresh_tokens, audit_logs)


def days_ago(days: float) -> datetime:
    return NOW - timedelta(days=days)


def key(
    conn: Connection, user: int, *, expires: datetime | None = None, revoked: datetime | None = None
) -> int:
    n = next(_seq)
    return int(
        conn.execute(
            sa.insert(api_keys).values(
                user_id=user,
                name=f"k{n}",
                key_hash=f"hash{n}",
                hint="SSOK_…",
                created_at=days_ago(400),
                expires_at=expires,
                revoked_at=revoked,
            )
        ).inserted_primary_key[0]
    )


def token(conn: Connection, user: int, **when: datetime | None) -> int:
    n = next(_seq)
    values: dict[str, Any] = {
        "user_id": user,
        "token_hash": f"t{n}",
        "family_id": f"f{n}",
        "created_at": days_ago(100),
        "expires_at": NOW + timedelta(days=10),
        **when,
    }
    return int(conn.execute(sa.insert(refresh_tokens).values(**values)).inserted_primary_key[0])


def audit(conn: Connection, at: datetime) -> int:
    values = {"event_type": "login", "success": True, "metadata": {}, "created_at": at}
    return int(conn.execute(sa.insert(audit_logs).values(**values)).inserted_primary_key[0])


def summary(conn: Connection, user: int, period: str, start: datetime) -> int:
    values = {
        "user_id": user,
        "model_id": f"m{next(_seq)}",
        "period_type": period,
        "period_start": start,
        "period_end": start + timedelta(hours=1),
        "total_cost": Decimal(0),
        "latency_histogram": {},
        "updated_at": NOW,
    }
    return int(conn.execute(sa.insert(usage_summaries).values(**values)).inserted_primary_key[0])


def ids(conn: Connection, table: sa.Table) -> set[int]:
    return {r[0] for r in conn.execute(sa.select(table.c.id))}


def snapshot(conn: Connection) -> dict[str, list[Any]]:
    return {t.name: sorted(tuple(r) for r in conn.execute(sa.select(t)).all()) for t in TABLES}


def build(conn: Connection) -> dict[str, set[int]]:
    """Rows on both sides of every retention line; returns the ids that must survive."""
    user = insert_user(conn)
    keep: dict[str, set[int]] = {t.name: set() for t in TABLES}
    live = key(conn, user)
    expires_soon = key(conn, user, expires=NOW + timedelta(days=3))
    recently_dead = key(conn, user, revoked=days_ago(29))
    expired_old = key(conn, user, expires=days_ago(31))
    revoked_old = key(conn, user, revoked=days_ago(45))
    keep["api_keys"] |= {live, expires_soon, recently_dead}

    rows = [
        usage_row(user, days_ago(31), api_key_id=expired_old),
        usage_row(user, days_ago(30) - timedelta(seconds=1), api_key_id=revoked_old),
        usage_row(user, days_ago(30), api_key_id=revoked_old),  # exactly at the line: kept
        usage_row(user, days_ago(2), api_key_id=expired_old),
        usage_row(user, days_ago(1), api_key_id=live),
    ] + [usage_row(user, days_ago(40 + n)) for n in range(5)]
    insert_rows(conn, rows)
    by_request = {r.request_id: r.id for r in conn.execute(sa.select(usage_records))}
    keep["usage_records"] |= {by_request[r["request_id"]] for r in rows[2:5]}

    for period, days in (("hourly", 7), ("daily", 90), ("weekly", 365), ("monthly", 1095)):
        old = summary(conn, user, period, days_ago(days + 1))
        kept = summary(conn, user, period, days_ago(days - 1))
        assert old
        keep["usage_summaries"].add(kept)

    keep["refresh_tokens"] |= {
        token(conn, user),
        token(conn, user, used_at=days_ago(29)),
        token(conn, user, revoked_at=days_ago(10)),
    }
    token(conn, user, expires_at=days_ago(31))
    token(conn, user, used_at=days_ago(31))
    token(conn, user, revoked_at=days_ago(60), used_at=days_ago(60))

    keep["audit_logs"] |= {audit(conn, days_ago(364)), audit(conn, days_ago(1))}
    for n in range(4):
        audit(conn, days_ago(366 + n))
    return keep


async def summarize(db: Database) -> None:
    await run_summaries(db, CONFIG, SummariesOptions(), now=NOW)


async def test_dry_run_changes_nothing_and_a_real_run_keeps_exactly_the_retention(
    db: Database,
) -> None:
    keep = await db.write(build)
    await summarize(db)
    before = await db.read(snapshot)
    dry = await run_cleanup(db, CONFIG, CleanupOptions(dry_run=True), now=NOW)
    assert await db.read(snapshot) == before
    would = {t.target: t.deleted for t in dry.targets}
    # the summaries the job made are recent (rows past raw retention are not summarized)
    assert would == {
        "records": 7,
        "hourly": 1,
        "daily": 1,
        "weekly": 1,
        "monthly": 1,
        "keys": 2,
        "tokens": 3,
        "audit": 4,
    }
    summaries_before = await db.read(lambda c: ids(c, usage_summaries))

    real = await run_cleanup(db, CONFIG, CleanupOptions(), now=NOW)
    assert {t.target: t.deleted for t in real.targets} == would
    # records go first, so only the kept rows still pointed at the two deleted keys
    assert next(t for t in real.targets if t.target == "keys").unlinked == 2
    after = {t.name: await db.read(lambda c, t=t: ids(c, t)) for t in TABLES}
    assert after["usage_records"] == keep["usage_records"]
    assert after["api_keys"] == keep["api_keys"]
    assert after["refresh_tokens"] == keep["refresh_tokens"]
    assert after["audit_logs"] == keep["audit_logs"]
    assert keep["usage_summaries"] <= after["usage_summaries"] <= summaries_before
    # usage rows of deleted keys lost the reference, not the row
    orphans = await db.read(
        lambda c: c.execute(
            sa.select(sa.func.count()).where(
                usage_records.c.api_key_id.is_(None), usage_records.c.requested_at >= days_ago(30)
            )
        ).scalar_one()
    )
    assert orphans == 2  # the kept rows made with the two deleted keys
    again = await run_cleanup(db, CONFIG, CleanupOptions(), now=NOW)
    assert again.deleted == 0


async def test_raw_rows_not_summarized_yet_are_kept(db: Database) -> None:
    user = await db.write(insert_user)
    await db.write(lambda c: insert_rows(c, [usage_row(user, days_ago(50))]))
    await summarize(db)
    await db.write(lambda c: insert_rows(c, [usage_row(user, days_ago(60)) for _ in range(2)]))
    report = await run_cleanup(db, CONFIG, CleanupOptions(targets=("records",)), now=NOW)
    (records,) = report.targets
    assert (records.deleted, records.spared) == (1, 2)
    await summarize(db)
    report = await run_cleanup(db, CONFIG, CleanupOptions(targets=("records",)), now=NOW)
    assert report.targets[0].deleted == 2


async def test_days_back_overrides_the_retention_of_the_chosen_target(db: Database) -> None:
    user = await db.write(insert_user)

    def rows(conn: Connection) -> None:
        for d in (1, 5, 10):
            audit(conn, days_ago(d))
        insert_rows(conn, [usage_row(user, days_ago(d)) for d in (1, 5, 10)])

    await db.write(rows)
    await summarize(db)
    options = CleanupOptions(targets=("audit",), days_back=4)
    dry_options = CleanupOptions(targets=("audit",), days_back=4, dry_run=True)
    dry = await run_cleanup(db, CONFIG, dry_options, now=NOW)
    assert dry.targets[0].deleted == 2
    report = await run_cleanup(db, CONFIG, options, now=NOW)
    assert report.targets[0].deleted == 2
    remaining = await db.read(lambda c: len(ids(c, audit_logs)))
    assert remaining == 1
    assert await db.read(lambda c: len(ids(c, usage_records))) == 3  # other targets untouched
