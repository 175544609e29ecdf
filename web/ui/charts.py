"""Stacked bar charts of usage over time, laid out here and drawn as SVG by a template.

Pure: usage groups in, geometry and labels out. The period follows the range (hourly up to
two days, daily up to a month, weekly up to a quarter, monthly beyond); buckets are UTC.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from decimal import Decimal

import attrs

from proxy.metering import Period, Totals, period_floor, period_next
from web.ui.format import compact, money, tokens

WIDTH, HEIGHT = 960, 300
LEFT, RIGHT, TOP, BOTTOM = 72, 8, 12, 40
MAX_SERIES = 7  # with more than 8 models, all but the top 7 are summed as "other"
MAX_X_LABELS = 8
OTHER = "other"


@attrs.frozen
class Metric:
    """What a chart measures and how its numbers read."""

    key: str
    title: str
    value: Callable[[Totals], float]
    text: Callable[[float], str]
    tick: Callable[[float], str] = compact


def _tokens_of(t: Totals) -> float:
    return float(t.input_tokens + t.output_tokens + t.cache_read_tokens + t.cache_write_tokens)


METRICS = (
    Metric(
        "cost",
        "Spend (USD)",
        lambda t: float(t.cost),
        lambda v: money(Decimal(str(v))),
        lambda v: "$" + compact(v),
    ),
    Metric("tokens", "Tokens", _tokens_of, lambda v: tokens(round(v))),
    Metric("requests", "Requests", lambda t: float(t.requests), lambda v: tokens(round(v))),
)


@attrs.frozen
class Segment:
    """One model's part of a bar."""

    series: str
    css: str
    y: float
    height: float
    text: str


@attrs.frozen
class Bar:
    """One period: its position, label, total and segments (bottom to top)."""

    label: str
    x: float
    width: float
    total_text: str
    segments: tuple[Segment, ...]
    show_label: bool

    @property
    def center(self) -> float:
        """The x of the bar's middle (for its axis label)."""
        return self.x + self.width / 2


@attrs.frozen
class Chart:
    """Everything the SVG template and its accessible table need."""

    metric: str
    title: str
    period: Period
    bars: tuple[Bar, ...]
    ticks: tuple[tuple[float, str], ...]
    legend: tuple[tuple[str, str], ...]
    total_text: str
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    plot_width: int = WIDTH - LEFT - RIGHT
    plot_height: int = HEIGHT - TOP - BOTTOM

    @property
    def baseline(self) -> int:
        """The y of the x axis."""
        return self.top + self.plot_height

    @property
    def empty(self) -> bool:
        """True when every bar is zero."""
        return all(not bar.segments for bar in self.bars)


def choose_period(start: datetime, end: datetime) -> Period:
    """Hourly up to 2 days, daily up to 31 days, weekly up to 92 days, monthly beyond."""
    span = end - start
    if span <= timedelta(days=2):
        return "hourly"
    if span <= timedelta(days=31):
        return "daily"
    if span <= timedelta(days=92):
        return "weekly"
    return "monthly"


def buckets(start: datetime, end: datetime, period: Period) -> list[datetime]:
    """Starts of every period overlapping [start, end)."""
    out: list[datetime] = []
    bucket = period_floor(start, period)
    while bucket < end:
        out.append(bucket)
        bucket = period_next(bucket, period)
    return out


def bucket_label(start: datetime, period: Period) -> str:
    """A period's short label (UTC)."""
    if period == "hourly":
        return start.strftime("%b %d %H:00")
    if period == "daily":
        return start.strftime("%b %d")
    if period == "weekly":
        return "wk " + start.strftime("%b %d")
    return start.strftime("%b %Y")


def short_model(model_id: str) -> str:
    """A model id without its region prefix, vendor and version suffix, for legends."""
    name = re.sub(r"^(us|eu|apac|us-gov|jp|au|ca|global)\.", "", model_id)
    name = re.sub(r"^anthropic\.", "", name)
    return re.sub(r"-v\d+(:\d+)?$", "", name)


def nice_step(value: float) -> float:
    """The smallest 1, 2, 2.5 or 5 times a power of ten that is at least `value`."""
    if value <= 0:
        return 1.0
    power = 10.0 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power * (1 + 1e-9):
            return step * power
    return 10.0 * power  # pragma: no cover


def axis(top: float, ticks: int = 4) -> tuple[float, list[float]]:
    """A round axis maximum at or above `top` and its tick values (0 included)."""
    step = nice_step(top / ticks) if top > 0 else 1.0
    count = max(1, math.ceil(top / step - 1e-9)) if top > 0 else ticks
    return step * count, [step * k for k in range(count + 1)]


SeriesKey = tuple[datetime, str]


def build_chart(
    points: Sequence[tuple[datetime, str, Totals]],
    start: datetime,
    end: datetime,
    period: Period,
    metric: Metric,
) -> Chart:
    """A stacked bar chart of `metric` per period and model from (period start, model,
    totals) points."""
    values: dict[SeriesKey, float] = defaultdict(float)
    by_series: dict[str, float] = defaultdict(float)
    for bucket, model, totals in points:
        amount = metric.value(totals)
        values[(bucket, model)] += amount
        by_series[model] += amount
    ranked = [m for m, v in sorted(by_series.items(), key=lambda kv: (-kv[1], kv[0])) if v > 0]
    keep = ranked if len(ranked) <= MAX_SERIES + 1 else ranked[:MAX_SERIES]
    series_of = {m: (m if m in keep else OTHER) for m in ranked}
    order = keep + ([OTHER] if len(ranked) > len(keep) else [])
    css = {name: f"s{i}" for i, name in enumerate(order)}

    starts = buckets(start, end, period)
    stacked: list[dict[str, float]] = []
    for bucket in starts:
        column: dict[str, float] = defaultdict(float)
        for model, name in series_of.items():
            column[name] += values.get((bucket, model), 0.0)
        stacked.append(column)
    top_value, tick_values = axis(max((sum(c.values()) for c in stacked), default=0.0))

    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / max(len(starts), 1)
    gap = min(6.0, slot * 0.2)
    every = max(1, math.ceil(len(starts) / MAX_X_LABELS))
    bars: list[Bar] = []
    for i, (bucket, column) in enumerate(zip(starts, stacked, strict=True)):
        y = float(TOP + plot_h)
        segments: list[Segment] = []
        for name in order:
            amount = column.get(name, 0.0)
            if amount <= 0:
                continue
            h = amount / top_value * plot_h
            y -= h
            label = name if name == OTHER else short_model(name)
            segments.append(Segment(name, css[name], y, h, f"{label}: {metric.text(amount)}"))
        bars.append(
            Bar(
                label=bucket_label(bucket, period),
                x=LEFT + i * slot + gap / 2,
                width=max(slot - gap, 1.0),
                total_text=metric.text(sum(column.values())),
                segments=tuple(segments),
                show_label=i % every == 0,
            )
        )
    ticks = tuple((TOP + plot_h - plot_h * v / top_value, metric.tick(v)) for v in tick_values)
    legend = tuple((n if n == OTHER else short_model(n), css[n]) for n in order)
    grand = sum(sum(c.values()) for c in stacked)
    return Chart(
        metric=metric.key,
        title=metric.title,
        period=period,
        bars=tuple(bars),
        ticks=ticks,
        legend=legend,
        total_text=metric.text(grand),
    )


def build_charts(
    points: Sequence[tuple[datetime, str, Totals]], start: datetime, end: datetime, period: Period
) -> list[Chart]:
    """Spend, tokens and requests charts over the same points."""
    return [build_chart(points, start, end, period, metric) for metric in METRICS]
