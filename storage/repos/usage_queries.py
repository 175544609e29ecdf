"""Reading usage: records (keyset-paged, newest first) and exact totals, summaries-first.

`aggregate` answers "totals per (period, model[, user])" over any time range by planning it
into pieces: whole periods that a stored summary level still covers are read from that level
(plus the raw rows newer than its watermark, so nothing recorded since the last roll-up is
missed), and the ragged edges from raw rows. Because summaries reflect exactly the raw rows up
to their watermark, the answer equals the sums over raw rows, whichever pieces were used.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Callable, Hashable, Iterable, Sequence
from datetime import datetime
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from proxy.metering import PERIODS, Period, Totals, TotalsBuilder, period_floor, period_next
from storage.repos.summaries import (
    RAW,
    Coverage,
    raw_ints,
    raw_query,
    read_watermarks,
    summary_parts,
    summary_query,
    tail_query,
)
from storage.schema import usage_records

_u = usage_records.c

FINER: dict[Period, tuple[Period, ...]] = {
    "monthly": ("monthly", "daily", "hourly"),
    "weekly": ("weekly", "daily", "hourly"),
    "daily": ("daily", "hourly"),
    "hourly": ("hourly",),
}
"""Summary levels that may answer a bucket of each granularity, coarsest first."""

TAIL_BY_ID = 100_000  # read at most this many ids past the watermark by primary key
KeysOf = Callable[[datetime, str, int], Iterable[Hashable]]


@attrs.frozen
class RecordFilter:
    """Which usage rows: a user (None: everyone), a time range [start, end), and more."""

    user_id: int | None = None
    start: datetime | None = None
    end: datetime | None = None
    model_id: str | None = None
    success: bool | None = None
    api_key_id: int | None = None


@attrs.frozen
class Cursor:
    """Position after the last row of a page (newest first): its time and id."""

    requested_at: datetime
    id: int


def _filtered(query: sa.Select[Any], f: RecordFilter) -> sa.Select[Any]:
    if f.user_id is not None:
        query = query.where(_u.user_id == f.user_id)
    if f.start is not None:
        query = query.where(_u.requested_at >= f.start)
    if f.end is not None:
        query = query.where(_u.requested_at < f.end)
    if f.model_id is not None:
        query = query.where(_u.model_id == f.model_id)
    if f.success is not None:
        query = query.where(_u.success == f.success)
    if f.api_key_id is not None:
        query = query.where(_u.api_key_id == f.api_key_id)
    return query


def list_records(
    conn: Connection,
    f: RecordFilter,
    *,
    limit: int,
    after: Cursor | None = None,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """Up to `limit` rows, newest first, after `after` (keyset) or skipping `offset`."""
    query = _filtered(sa.select(usage_records), f)
    if after is not None:
        query = query.where(
            sa.or_(
                _u.requested_at < after.requested_at,
                sa.and_(_u.requested_at == after.requested_at, _u.id < after.id),
            )
        )
    query = query.order_by(_u.requested_at.desc(), _u.id.desc()).limit(limit)
    if offset:
        query = query.offset(offset)
    return [dict(row._mapping) for row in conn.execute(query)]


def count_records(conn: Connection, f: RecordFilter) -> int:
    """How many rows match `f`."""
    query = _filtered(sa.select(sa.func.count()).select_from(usage_records), f)
    return int(conn.execute(query).scalar_one())


# --- planning ---------------------------------------------------------------------------------


@attrs.frozen
class Piece:
    """A span read from one source (`raw` or a summary level), inside one output bucket."""

    source: str
    start: datetime
    end: datetime
    bucket: datetime


def plan(
    start: datetime,
    end: datetime,
    granularity: Period,
    covers: Callable[[str, datetime], bool],
) -> list[Piece]:
    """Split [start, end) into pieces per output bucket, using the coarsest covering level."""
    pieces: list[Piece] = []
    bucket = period_floor(start, granularity)
    while bucket < end:
        following = period_next(bucket, granularity)
        _cover(max(bucket, start), min(following, end), FINER[granularity], covers, bucket, pieces)
        bucket = following
    return pieces


def _cover(
    a: datetime,
    b: datetime,
    levels: Sequence[Period],
    covers: Callable[[str, datetime], bool],
    bucket: datetime,
    pieces: list[Piece],
) -> None:
    if a >= b:
        return
    if not levels:
        pieces.append(Piece(RAW, a, b, bucket))
        return
    level, finer = levels[0], levels[1:]
    t = period_floor(a, level)
    if t < a:
        t = period_next(t, level)
    cursor = a
    while t < b:
        following = period_next(t, level)
        if following > b:
            break
        if covers(level, t):
            _cover(cursor, t, finer, covers, bucket, pieces)
            pieces.append(Piece(level, t, following, bucket))
            cursor = following
        t = following
    _cover(cursor, b, finer, covers, bucket, pieces)


def _spans(pieces: Sequence[Piece]) -> list[tuple[datetime, datetime]]:
    spans: list[tuple[datetime, datetime]] = []
    for piece in pieces:
        if spans and spans[-1][1] == piece.start:
            spans[-1] = (spans[-1][0], piece.end)
        else:
            spans.append((piece.start, piece.end))
    return spans


@attrs.frozen
class AggregateQuery:
    """Totals over [start, end) per `granularity` bucket and model (and user if `by_user`)."""

    start: datetime
    end: datetime
    granularity: Period
    coverage: Coverage
    user_id: int | None = None
    model_id: str | None = None
    by_user: bool = False


def begin_snapshot(conn: Connection) -> None:
    """Make the rest of this read transaction see one snapshot (PostgreSQL's default,
    READ COMMITTED, gives each statement its own); SQLite transactions already do."""
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))


def aggregate(
    conn: Connection, q: AggregateQuery, keys: KeysOf | None = None
) -> dict[Hashable, Totals]:
    """Exact totals per group; see the module docstring.

    By default a group is (bucket start, model, user or None); `keys(bucket, model, user)`
    may instead name several groups a row counts in (e.g. by model, by day and in total).
    Call it first in its transaction (it sets the snapshot on PostgreSQL).
    """
    begin_snapshot(conn)
    marks = read_watermarks(conn, PERIODS)
    pieces = plan(q.start, q.end, q.granularity, q.coverage.covers)
    by_source: dict[str, list[Piece]] = defaultdict(list)
    for piece in pieces:
        by_source[piece.source].append(piece)
    users = None if q.user_id is None else {q.user_id}
    groups: dict[Hashable, TotalsBuilder] = defaultdict(TotalsBuilder)
    group_keys = keys or (
        (lambda b, m, u: ((b, m, u),)) if q.by_user else (lambda b, m, u: ((b, m, None),))
    )

    for source, group in by_source.items():
        starts = [p.start for p in group]
        buckets = [p.bucket for p in group]
        for a, b in _spans(group):
            if source == RAW:
                query = raw_query(a, b, user_ids=users, model_id=q.model_id)
                for row in conn.execute(query):
                    bucket = buckets[bisect_right(starts, row.requested_at) - 1]
                    for key in group_keys(bucket, row.model_id, row.user_id):
                        groups[key].add_record(raw_ints(row), row.cost_usd, row.response_time_ms)
                continue
            query = summary_query(source, a, b, user_ids=users, model_id=q.model_id)
            for row in conn.execute(query):
                bucket = buckets[bisect_right(starts, row.period_start) - 1]
                ints, cost, histogram = summary_parts(row)
                for key in group_keys(bucket, row.model_id, row.user_id):
                    groups[key].add_summary(ints, cost, histogram)

    # rows recorded since the last roll-up, in pieces answered from summaries
    summarized = sorted((p for p in pieces if p.source != RAW), key=lambda p: p.start)
    if summarized:
        starts = [p.start for p in summarized]
        lowest = min(marks[p.source] for p in summarized)
        newest = conn.execute(sa.select(sa.func.coalesce(sa.func.max(_u.id), 0))).scalar_one()
        by_id = newest - lowest <= TAIL_BY_ID
        tail = tail_query(
            lowest,
            summarized[0].start,
            summarized[-1].end,
            user_ids=users,
            model_id=q.model_id,
            by_id_only=by_id,
        )
        for row in conn.execute(tail):
            if by_id and not _wanted(row, q):
                continue
            index = bisect_right(starts, row.requested_at) - 1
            home = summarized[index] if index >= 0 else None
            if home is None or row.requested_at >= home.end or row.id <= marks[home.source]:
                continue  # before the first piece, in a raw piece, or already summarized
            for key in group_keys(home.bucket, row.model_id, row.user_id):
                groups[key].add_record(raw_ints(row), row.cost_usd, row.response_time_ms)
    return {key: builder.build() for key, builder in groups.items()}


def _wanted(row: Any, q: AggregateQuery) -> bool:
    return (
        q.start <= row.requested_at < q.end
        and (q.user_id is None or row.user_id == q.user_id)
        and (q.model_id is None or row.model_id == q.model_id)
    )
