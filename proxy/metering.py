"""Metering maths: UTC summary periods, the mergeable latency histogram, and usage totals.

Pure and exact: periods are computed on aware UTC datetimes (no DST, month ends and leap days
by calendar arithmetic), money is summed as `Decimal`, and the p95 latency is derived from a
histogram with fixed buckets so that merging hourly histograms into a day (or days into a
month) gives exactly the histogram of the raw rows — the same p95 whichever way it was built.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import attrs

Period = Literal["hourly", "daily", "weekly", "monthly"]
PERIODS: tuple[Period, ...] = ("hourly", "daily", "weekly", "monthly")

LATENCY_BOUNDS_MS: tuple[int, ...] = (
    50, 100, 200, 300, 500, 750, 1_000, 1_500, 2_000, 3_000, 4_000, 5_000, 7_500,
    10_000, 15_000, 20_000, 30_000, 45_000, 60_000, 90_000, 120_000, 180_000, 300_000, 600_000,
)  # fmt: skip
"""Inclusive upper bounds (ms) of the histogram buckets; one more bucket holds the rest.

Bucket 0 is [0, 50] ms, bucket i is (bounds[i-1], bounds[i]], the last is (600000, inf).
Changing them changes `HISTOGRAM_VERSION` (stored histograms of another version are rebuilt
by `bedrock-proxy job summaries --backfill`).
"""
HISTOGRAM_VERSION = 1
HISTOGRAM_SIZE = len(LATENCY_BOUNDS_MS) + 1


class InvalidHistogram(ValueError):
    """A stored histogram of another version or shape."""


def ensure_utc(when: datetime) -> datetime:
    """`when` as an aware UTC datetime; naive values are refused (they are ambiguous)."""
    if when.tzinfo is None:
        raise ValueError("naive datetime: a time zone is required")
    return when.astimezone(UTC)


def period_floor(when: datetime, period: Period) -> datetime:
    """Start of the period containing `when` (weeks start on Monday 00:00 UTC)."""
    t = ensure_utc(when).replace(minute=0, second=0, microsecond=0)
    if period == "hourly":
        return t
    t = t.replace(hour=0)
    if period == "daily":
        return t
    if period == "weekly":
        return t - timedelta(days=t.weekday())
    if period == "monthly":
        return t.replace(day=1)
    raise ValueError(f"unknown period {period!r}")


def period_next(start: datetime, period: Period) -> datetime:
    """Start of the period after the one starting at `start` (which must be aligned)."""
    if period == "hourly":
        return start + timedelta(hours=1)
    if period == "daily":
        return start + timedelta(days=1)
    if period == "weekly":
        return start + timedelta(days=7)
    if period == "monthly":
        year, month = (start.year + 1, 1) if start.month == 12 else (start.year, start.month + 1)
        return start.replace(year=year, month=month)
    raise ValueError(f"unknown period {period!r}")


def period_starts(start: datetime, end: datetime, period: Period) -> list[datetime]:
    """Starts of every period overlapping [start, end)."""
    out: list[datetime] = []
    t = period_floor(start, period)
    while t < end:
        out.append(t)
        t = period_next(t, period)
    return out


def latency_bucket(ms: int) -> int:
    """Index of the histogram bucket for a latency in milliseconds."""
    return bisect_left(LATENCY_BOUNDS_MS, max(ms, 0))


def empty_histogram() -> list[int]:
    """A histogram with no observations."""
    return [0] * HISTOGRAM_SIZE


def histogram_to_json(counts: Sequence[int]) -> dict[str, Any]:
    """The stored form: `{"v": 1, "counts": [...]}`."""
    return {"v": HISTOGRAM_VERSION, "counts": list(counts)}


def histogram_from_json(data: Any) -> list[int]:
    """Counts from the stored form; `InvalidHistogram` for another version or shape."""
    if not isinstance(data, dict) or data.get("v") != HISTOGRAM_VERSION:
        raise InvalidHistogram("histogram of an unknown version")
    counts = data.get("counts")
    if not isinstance(counts, list) or len(counts) != HISTOGRAM_SIZE:
        raise InvalidHistogram("histogram of an unexpected shape")
    try:
        negative = min(counts) < 0
    except TypeError:
        raise InvalidHistogram("histogram with a count that is not a number") from None
    if negative:
        raise InvalidHistogram("histogram with a negative count")
    return counts


def percentile_ms(counts: Sequence[int], percent: int = 95) -> int | None:
    """The `percent` percentile, interpolated linearly inside its bucket; None when empty.

    The open last bucket reports its lower bound (600 s): "at least this".
    """
    total = sum(counts)
    if total == 0:
        return None
    rank = max(1, (percent * total + 99) // 100)  # ceil(percent% of total), in integers
    seen = 0
    for index, count in enumerate(counts):
        if seen + count >= rank:
            lower = 0 if index == 0 else LATENCY_BOUNDS_MS[index - 1]
            if index == len(LATENCY_BOUNDS_MS):
                return lower
            upper = LATENCY_BOUNDS_MS[index]
            return lower + ((upper - lower) * (rank - seen)) // count
        seen += count
    return LATENCY_BOUNDS_MS[-1]  # pragma: no cover - unreachable, rank <= total


@attrs.define(eq=True)
class Totals:
    """Sums of usage for one group (a summary bucket, a model, a day...). Mergeable and exact."""

    requests: int = 0
    successes: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0
    cost: Decimal = attrs.field(factory=lambda: Decimal(0))
    unpriced: int = 0
    latency_ms: int = 0
    histogram: list[int] = attrs.field(factory=empty_histogram)

    def add_record(
        self,
        *,
        success: bool,
        input_tokens: int,
        output_tokens: int,
        cache_read_tokens: int,
        cache_write_tokens: int,
        cost: Decimal | None,
        latency_ms: int,
    ) -> None:
        """Count one raw usage row."""
        self.requests += 1
        self.successes += 1 if success else 0
        self.input_tokens += input_tokens
        self.output_tokens += output_tokens
        self.cache_read_tokens += cache_read_tokens
        self.cache_write_tokens += cache_write_tokens
        if cost is None:
            self.unpriced += 1
        else:
            self.cost += cost
        self.latency_ms += latency_ms
        self.histogram[latency_bucket(latency_ms)] += 1

    def merge(self, other: Totals) -> None:
        """Add `other` into this one."""
        self.requests += other.requests
        self.successes += other.successes
        self.input_tokens += other.input_tokens
        self.output_tokens += other.output_tokens
        self.cache_read_tokens += other.cache_read_tokens
        self.cache_write_tokens += other.cache_write_tokens
        self.cost += other.cost
        self.unpriced += other.unpriced
        self.latency_ms += other.latency_ms
        self.histogram = [a + b for a, b in zip(self.histogram, other.histogram, strict=True)]

    @property
    def avg_latency_ms(self) -> float | None:
        """Mean latency, or None without requests."""
        return self.latency_ms / self.requests if self.requests else None

    @property
    def p95_latency_ms(self) -> int | None:
        """95th percentile latency from the histogram, or None without requests."""
        return percentile_ms(self.histogram, 95)


class TotalsBuilder:
    """Collects many rows for one group cheaply and sums them in blocks (column sums run in
    C): far faster than merging `Totals` row by row, in bounded memory."""

    __slots__ = ("_block", "_buckets", "_costs", "_histograms", "_ints", "_valid")

    def __init__(self, block: int = 4096) -> None:
        self._block = block
        self._ints: list[tuple[int, ...]] = []
        self._costs: list[Decimal] = []
        self._histograms: list[list[int]] = []
        self._buckets: list[int] = []
        self._valid = True

    def add_summary(
        self, ints: tuple[int, ...], cost: Decimal, histogram: list[int] | None
    ) -> None:
        """A summary row: `ints` in `SUM_FIELDS` order; histogram None when unreadable."""
        self._ints.append(ints)
        self._costs.append(cost)
        if histogram is None:
            self._valid = False
        else:
            self._histograms.append(histogram)
        if len(self._ints) >= self._block:
            self._fold()

    def add_record(self, ints: tuple[int, ...], cost: Decimal | None, latency_ms: int) -> None:
        """A raw row: `ints` in `SUM_FIELDS` order (requests 1, unpriced 1 when cost is None)."""
        self._ints.append(ints)
        if cost is not None:
            self._costs.append(cost)
        self._buckets.append(latency_bucket(latency_ms))
        if len(self._ints) >= self._block:
            self._fold()

    def _fold(self) -> None:
        ints = tuple(sum(column) for column in zip(*self._ints, strict=True))
        histogram = [sum(c) for c in zip(*self._histograms, strict=True)] or empty_histogram()
        for bucket in self._buckets:
            histogram[bucket] += 1
        self._ints = [ints]
        self._costs = [sum(self._costs, Decimal(0))]
        self._histograms = [histogram]
        self._buckets = []

    def build(self) -> Totals:
        """The sums."""
        if not self._ints:
            return Totals()
        if len(self._ints) > 1 or self._buckets or not self._histograms:
            self._fold()
        sums = dict(zip(SUM_FIELDS, self._ints[0], strict=True))
        histogram = self._histograms[0] if self._valid else [-1] * HISTOGRAM_SIZE
        return Totals(**sums, cost=self._costs[0], histogram=histogram)


SUM_FIELDS = (
    "requests",
    "successes",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_tokens",
    "unpriced",
    "latency_ms",
)
"""The integer sums of `Totals`, in the order `TotalsBuilder` takes them."""


def money_text(value: Decimal) -> str:
    """A Decimal as plain text without exponent or trailing zeros ("0" for zero)."""
    text = format(value.normalize(), "f")
    return "0" if text in ("-0", "0") else text
