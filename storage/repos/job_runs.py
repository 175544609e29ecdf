"""Job runs: claiming a scheduled fire exactly once across instances, and the run history.

A fire is claimed by inserting (job_name, fire_time); the unique constraint lets exactly one
instance win, on PostgreSQL and SQLite alike, and the row is the run's history. The claim
also refuses while an earlier run of the same job is still going (on any instance), so a
long run is never overlapped; a run unfinished after `stale_after` is presumed dead (its
instance crashed) and no longer blocks.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Any, Literal

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from storage.schema import job_runs

ADVISORY_NAMESPACE = 0x0BED_0C06  # with the job's CRC: serialises claims of one job on PG
MAX_MESSAGE = 2048

ClaimOutcome = Literal["claimed", "taken", "busy"]


@attrs.frozen
class JobRun:
    """One claimed fire of a job and how it ended (`finished_at` None: running or died)."""

    id: int
    job_name: str
    fire_time: datetime
    started_at: datetime
    finished_at: datetime | None
    success: bool | None
    message: str | None


@attrs.frozen
class Claim:
    """The result of trying to claim a fire: the run id when `outcome` is "claimed"."""

    outcome: ClaimOutcome
    run_id: int | None = None
    blocking: JobRun | None = None


def _row(row: Any) -> JobRun:
    return JobRun(
        id=int(row.id),
        job_name=row.job_name,
        fire_time=row.fire_time,
        started_at=row.started_at,
        finished_at=row.finished_at,
        success=row.success,
        message=row.message,
    )


def _signed32(value: int) -> int:
    return value - (1 << 32) if value >= (1 << 31) else value


def claim(
    conn: Connection,
    job_name: str,
    fire_time: datetime,
    *,
    now: datetime,
    stale_after: timedelta,
) -> Claim:
    """Claim `fire_time` of `job_name` for this instance (one write transaction)."""
    if conn.dialect.name == "postgresql":
        key = _signed32(zlib.crc32(job_name.encode()))
        conn.execute(
            sa.text("SELECT pg_advisory_xact_lock(:ns, :key)"),
            {"ns": ADVISORY_NAMESPACE, "key": key},
        )
    running = conn.execute(
        sa.select(job_runs)
        .where(
            job_runs.c.job_name == job_name,
            job_runs.c.finished_at.is_(None),
            job_runs.c.started_at > now - stale_after,
            job_runs.c.fire_time != fire_time,
        )
        .order_by(job_runs.c.started_at.desc())
        .limit(1)
    ).first()
    if running is not None:
        return Claim("busy", blocking=_row(running))
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    inserted = conn.execute(
        insert(job_runs)
        .values(job_name=job_name, fire_time=fire_time, started_at=now)
        .on_conflict_do_nothing(index_elements=["job_name", "fire_time"])
        .returning(job_runs.c.id)
    ).scalar()
    if inserted is None:
        return Claim("taken")
    return Claim("claimed", run_id=int(inserted))


def finish(
    conn: Connection, run_id: int, *, now: datetime, success: bool, message: str | None
) -> None:
    """Record how a claimed run ended."""
    conn.execute(
        sa.update(job_runs)
        .where(job_runs.c.id == run_id)
        .values(
            finished_at=now,
            success=success,
            message=None if message is None else message[:MAX_MESSAGE],
        )
    )


def last_runs(conn: Connection, job_names: Iterable[str]) -> dict[str, JobRun]:
    """The most recent run (by fire time) of each job that has one."""
    out: dict[str, JobRun] = {}
    for name in job_names:
        row = conn.execute(
            sa.select(job_runs)
            .where(job_runs.c.job_name == name)
            .order_by(job_runs.c.fire_time.desc())
            .limit(1)
        ).first()
        if row is not None:
            out[name] = _row(row)
    return out


def recent_runs(conn: Connection, job_name: str | None = None, limit: int = 50) -> list[JobRun]:
    """The latest runs, newest first (of one job, or of all)."""
    query = sa.select(job_runs).order_by(job_runs.c.fire_time.desc(), job_runs.c.id.desc())
    if job_name is not None:
        query = query.where(job_runs.c.job_name == job_name)
    return [_row(r) for r in conn.execute(query.limit(limit))]
