"""Numbers, money and times formatted for people (Jinja filters of the web UI).

Everything returned as `Markup` is built from escaped parts; the rest is plain text that
Jinja escapes on output.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

from markupsafe import Markup, escape

CENT = Decimal("0.01")


def tokens(value: int | None) -> str:
    """1234567 → "1,234,567" (None → "—")."""
    return "—" if value is None else f"{value:,}"


def _decimal(value: Decimal | str | int | float | None) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def money(value: Decimal | str | int | float | None, *, unknown: str = "unknown") -> str:
    """USD for people: "$1,234.57"; amounts under a cent keep four decimals ("$0.0042")."""
    amount = _decimal(value)
    if amount is None:
        return unknown
    sign = "-" if amount < 0 else ""
    amount = abs(amount)
    if amount != 0 and amount < CENT:
        return f"{sign}${amount.quantize(Decimal('0.0001')):f}"
    return f"{sign}${amount.quantize(CENT):,.2f}"


def price(value: Decimal | str | None) -> str:
    """A unit price per million tokens, exact: "$3", "$0.3", "—" when unset."""
    amount = _decimal(value)
    if amount is None:
        return "—"
    text = format(amount.normalize(), "f")
    return f"${text}"


def compact(value: float) -> str:
    """Short axis labels: 950, 1.2k, 3.4M, 5.6B."""
    for bound, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= bound:
            text = f"{value / bound:.1f}".rstrip("0").rstrip(".")
            return text + suffix
    if value % 1 == 0:
        return f"{int(value)}"
    return f"{value:.4g}" if abs(value) < 1 else f"{value:.2f}".rstrip("0").rstrip(".")


def duration_ms(value: float | int | None) -> str:
    """Latency for people: "350 ms", "1.2 s", "—"."""
    if value is None:
        return "—"
    if value < 1000:
        return f"{value:.0f} ms"
    return f"{value / 1000:.1f} s"


def utc_text(value: datetime, *, date_only: bool = False) -> str:
    """The UTC fallback text: "2026-11-25 12:00 UTC"."""
    utc = value.astimezone(UTC)
    return utc.strftime("%Y-%m-%d") if date_only else utc.strftime("%Y-%m-%d %H:%M UTC")


def when(value: datetime | str | None, *, date_only: bool = False, empty: str = "—") -> Markup:
    """A `<time>` element with the UTC text; app.js shows it in the browser's time zone."""
    if value is None or value == "":
        return escape(empty)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return escape(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    kind = "date" if date_only else "datetime"
    return Markup('<time datetime="{}" data-local="{}">{}</time>').format(
        value.astimezone(UTC).isoformat(), kind, utc_text(value, date_only=date_only)
    )


def age(seconds: float) -> str:
    """An age for people: "12 s", "3 min", "2 h 5 min"."""
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(seconds // 60)
    if minutes < 60:
        return f"{minutes} min"
    return f"{minutes // 60} h {minutes % 60} min"


def size(value: int) -> str:
    """Bytes for people: "512 B", "1.5 KiB", "2.0 MiB"."""
    amount = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if amount < 1024 or unit == "GiB":
            return f"{amount:.0f} {unit}" if unit == "B" else f"{amount:.1f} {unit}"
        amount /= 1024
    return f"{value} B"  # pragma: no cover - the loop always returns


def decimal_text(value: Decimal | str | None) -> str:
    """An exact decimal without trailing zeros, for form fields ("" when unset)."""
    amount = _decimal(value)
    return "" if amount is None else format(amount.normalize(), "f")
