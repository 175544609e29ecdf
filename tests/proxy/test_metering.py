"""Periods across UTC boundaries, month ends and leap days; the histogram and its p95."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from proxy.metering import (
    LATENCY_BOUNDS_MS,
    InvalidHistogram,
    Totals,
    TotalsBuilder,
    histogram_from_json,
    histogram_to_json,
    latency_bucket,
    percentile_ms,
    period_floor,
    period_next,
    period_starts,
)


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_periods_on_a_leap_day_and_month_ends() -> None:
    t = utc(2024, 2, 29, 23, 59, 59, 999999)
    assert period_floor(t, "hourly") == utc(2024, 2, 29, 23)
    assert period_floor(t, "daily") == utc(2024, 2, 29)
    assert period_floor(t, "weekly") == utc(2024, 2, 26)  # a Monday
    assert period_floor(t, "monthly") == utc(2024, 2, 1)
    assert period_next(utc(2024, 2, 1), "monthly") == utc(2024, 3, 1)
    assert period_next(utc(2024, 2, 29), "daily") == utc(2024, 3, 1)
    assert period_next(utc(2023, 12, 1), "monthly") == utc(2024, 1, 1)
    assert period_next(utc(2024, 12, 30), "weekly") == utc(2025, 1, 6)
    assert period_floor(utc(2025, 1, 1, 5), "weekly") == utc(2024, 12, 30)


def test_offsets_are_converted_to_utc_and_naive_times_refused() -> None:
    tokyo = timezone(timedelta(hours=9))
    assert period_floor(datetime(2026, 3, 1, 3, 0, tzinfo=tokyo), "daily") == utc(2026, 2, 28)
    with pytest.raises(ValueError, match="naive"):
        period_floor(datetime(2026, 3, 1), "daily")


def test_period_starts_cover_the_range() -> None:
    starts = period_starts(utc(2024, 1, 31, 12), utc(2024, 3, 1), "monthly")
    assert starts == [utc(2024, 1, 1), utc(2024, 2, 1)]
    assert len(period_starts(utc(2024, 2, 28), utc(2024, 3, 1), "hourly")) == 48


@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2199, 12, 1)))
def test_every_time_lies_in_its_period(naive: datetime) -> None:
    t = naive.replace(tzinfo=UTC)
    for period in ("hourly", "daily", "weekly", "monthly"):
        start = period_floor(t, period)  # type: ignore[arg-type]
        assert start <= t < period_next(start, period)  # type: ignore[arg-type]
        assert period_floor(start, period) == start  # type: ignore[arg-type]
    assert period_floor(t, "weekly").weekday() == 0


def test_latency_buckets_have_inclusive_upper_bounds() -> None:
    assert latency_bucket(0) == 0
    assert latency_bucket(50) == 0
    assert latency_bucket(51) == 1
    assert latency_bucket(600_000) == len(LATENCY_BOUNDS_MS) - 1
    assert latency_bucket(600_001) == len(LATENCY_BOUNDS_MS)
    assert latency_bucket(-5) == 0


def test_p95_interpolates_inside_its_bucket() -> None:
    t = Totals()
    for ms in [10] * 90 + [1200] * 10:  # 95th of 100 = the 5th of the ten in (1000, 1500]
        t.add_record(
            success=True,
            input_tokens=1,
            output_tokens=1,
            cache_read_tokens=0,
            cache_write_tokens=0,
            cost=None,
            latency_ms=ms,
        )
    assert t.p95_latency_ms == 1000 + (500 * 5) // 10
    assert percentile_ms([0] * len(t.histogram)) is None
    last = [0] * len(t.histogram)
    last[-1] = 3
    assert percentile_ms(last) == LATENCY_BOUNDS_MS[-1]  # "at least 600 s"


@given(st.lists(st.integers(0, 900_000), min_size=1, max_size=50), st.integers(0, 50))
def test_merged_histograms_give_the_p95_of_all_rows(latencies: list[int], cut: int) -> None:
    def totals(values: list[int]) -> Totals:
        t = Totals()
        for ms in values:
            t.add_record(
                success=ms % 2 == 0,
                input_tokens=ms,
                output_tokens=1,
                cache_read_tokens=0,
                cache_write_tokens=0,
                cost=Decimal(ms) / 1000,
                latency_ms=ms,
            )
        return t

    merged = totals(latencies[:cut])
    merged.merge(totals(latencies[cut:]))
    assert merged == totals(latencies)
    assert merged.p95_latency_ms == totals(latencies).p95_latency_ms
    assert merged.cost == sum((Decimal(ms) / 1000 for ms in latencies), Decimal(0))


def test_histogram_json_round_trip_and_versions() -> None:
    counts = list(range(len(LATENCY_BOUNDS_MS) + 1))
    assert histogram_from_json(histogram_to_json(counts)) == counts
    for bad in ({"v": 2, "counts": counts}, {"v": 1, "counts": counts[:-1]}, [1, 2], None):
        with pytest.raises(InvalidHistogram):
            histogram_from_json(bad)


@given(
    st.lists(
        st.tuples(
            st.booleans(),
            st.integers(0, 10**6),
            st.one_of(st.none(), st.decimals(0, 10, places=9)),
            st.integers(0, 10**6),
        ),
        max_size=300,
    ),
    st.integers(1, 50),
)
def test_the_builder_sums_exactly_like_totals(
    rows: list[tuple[bool, int, Decimal | None, int]], block: int
) -> None:
    expected = Totals()
    builder = TotalsBuilder(block)  # folds often
    summary = TotalsBuilder()
    for success, tokens, cost, latency in rows:
        expected.add_record(
            success=success,
            input_tokens=tokens,
            output_tokens=1,
            cache_read_tokens=2,
            cache_write_tokens=3,
            cost=cost,
            latency_ms=latency,
        )
        ints = (1, int(success), tokens, 1, 2, 3, int(cost is None), latency)
        builder.add_record(ints, cost, latency)
    assert builder.build() == expected
    half = expected
    summary.add_summary(
        (
            half.requests,
            half.successes,
            half.input_tokens,
            half.output_tokens,
            half.cache_read_tokens,
            half.cache_write_tokens,
            half.unpriced,
            half.latency_ms,
        ),
        half.cost,
        list(half.histogram),
    )
    summary.add_summary((1, 1, 0, 0, 0, 0, 0, 7), Decimal("0.5"), None)
    broken = summary.build()
    assert broken.requests == expected.requests + 1 and min(broken.histogram) == -1
