"""Summaries: every period equals the sums over raw rows; re-running changes nothing; late rows
re-aggregate their periods; summaries-first answers equal raw answers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
import trio
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.engine import Engine

from actors.config import CleanupJobConfig, JobsConfig, RetentionDays, SummariesJobConfig
from actors.jobs.summaries import SummariesOptions, SummariesReport, coverage_for, run_summaries
from proxy.metering import PERIODS, Period, Totals, period_floor
from storage import migrate
from storage.config import DatabaseConfig
from storage.database import create_engine, open_database
from storage.repos import usage_queries
from storage.repos.summaries import read_watermarks
from storage.repos.usage_queries import AggregateQuery, aggregate
from storage.schema import usage_summaries
from tests.factories import insert_user
from tests.usage_rows import (
    add,
    clear_usage,
    expected_summaries,
    insert_rows,
    stored_summaries,
    usage_row,
)

# a span over a leap day, a month end and a week boundary (Monday 2024-03-04)
BASE = datetime(2024, 2, 24, 20, 0, tzinfo=UTC)
SPAN_SECONDS = 9 * 24 * 3600
NOW = datetime(2024, 3, 10, tzinfo=UTC)
MODELS = ("anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-haiku-4-5-20251001-v1:0")


def jobs_config(chunk_rows: int = 7, **retention: int) -> JobsConfig:
    """Generous retention so every level covers the test span (unless told otherwise)."""
    days = {"hourly": 60, "daily": 90, "weekly": 365, "monthly": 1095, **retention}
    return JobsConfig(
        usage_summaries=SummariesJobConfig(chunk_rows=chunk_rows),
        usage_cleanup=CleanupJobConfig(
            raw_records_days=retention.get("raw", 60),
            summaries_retention_days=RetentionDays(**{k: v for k, v in days.items() if k != "raw"}),
        ),
    )


def summarize(url: str, config: JobsConfig, now: datetime = NOW, **options: Any) -> SummariesReport:
    async def main() -> SummariesReport:
        async with open_database(DatabaseConfig(url=url)) as db:
            return await run_summaries(db, config, SummariesOptions(**options), now=now)

    return trio.run(main)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = create_engine(DatabaseConfig(url=database_url))
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[Engine]:
    engine = create_engine(DatabaseConfig(url=sqlite_url))
    migrate.upgrade(engine)
    yield engine
    engine.dispose()


def two_users(engine: Engine) -> list[int]:
    with engine.begin() as conn:
        return [insert_user(conn), insert_user(conn)]


def assert_summaries_match(engine: Engine, rows: list[dict[str, Any]]) -> None:
    with engine.connect() as conn:
        for period in PERIODS:
            assert stored_summaries(conn, period) == expected_summaries(rows, period), period


row_fields = st.tuples(
    st.integers(0, 1),  # user index
    st.sampled_from(MODELS),
    st.integers(0, SPAN_SECONDS),
    st.booleans(),
    st.integers(0, 200_000),
    st.integers(0, 8_000),
    st.integers(0, 50_000),
    st.integers(0, 5_000),
    st.integers(0, 5_000),
    st.one_of(st.none(), st.decimals(min_value=0, max_value=50, places=12)),
    st.integers(0, 700_000),
)
batches = st.lists(st.lists(row_fields, min_size=1, max_size=25), min_size=1, max_size=3)


def materialize(users: list[int], fields: tuple[Any, ...]) -> dict[str, Any]:
    who, model, seconds, success, inp, out, cread, cw5, cw1, cost, latency = fields
    return usage_row(
        users[who],
        BASE + timedelta(seconds=seconds),
        model_id=model,
        success=success,
        input_tokens=inp,
        output_tokens=out,
        cache_read_tokens=cread,
        cache_write_5m_tokens=cw5,
        cache_write_1h_tokens=cw1,
        cost=cost,
        latency_ms=latency,
    )


def check_batches(url: str, engine: Engine, users: list[int], generated: list[list[Any]]) -> None:
    config = jobs_config()
    with engine.begin() as conn:
        clear_usage(conn)
    rows: list[dict[str, Any]] = []
    for batch in generated:
        new = [materialize(users, f) for f in batch]
        with engine.begin() as conn:
            insert_rows(conn, new)
        rows += new
        report = summarize(url, config)
        assert report.rows == len(new)  # exactly the rows since the last run, late ones too
        assert_summaries_match(engine, rows)
    again = summarize(url, config)
    assert again.rows == 0 and again.changed == 0
    backfill = summarize(url, config, backfill_start=BASE, backfill_end=BASE + timedelta(days=10))
    assert backfill.changed == 0  # rebuilding from sources finds nothing to change
    assert_summaries_match(engine, rows)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(generated=batches)
def test_every_period_equals_the_raw_sums_sqlite(
    sqlite_url: str, sqlite_engine: Engine, generated: list[list[Any]]
) -> None:
    users = getattr(sqlite_engine, "_users", None) or two_users(sqlite_engine)
    sqlite_engine._users = users  # type: ignore[attr-defined]
    check_batches(sqlite_url, sqlite_engine, users, generated)


@settings(
    max_examples=6,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(generated=st.lists(st.lists(row_fields, min_size=1, max_size=10), min_size=1, max_size=2))
def test_every_period_equals_the_raw_sums_postgresql(
    postgres_url: str, generated: list[list[Any]]
) -> None:
    engine = create_engine(DatabaseConfig(url=postgres_url))
    try:
        if not sa.inspect(engine).has_table("usage_records"):
            migrate.upgrade(engine)
        with engine.begin() as conn:
            existing = [r[0] for r in conn.execute(sa.text("SELECT id FROM users ORDER BY id"))]
        users = existing[:2] if len(existing) >= 2 else two_users(engine)
        check_batches(postgres_url, engine, users, generated)
    finally:
        engine.dispose()


def test_late_rows_reaggregate_every_period_they_fall_in(
    sqlite_url: str, sqlite_engine: Engine
) -> None:
    (user, _) = two_users(sqlite_engine)
    config = jobs_config()
    on_time = [usage_row(user, datetime(2024, 2, 29, 23, 30, tzinfo=UTC), latency_ms=200)]
    with sqlite_engine.begin() as conn:
        insert_rows(conn, on_time)
    summarize(sqlite_url, config)
    late = [
        usage_row(user, datetime(2024, 2, 29, 23, 59, 59, tzinfo=UTC), cost=None, latency_ms=9000)
    ]
    with sqlite_engine.begin() as conn:
        insert_rows(conn, late)
    report = summarize(sqlite_url, config)
    assert report.rows == 1
    assert {level: r.updated for level, r in report.levels.items()} == {p: 1 for p in PERIODS}
    assert_summaries_match(sqlite_engine, on_time + late)
    with sqlite_engine.connect() as conn:
        monthly = stored_summaries(conn, "monthly")
    (totals,) = monthly.values()
    assert (totals.requests, totals.unpriced, totals.cost) == (2, 1, Decimal("0.001"))


def test_dry_run_reports_and_changes_nothing(sqlite_url: str, sqlite_engine: Engine) -> None:
    (user, _) = two_users(sqlite_engine)
    with sqlite_engine.begin() as conn:
        insert_rows(conn, [usage_row(user, BASE + timedelta(hours=h)) for h in range(30)])
    dry = summarize(sqlite_url, jobs_config(), dry_run=True)
    assert dry.rows == 30 and dry.levels["hourly"].inserted == 30
    assert dry.levels["daily"].inserted == 3 and dry.levels["weekly"].inserted == 2
    assert dry.levels["monthly"].inserted == 1
    with sqlite_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(usage_summaries)).scalar() == 0
        assert read_watermarks(conn, PERIODS) == {p: 0 for p in PERIODS}
    real = summarize(sqlite_url, jobs_config())
    assert real.levels["hourly"].inserted == 30 and real.changed == dry.changed


def test_periods_past_their_retention_are_not_recreated(
    sqlite_url: str, sqlite_engine: Engine
) -> None:
    # hourly summaries are kept 7 days: a late row from 50 days ago does not recreate its
    # (deleted) hourly period, but still counts in its daily, weekly and monthly ones
    (user, _) = two_users(sqlite_engine)
    config = jobs_config(hourly=7, raw=30)
    ancient = usage_row(user, datetime(2024, 1, 20, 10, tzinfo=UTC))
    recent = usage_row(user, datetime(2024, 3, 8, 10, tzinfo=UTC))
    with sqlite_engine.begin() as conn:
        insert_rows(conn, [ancient, recent])
    report = summarize(sqlite_url, config)
    assert report.levels["hourly"].skipped == 1 and report.levels["hourly"].inserted == 1
    with sqlite_engine.connect() as conn:
        assert stored_summaries(conn, "hourly") == expected_summaries([recent], "hourly")
        for period in ("daily", "weekly", "monthly"):
            expected = expected_summaries([ancient, recent], period)  # type: ignore[arg-type]
            assert stored_summaries(conn, period) == expected  # type: ignore[arg-type]
    # a backfill may not rebuild the ancient day from sources that no longer cover it
    again = summarize(
        sqlite_url, config, backfill_start=datetime(2024, 1, 19, tzinfo=UTC), backfill_end=NOW
    )
    assert again.backfilled["daily"].deleted == 0 and again.backfilled["daily"].skipped > 0


def test_backfill_rebuilds_a_tampered_range_for_one_user(
    sqlite_url: str, sqlite_engine: Engine
) -> None:
    alice, bob = two_users(sqlite_engine)
    rows = [usage_row(u, BASE + timedelta(hours=h)) for u in (alice, bob) for h in range(5)]
    with sqlite_engine.begin() as conn:
        insert_rows(conn, rows)
    summarize(sqlite_url, jobs_config())
    with sqlite_engine.begin() as conn:
        conn.execute(sa.update(usage_summaries).values(request_count=999))
    report = summarize(
        sqlite_url, jobs_config(), backfill_start=BASE, backfill_end=NOW, user_id=alice
    )
    with sqlite_engine.connect() as conn:
        stored = list(conn.execute(sa.select(usage_summaries)))
    assert all(r.request_count == 999 for r in stored if r.user_id == bob)
    alices = [r for r in rows if r["user_id"] == alice]
    with sqlite_engine.connect() as conn:
        for period in PERIODS:
            mine = {k: v for k, v in stored_summaries(conn, period).items() if k[0] == alice}
            assert mine == expected_summaries(alices, period)
    assert report.backfilled["hourly"].updated == 5


# --- summaries-first answers ----------------------------------------------------------------


def expected_groups(
    rows: list[dict[str, Any]], start: datetime, end: datetime, granularity: Period, by_user: bool
) -> dict[tuple[datetime, str, int | None], Totals]:
    out: dict[tuple[datetime, str, int | None], Totals] = defaultdict(Totals)
    for row in rows:
        if start <= row["requested_at"] < end:
            bucket = period_floor(row["requested_at"], granularity)
            add(out[(bucket, row["model_id"], row["user_id"] if by_user else None)], row)
    return dict(out)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    generated=st.lists(row_fields, min_size=1, max_size=40),
    late=st.lists(row_fields, max_size=10),
    a=st.integers(-3600, SPAN_SECONDS + 3600),
    length=st.integers(1, SPAN_SECONDS),
    granularity=st.sampled_from(PERIODS),
    by_user=st.booleans(),
)
def test_summaries_first_equals_raw_sums(
    sqlite_url: str,
    sqlite_engine: Engine,
    generated: list[Any],
    late: list[Any],
    a: int,
    length: int,
    granularity: Period,
    by_user: bool,
) -> None:
    users = getattr(sqlite_engine, "_users", None) or two_users(sqlite_engine)
    sqlite_engine._users = users  # type: ignore[attr-defined]
    config = jobs_config(chunk_rows=1000)
    with sqlite_engine.begin() as conn:
        clear_usage(conn)
        rows = [materialize(users, f) for f in generated]
        insert_rows(conn, rows)
    summarize(sqlite_url, config)
    with sqlite_engine.begin() as conn:  # recorded after the last roll-up: the raw tail
        tail = [materialize(users, f) for f in late]
        insert_rows(conn, tail)
    start = BASE + timedelta(seconds=a)
    end = start + timedelta(seconds=length)
    expected = expected_groups(rows + tail, start, end, granularity, by_user)
    for coverage in (
        coverage_for(config, NOW),
        coverage_for(JobsConfig(), NOW + timedelta(days=9999)),
    ):
        query = AggregateQuery(start, end, granularity, coverage, by_user=by_user)
        for tail_by_id in (usage_queries.TAIL_BY_ID, -1):  # by primary key, or by index
            saved, usage_queries.TAIL_BY_ID = usage_queries.TAIL_BY_ID, tail_by_id
            try:
                with sqlite_engine.connect() as conn:
                    assert aggregate(conn, query) == expected
            finally:
                usage_queries.TAIL_BY_ID = saved
    one = users[0]
    query = AggregateQuery(start, end, granularity, coverage_for(config, NOW), user_id=one)
    with sqlite_engine.connect() as conn:
        mine = aggregate(conn, query)
    assert mine == expected_groups(
        [r for r in rows + tail if r["user_id"] == one], start, end, granularity, False
    )
