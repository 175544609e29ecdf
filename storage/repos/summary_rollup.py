"""Rolling usage up: incremental chunks past the watermarks, and backfills of a range.

A chunk transaction locks the watermark rows, reads the raw rows with ids past them (up to
`chunk_rows`), adds their sums to every (user, model, period) summary they fall in, and moves
the watermarks — all in one transaction, so the invariant of `storage.repos.summaries` holds
at every commit. A backfill recomputes periods from their sources instead (hourly from raw
rows, daily from hourly, weekly and monthly from daily), reading contiguous spans of periods
with one query per span and source.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from proxy.metering import (
    PERIODS,
    Period,
    Totals,
    TotalsBuilder,
    histogram_to_json,
    period_floor,
    period_next,
)
from storage.repos.summaries import (
    RAW,
    RAW_COLUMNS,
    SOURCES,
    Coverage,
    Key,
    LevelReport,
    raw_ints,
    raw_query,
    read_watermarks,
    store_watermark,
    summary_parts,
    summary_query,
    totals_of_summary,
)
from storage.schema import usage_records, usage_summaries

MAX_USER_FILTER = 1000  # beyond this many users a span is read for everyone and filtered here

_u = usage_records.c
_s = usage_summaries.c
BucketTotals = dict[tuple[datetime, int, str], Totals]


@attrs.frozen
class ChunkResult:
    """One chunk: how many raw rows it read, the id it reached, and per-level reports."""

    rows: int
    upper: int
    marks: dict[str, int]
    reports: dict[str, LevelReport]


def choose_source(
    level: Period, start: datetime, upper: int, marks: Mapping[str, int], coverage: Coverage
) -> str | None:
    """Where to rebuild the `level` bucket at `start` reflecting ids <= `upper` (None: nowhere)."""
    for source in SOURCES[level]:
        if marks.get(source) == upper and coverage.covers(source, start):
            return source
    return RAW if coverage.covers(RAW, start) else None


def _by_bucket(
    conn: Connection,
    source: str,
    level: Period,
    a: datetime,
    b: datetime,
    *,
    user_ids: Collection[int] | None,
    model_id: str | None,
    upto_id: int | None,
) -> BucketTotals:
    """Sums per (`level` bucket, user, model) over [a, b) from raw rows or `source` rows."""
    out: dict[tuple[datetime, int, str], TotalsBuilder] = defaultdict(TotalsBuilder)
    if source == RAW:
        query = raw_query(a, b, user_ids=user_ids, model_id=model_id, upto_id=upto_id)
        for row in conn.execute(query):
            key = (period_floor(row.requested_at, level), row.user_id, row.model_id)
            out[key].add_record(raw_ints(row), row.cost_usd, row.response_time_ms)
    else:
        query = summary_query(source, a, b, user_ids=user_ids, model_id=model_id)
        for row in conn.execute(query):
            key = (period_floor(row.period_start, level), row.user_id, row.model_id)
            out[key].add_summary(*summary_parts(row))
    return {key: builder.build() for key, builder in out.items()}


def _spans(starts: Sequence[datetime], level: Period) -> list[list[datetime]]:
    """Sorted bucket starts cut into runs of consecutive buckets."""
    spans: list[list[datetime]] = []
    for start in sorted(starts):
        if spans and period_next(spans[-1][-1], level) == start:
            spans[-1].append(start)
        else:
            spans.append([start])
    return spans


def _values(level: str, key: tuple[datetime, int, str], t: Totals, now: datetime) -> dict[str, Any]:
    start, user_id, model_id = key
    return {
        "user_id": user_id,
        "model_id": model_id,
        "period_type": level,
        "period_start": start,
        "period_end": period_next(start, level),  # type: ignore[arg-type]
        "request_count": t.requests,
        "success_count": t.successes,
        "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens,
        "cache_read_tokens": t.cache_read_tokens,
        "cache_write_tokens": t.cache_write_tokens,
        "total_cost": t.cost,
        "unpriced_count": t.unpriced,
        "total_latency_ms": t.latency_ms,
        "latency_histogram": histogram_to_json(t.histogram),
        "p95_latency_ms": t.p95_latency_ms,
        "updated_at": now,
    }


_UPDATABLE = (
    "period_end",
    "request_count",
    "success_count",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "total_cost",
    "unpriced_count",
    "total_latency_ms",
    "latency_histogram",
    "p95_latency_ms",
    "updated_at",
)


def _upsert(conn: Connection, values: list[dict[str, Any]]) -> None:
    if not values:
        return
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    stmt = insert(usage_summaries)
    stmt = stmt.on_conflict_do_update(
        index_elements=["user_id", "model_id", "period_type", "period_start"],
        set_={name: stmt.excluded[name] for name in _UPDATABLE},
    )
    conn.execute(stmt, values)


def _delete(conn: Connection, level: str, keys: list[tuple[datetime, int, str]]) -> None:
    if not keys:
        return
    conn.execute(
        sa.delete(usage_summaries).where(
            _s.period_type == level,
            _s.period_start == sa.bindparam("t"),
            _s.user_id == sa.bindparam("u"),
            _s.model_id == sa.bindparam("m"),
        ),
        [{"t": t, "u": u, "m": m} for t, u, m in keys],
    )


def rebuild(
    conn: Connection,
    level: Period,
    work: Mapping[datetime, Collection[Key] | None],
    sources: Mapping[datetime, str],
    *,
    user_id: int | None = None,
    model_id: str | None = None,
    upto_id: int,
    now: datetime,
    dry_run: bool,
) -> LevelReport:
    """Recompute `level` buckets: for each start in `work`, the given (user, model) keys, or
    (None) every key there is — limited to `user_id`/`model_id` when given — from the source
    `sources[start]`; write what differs unless `dry_run`."""
    report = LevelReport()
    writes: list[dict[str, Any]] = []
    deletes: list[tuple[datetime, int, str]] = []
    by_source: dict[str, list[datetime]] = defaultdict(list)
    for start in work:
        by_source[sources[start]].append(start)
    for source, starts in by_source.items():
        for span in _spans(starts, level):
            a, b = span[0], period_next(span[-1], level)
            users = _users(span, work, user_id)
            limit = upto_id if source == RAW else None
            fresh = _by_bucket(
                conn, source, level, a, b, user_ids=users, model_id=model_id, upto_id=limit
            )
            existing = _by_bucket(
                conn, level, level, a, b, user_ids=users, model_id=model_id, upto_id=None
            )
            for start in span:
                keys = work[start]
                if keys is None:
                    targets = {k for k in (*fresh, *existing) if k[0] == start}
                else:
                    targets = {(start, user, model) for user, model in keys}
                for key in sorted(targets):
                    new, old = fresh.get(key), existing.get(key)
                    if new is None:
                        if old is not None:
                            deletes.append(key)
                            report.record(key, "deleted")
                    elif old is None:
                        writes.append(_values(level, key, new, now))
                        report.record(key, "inserted")
                    elif new == old:
                        report.record(key, "unchanged")
                    else:
                        writes.append(_values(level, key, new, now))
                        report.record(key, "updated")
    if not dry_run:
        _upsert(conn, writes)
        _delete(conn, level, deletes)
    return report


def _users(
    span: list[datetime], work: Mapping[datetime, Collection[Key] | None], user_id: int | None
) -> Collection[int] | None:
    if any(work[start] is None for start in span):
        return None if user_id is None else {user_id}
    users = {user for start in span for user, _ in work[start] or ()}
    return users if len(users) <= MAX_USER_FILTER else None


def _chunk_upper(conn: Connection, low: int, horizon: int, chunk_rows: int) -> int:
    query = (
        sa.select(_u.id)
        .where(_u.id > low, _u.id <= horizon)
        .order_by(_u.id)
        .limit(1)
        .offset(chunk_rows - 1)
    )
    found = conn.execute(query).scalar()
    return horizon if found is None else int(found)


def _existing(
    conn: Connection, level: Period, keys: Collection[tuple[datetime, int, str]]
) -> BucketTotals:
    """The stored `level` summaries of `keys` (a histogram of another version reads as -1s)."""
    out: BucketTotals = {}
    wanted = set(keys)
    by_start: dict[datetime, set[int]] = defaultdict(set)
    for start, user, _ in wanted:
        by_start[start].add(user)
    for span in _spans(list(by_start), level):
        users = {u for start in span for u in by_start[start]}
        query = summary_query(
            level,
            span[0],
            period_next(span[-1], level),
            user_ids=users if len(users) <= MAX_USER_FILTER else None,
        )
        for row in conn.execute(query):
            key = (row.period_start, row.user_id, row.model_id)
            if key in wanted:
                out[key] = totals_of_summary(row)
    return out


def summarize_chunk(
    conn: Connection,
    *,
    levels: Sequence[Period],
    horizon: int,
    chunk_rows: int,
    coverage: Coverage,
    now: datetime,
    dry_run: bool = False,
    virtual: Mapping[str, int] | None = None,
) -> ChunkResult | None:
    """Summarize the next chunk of raw rows past the watermarks (None: nothing left).

    Each affected period becomes its stored summary plus the sums of the chunk's rows in it:
    exactly its recomputation from sources, since the stored summary reflects exactly the
    rows up to the watermark — and each raw row is read once, however large the backlog.
    A period older than its own retention is not created (counted as skipped); a stored
    summary that cannot be added to (another histogram version) is rebuilt from its sources.
    A dry run writes nothing; pass back `ChunkResult.marks` as `virtual` to continue.
    """
    ordered = [p for p in PERIODS if p in levels]
    stored = read_watermarks(conn, ordered, lock=not dry_run, now=now)
    marks = dict(virtual) if (dry_run and virtual is not None) else dict(stored)
    pending = [level for level in ordered if marks[level] < horizon]
    if not pending:
        return None
    low = min(marks[level] for level in pending)
    upper = _chunk_upper(conn, low, horizon, chunk_rows)
    rows = conn.execute(sa.select(_u.id, *RAW_COLUMNS).where(_u.id > low, _u.id <= upper)).all()
    prepared = [
        (r.id, r.requested_at, r.user_id, r.model_id, raw_ints(r), r.cost_usd, r.response_time_ms)
        for r in rows
    ]
    usable = dict(stored)  # for rebuilds: what the database holds (a dry run adds nothing)
    reports: dict[str, LevelReport] = {}
    for level in pending:
        report = LevelReport()
        deltas: dict[tuple[datetime, int, str], TotalsBuilder] = defaultdict(TotalsBuilder)
        mark = marks[level]
        for ident, at, user, model, ints, cost, latency in prepared:
            if ident > mark:
                deltas[(period_floor(at, level), user, model)].add_record(ints, cost, latency)
        kept = {k: b for k, b in deltas.items() if coverage.covers(level, k[0])}
        report.skipped = len(deltas) - len(kept)
        existing = _existing(conn, level, kept)
        writes: list[dict[str, Any]] = []
        broken: dict[datetime, set[Key]] = defaultdict(set)
        for key, builder in sorted(kept.items()):
            old = existing.get(key)
            delta = builder.build()
            if old is None:
                writes.append(_values(level, key, delta, now))
                report.record(key, "inserted")
            elif min(old.histogram) < 0:
                broken[key[0]].add((key[1], key[2]))
            else:
                old.merge(delta)
                writes.append(_values(level, key, old, now))
                report.record(key, "updated")
        if not dry_run:
            _upsert(conn, writes)
        if broken:
            sources = {
                start: choose_source(level, start, upper, usable, coverage) or RAW
                for start in broken
            }
            work: dict[datetime, Collection[Key] | None] = dict(broken)
            report.add(rebuild(conn, level, work, sources, upto_id=upper, now=now, dry_run=dry_run))
        marks[level] = upper
        if not dry_run:
            store_watermark(conn, level, upper, now)
            usable[level] = upper
        reports[level] = report
    return ChunkResult(rows=len(rows), upper=upper, marks=marks, reports=reports)


def backfill_buckets(
    conn: Connection,
    *,
    level: Period,
    starts: Sequence[datetime],
    levels: Sequence[Period],
    coverage: Coverage,
    user_id: int | None,
    model_id: str | None,
    now: datetime,
    dry_run: bool = False,
) -> LevelReport:
    """Rebuild buckets of `level` (every user/model, or the given ones) at its watermark."""
    marks = read_watermarks(conn, [p for p in PERIODS if p in levels], lock=not dry_run, now=now)
    horizon = marks[level]
    sources: dict[datetime, str] = {}
    skipped = 0
    for start in starts:
        source = choose_source(level, start, horizon, marks, coverage)
        if source is None:
            skipped += 1
        else:
            sources[start] = source
    work: dict[datetime, Collection[Key] | None] = dict.fromkeys(sources)
    report = rebuild(
        conn,
        level,
        work,
        sources,
        user_id=user_id,
        model_id=model_id,
        upto_id=horizon,
        now=now,
        dry_run=dry_run,
    )
    report.skipped += skipped
    return report
