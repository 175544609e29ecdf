"""Usage summaries: coverage, watermarks, and reading their sources (raw rows, summaries).

Invariant (what makes "summaries-first" answers exact): every summary of level L reflects
exactly the raw rows with `id <= watermark[L]`. The roll-up (`storage.repos.summary_rollup`)
keeps it at every commit: each chunk transaction moves the watermarks together with the
summaries. Queries add the raw rows newer than the watermark to the summaries they read.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from proxy.metering import (
    PERIODS,
    InvalidHistogram,
    Period,
    Totals,
    histogram_from_json,
)
from storage.schema import job_watermarks, usage_records, usage_summaries

WATERMARK_PREFIX = "usage_summaries."
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
HORIZON_LOCK_TIMEOUT_MS = 5000
RAW = "raw"

SOURCES: dict[Period, tuple[Period, ...]] = {
    "hourly": (),
    "daily": ("hourly",),
    "weekly": ("daily", "hourly"),
    "monthly": ("daily", "hourly"),
}
"""Summary levels a period may be rebuilt from, coarsest first; raw rows always come last."""

Key = tuple[int, str]  # (user_id, model_id)

_u = usage_records.c
_s = usage_summaries.c
RAW_COLUMNS = (
    _u.user_id,
    _u.model_id,
    _u.requested_at,
    _u.success,
    _u.input_tokens,
    _u.output_tokens,
    _u.cache_read_tokens,
    _u.cache_write_5m_tokens,
    _u.cache_write_1h_tokens,
    _u.cost_usd,
    _u.response_time_ms,
)
SUMMARY_COLUMNS = (
    _s.user_id,
    _s.model_id,
    _s.period_start,
    _s.request_count,
    _s.success_count,
    _s.input_tokens,
    _s.output_tokens,
    _s.cache_read_tokens,
    _s.cache_write_tokens,
    _s.total_cost,
    _s.unpriced_count,
    _s.total_latency_ms,
    _s.latency_histogram,
)


@attrs.frozen
class Coverage:
    """Which stored data still holds a whole period, judged from retention settings.

    A level (or raw rows) covers a bucket starting at `start` when it is enabled and `start`
    is at least `margin` younger than its retention cut-off, so a cleanup running meanwhile
    (or on a replica whose clock is a little ahead) cannot have deleted part of it.
    """

    now: datetime
    raw_days: int
    retention_days: Mapping[str, int]
    enabled: frozenset[str] = frozenset(PERIODS)
    margin: timedelta = timedelta(days=1)

    def covers(self, source: str, start: datetime) -> bool:
        """True when `source` ("raw" or a period) holds everything from `start` on."""
        if source == RAW:
            days = self.raw_days
        elif source in self.enabled:
            days = self.retention_days[source]
        else:
            return False
        return start >= self.now - timedelta(days=days) + self.margin


Action = str  # "inserted" | "updated" | "unchanged" | "deleted"
BucketKey = tuple[datetime, int, str]  # (period start, user_id, model_id)


def _merge_action(first: Action, then: Action) -> Action:
    """The net effect on one summary row of two rebuilds in a row (chunks of one run)."""
    if first == "inserted":
        return "unchanged" if then == "deleted" else "inserted"
    if then == "unchanged":
        return first
    return then


@attrs.define
class LevelReport:
    """What a run did (or, dry, would do) to the summaries of one period, per summary row:
    a row rebuilt by several chunks of one run counts once, by its net effect."""

    actions: dict[BucketKey, Action] = attrs.field(factory=dict)
    skipped: int = 0

    def record(self, key: BucketKey, action: Action) -> None:
        """One rebuild of one summary row."""
        before = self.actions.get(key)
        self.actions[key] = action if before is None else _merge_action(before, action)

    def add(self, other: LevelReport) -> None:
        """Accumulate another report."""
        for key, action in other.actions.items():
            self.record(key, action)
        self.skipped += other.skipped

    def _count(self, action: Action) -> int:
        return sum(1 for a in self.actions.values() if a == action)

    @property
    def inserted(self) -> int:
        """Summary rows created."""
        return self._count("inserted")

    @property
    def updated(self) -> int:
        """Summary rows changed."""
        return self._count("updated")

    @property
    def unchanged(self) -> int:
        """Summary rows recomputed to the same values."""
        return self._count("unchanged")

    @property
    def deleted(self) -> int:
        """Summary rows removed (their sources hold nothing any more)."""
        return self._count("deleted")

    @property
    def changed(self) -> int:
        """Rows inserted, updated or deleted."""
        return self.inserted + self.updated + self.deleted


# --- reading sources ------------------------------------------------------------------------


def raw_ints(row: Any) -> tuple[int, ...]:
    """A raw row's integer sums in `SUM_FIELDS` order."""
    return (
        1,
        1 if row.success else 0,
        row.input_tokens,
        row.output_tokens,
        row.cache_read_tokens,
        row.cache_write_5m_tokens + row.cache_write_1h_tokens,
        1 if row.cost_usd is None else 0,
        row.response_time_ms,
    )


def summary_parts(row: Any) -> tuple[tuple[int, ...], Decimal, list[int] | None]:
    """A summary row's integer sums (`SUM_FIELDS` order), cost, and histogram (None when of
    another version)."""
    try:
        histogram: list[int] | None = histogram_from_json(row.latency_histogram)
    except InvalidHistogram:
        histogram = None
    ints = (
        row.request_count,
        row.success_count,
        row.input_tokens,
        row.output_tokens,
        row.cache_read_tokens,
        row.cache_write_tokens,
        row.unpriced_count,
        row.total_latency_ms,
    )
    return ints, row.total_cost, histogram


def totals_of_summary(row: Any) -> Totals:
    """The sums of a summary row selected with `SUMMARY_COLUMNS`.

    A histogram of another version cannot be merged; it reads as an impossible one (every
    count -1), so a rebuild always rewrites it and a query shows no p95 for it.
    """
    try:
        histogram = histogram_from_json(row.latency_histogram)
    except InvalidHistogram:
        histogram = [-1] * len(Totals().histogram)
    return Totals(
        requests=row.request_count,
        successes=row.success_count,
        input_tokens=row.input_tokens,
        output_tokens=row.output_tokens,
        cache_read_tokens=row.cache_read_tokens,
        cache_write_tokens=row.cache_write_tokens,
        cost=row.total_cost,
        unpriced=row.unpriced_count,
        latency_ms=row.total_latency_ms,
        histogram=histogram,
    )


def raw_query(
    start: datetime,
    end: datetime,
    *,
    user_ids: Collection[int] | None = None,
    model_id: str | None = None,
    above_id: int | None = None,
    upto_id: int | None = None,
) -> sa.Select[Any]:
    """Raw rows requested in [start, end), optionally for some users/model and an id range."""
    query = sa.select(*RAW_COLUMNS).where(_u.requested_at >= start, _u.requested_at < end)
    if user_ids is not None:
        query = query.where(_u.user_id.in_(sorted(user_ids)))
    if model_id is not None:
        query = query.where(_u.model_id == model_id)
    if above_id is not None:
        query = query.where(_u.id > above_id)
    if upto_id is not None:
        query = query.where(_u.id <= upto_id)
    return query


def tail_query(
    above_id: int,
    start: datetime,
    end: datetime,
    *,
    user_ids: Collection[int] | None = None,
    model_id: str | None = None,
    by_id_only: bool = False,
) -> sa.Select[Any]:
    """Raw rows with ids above `above_id` (and their id), requested in [start, end).

    With `by_id_only` the query filters on the id alone, so the database walks the primary
    key from `above_id` (the rows recorded since the last roll-up are few and at the end of
    it, whereas a time or user index would walk the whole range); the caller then filters
    time, user and model itself.
    """
    query = sa.select(_u.id, *RAW_COLUMNS).where(_u.id > above_id)
    if by_id_only:
        return query
    query = query.where(_u.requested_at >= start, _u.requested_at < end)
    if user_ids is not None:
        query = query.where(_u.user_id.in_(sorted(user_ids)))
    if model_id is not None:
        query = query.where(_u.model_id == model_id)
    return query


def summary_query(
    level: str,
    start: datetime,
    end: datetime,
    *,
    user_ids: Collection[int] | None = None,
    model_id: str | None = None,
) -> sa.Select[Any]:
    """Summary rows of `level` starting in [start, end)."""
    query = sa.select(*SUMMARY_COLUMNS).where(
        _s.period_type == level, _s.period_start >= start, _s.period_start < end
    )
    if user_ids is not None:
        query = query.where(_s.user_id.in_(sorted(user_ids)))
    if model_id is not None:
        query = query.where(_s.model_id == model_id)
    return query


# --- watermarks -----------------------------------------------------------------------------


def watermark_name(level: str) -> str:
    """The `job_watermarks.name` of a level."""
    return WATERMARK_PREFIX + level


def read_watermarks(
    conn: Connection, levels: Iterable[str], *, lock: bool = False, now: datetime | None = None
) -> dict[str, int]:
    """The last summarized usage id of each level (0 when never run).

    With `lock` (inside a write transaction) missing rows are created and the rows are locked
    (FOR UPDATE on PostgreSQL; SQLite's write transaction already excludes other writers).
    """
    levels = list(levels)
    names = [watermark_name(level) for level in levels]
    if lock:
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        stamp = now or datetime.now(UTC)
        conn.execute(
            insert(job_watermarks).on_conflict_do_nothing(index_elements=["name"]),
            [{"name": n, "watermark": EPOCH, "updated_at": stamp, "last_id": 0} for n in names],
        )
    query = sa.select(job_watermarks.c.name, job_watermarks.c.last_id).where(
        job_watermarks.c.name.in_(names)
    )
    if lock:
        query = query.order_by(job_watermarks.c.name).with_for_update()
    found = {row.name: int(row.last_id) for row in conn.execute(query)}
    return {level: found.get(watermark_name(level), 0) for level in levels}


def store_watermark(conn: Connection, level: str, last_id: int, as_of: datetime) -> None:
    """Move `level`'s watermark to `last_id` (the row exists: `read_watermarks(lock=True)`)."""
    conn.execute(
        sa.update(job_watermarks)
        .where(job_watermarks.c.name == watermark_name(level))
        .values(last_id=last_id, watermark=as_of, updated_at=as_of)
    )


def safe_horizon(conn: Connection) -> int:
    """The highest usage id below which every id is committed (or will never be).

    SQLite serialises writers, so the visible maximum is safe. PostgreSQL hands out ids
    before commit, so a concurrent writer may still hold a smaller one: a brief SHARE lock
    waits for the writers in flight (new ones queue behind it for milliseconds), then reads.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text(f"SET LOCAL lock_timeout = {HORIZON_LOCK_TIMEOUT_MS}"))
        conn.execute(sa.text("LOCK TABLE usage_records IN SHARE MODE"))
    return int(conn.execute(sa.select(sa.func.coalesce(sa.func.max(_u.id), 0))).scalar_one())


def pending_rows(conn: Connection, above: int, upto: int) -> int:
    """How many usage rows have ids in (above, upto]."""
    query = sa.select(sa.func.count()).where(_u.id > above, _u.id <= upto)
    return int(conn.execute(query).scalar_one())
