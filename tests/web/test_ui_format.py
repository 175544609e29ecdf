"""The web UI's pure helpers: number formats, chart layout, usage filters."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from proxy.metering import Totals
from web.auth.errors import InvalidInput
from web.ui.charts import METRICS, axis, build_chart, choose_period, short_model
from web.ui.filters import parse_filter
from web.ui.format import compact, duration_ms, money, price, tokens, when

NOW = datetime(2026, 11, 25, 12, 30, tzinfo=UTC)


def test_numbers_for_people() -> None:
    assert tokens(1234567) == "1,234,567"
    assert tokens(None) == "—"
    assert money(Decimal("1234.567")) == "$1,234.57"
    assert money("0.0042") == "$0.0042"
    assert money(Decimal(0)) == "$0.00"
    assert money(None) == "unknown"
    assert money("junk") == "unknown"
    assert price("3.000000") == "$3"
    assert price(None) == "—"
    assert compact(1_250_000) == "1.2M" or compact(1_250_000) == "1.25M"
    assert compact(950) == "950"
    assert compact(0.25) == "0.25"
    assert duration_ms(350) == "350 ms"
    assert duration_ms(1250) == "1.2 s"


def test_times_are_time_elements_with_a_utc_fallback() -> None:
    rendered = str(when(NOW))
    assert rendered == (
        '<time datetime="2026-11-25T12:30:00+00:00" data-local="datetime">'
        "2026-11-25 12:30 UTC</time>"
    )
    assert str(when("2026-11-25T12:30:00+00:00", date_only=True)).endswith(">2026-11-25</time>")
    assert str(when(None, empty="never")) == "never"
    assert str(when("<b>")) == "&lt;b&gt;"


@pytest.mark.parametrize(
    ("span", "period"),
    [
        (timedelta(hours=5), "hourly"),
        (timedelta(days=2), "hourly"),
        (timedelta(days=2, hours=1), "daily"),
        (timedelta(days=31), "daily"),
        (timedelta(days=60), "weekly"),
        (timedelta(days=92), "weekly"),
        (timedelta(days=93), "monthly"),
    ],
)
def test_the_period_follows_the_range(span: timedelta, period: str) -> None:
    assert choose_period(NOW - span, NOW) == period


def test_round_axes() -> None:
    assert axis(0) == (4.0, [0, 1, 2, 3, 4])
    assert axis(4) == (4.0, [0, 1, 2, 3, 4])
    top, ticks = axis(0.0003)
    assert top == pytest.approx(0.0003)
    assert ticks == pytest.approx([0, 0.0001, 0.0002, 0.0003])
    assert axis(9) == (10.0, [0, 2.5, 5, 7.5, 10])
    assert axis(4500) == (6000.0, [0, 2000, 4000, 6000])


def test_bars_stack_by_model_in_proportion() -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    end = start + timedelta(days=3)

    def totals(cost: str, requests: int) -> Totals:
        t = Totals()
        for _ in range(requests):
            t.add_record(
                success=True,
                input_tokens=10,
                output_tokens=5,
                cache_read_tokens=0,
                cache_write_tokens=0,
                cost=Decimal(cost) / requests,
                latency_ms=10,
            )
        return t

    sonnet, haiku = "us.anthropic.claude-sonnet-4-5-20250929-v1:0", "anthropic.claude-haiku-4-5"
    points = [
        (start, sonnet, totals("3", 3)),
        (start, haiku, totals("1", 1)),
        (start + timedelta(days=2), sonnet, totals("2", 2)),
    ]
    cost = build_chart(points, start, end, "daily", METRICS[0])
    assert [b.label for b in cost.bars] == ["Nov 01", "Nov 02", "Nov 03"]
    first, empty, third = cost.bars
    assert [s.series for s in first.segments] == [sonnet, haiku]  # biggest series first
    assert first.segments[0].height == pytest.approx(3 * first.segments[1].height)
    assert empty.segments == ()
    assert third.segments[0].height == pytest.approx(first.segments[0].height * 2 / 3)
    assert first.total_text == "$4.00" and cost.total_text == "$6.00"
    assert cost.legend == (("claude-sonnet-4-5-20250929", "s0"), ("claude-haiku-4-5", "s1"))
    assert cost.ticks[-1][1] == "$4"  # a round axis over the tallest bar
    requests = build_chart(points, start, end, "daily", METRICS[2])
    assert requests.total_text == "6"
    assert short_model("global.anthropic.claude-opus-5-5-v1:0") == "claude-opus-5-5"


def test_many_models_are_grouped_as_other() -> None:
    start = datetime(2026, 11, 1, tzinfo=UTC)
    t = Totals()
    t.add_record(
        success=True,
        input_tokens=1,
        output_tokens=1,
        cache_read_tokens=0,
        cache_write_tokens=0,
        cost=Decimal(1),
        latency_ms=1,
    )
    points = [(start, f"model-{i}", t) for i in range(12)]
    chart = build_chart(points, start, start + timedelta(days=1), "hourly", METRICS[2])
    assert len(chart.legend) == 8
    assert chart.legend[-1] == ("other", "s7")


def test_usage_filters() -> None:
    f = parse_filter({}, NOW)
    assert (f.range, f.start, f.end) == ("month", datetime(2026, 11, 1, tzinfo=UTC), NOW)
    assert f.period == "daily"
    f = parse_filter({"range": "7d", "model": "m", "outcome": "failure"}, NOW)
    assert f.start == datetime(2026, 11, 18, tzinfo=UTC)
    assert f.success is False
    assert "success=false" in f.api_query() and "model_id=m" in f.api_query()
    f = parse_filter({"range": "custom", "start": "2026-10-01", "end": "2026-10-01"}, NOW)
    assert (f.start, f.end) == (
        datetime(2026, 10, 1, tzinfo=UTC),
        datetime(2026, 10, 2, tzinfo=UTC),
    )
    assert f.first_day == date(2026, 10, 1)
    assert f.period == "hourly"
    assert "start=2026-10-01" in f.query()
    assert parse_filter({"user_id": "7"}, NOW).user_id is None  # only admins filter by user
    assert parse_filter({"user_id": "7"}, NOW, admin=True).user_id == 7
    first_instant = datetime(2026, 11, 1, tzinfo=UTC)
    f = parse_filter({}, first_instant)
    assert f.start < f.end
    for bad in (
        {"range": "1y"},
        {"outcome": "x"},
        {"range": "custom", "start": "2026-10-02"},
        {"range": "custom", "start": "2026-10-02", "end": "2026-10-01"},
        {"range": "custom", "start": "1990-01-01", "end": "2026-10-01"},
        {"range": "custom", "start": "soon", "end": "later"},
        {"model": "a b"},
    ):
        with pytest.raises(InvalidInput):
            parse_filter(bad, NOW)
    with pytest.raises(InvalidInput):
        parse_filter({"user_id": "x"}, NOW, admin=True)
