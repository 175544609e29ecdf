"""How metering data looks outside: JSON objects and CSV rows.

Money is always a decimal string ("0.0123"), never a float, so nothing is rounded on the way
out; an unknown cost is `null` in JSON and empty in CSV.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from proxy.metering import Totals, money_text

RECORD_FIELDS = (
    "id",
    "request_id",
    "requested_at",
    "user_id",
    "api_key_id",
    "model_id",
    "model_name",
    "region",
    "route",
    "success",
    "status_code",
    "input_tokens",
    "output_tokens",
    "cache_read_tokens",
    "cache_write_5m_tokens",
    "cache_write_1h_tokens",
    "cost_usd",
    "price_input",
    "price_output",
    "price_cache_write_5m",
    "price_cache_write_1h",
    "price_cache_read",
    "response_time_ms",
    "first_byte_ms",
    "stop_reason",
    "error_type",
    "error_message",
    "streaming",
    "partial",
)
CSV_COLUMNS = RECORD_FIELDS
_FREE_TEXT = frozenset({"model_name", "route", "stop_reason", "error_type", "error_message"})
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return money_text(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def record_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A usage row as the API shows it (prices in USD per million tokens)."""
    return {name: _plain(row[name]) for name in RECORD_FIELDS}


def csv_cells(row: Mapping[str, Any]) -> list[str]:
    """A usage row as CSV cells; free text that a spreadsheet would run as a formula is
    prefixed with an apostrophe."""
    cells: list[str] = []
    for name in CSV_COLUMNS:
        value = row[name]
        if value is None:
            cells.append("")
        elif isinstance(value, bool):
            cells.append("true" if value else "false")
        else:
            text = str(_plain(value))
            if name in _FREE_TEXT and text.startswith(_FORMULA_STARTS):
                text = "'" + text
            cells.append(text)
    return cells


def totals_json(t: Totals) -> dict[str, Any]:
    """Sums of a group; `cost_usd` covers the priced requests (`unpriced_requests` are not)."""
    avg = t.avg_latency_ms
    return {
        "requests": t.requests,
        "successes": t.successes,
        "failures": t.requests - t.successes,
        "input_tokens": t.input_tokens,
        "output_tokens": t.output_tokens,
        "cache_read_tokens": t.cache_read_tokens,
        "cache_write_tokens": t.cache_write_tokens,
        "total_tokens": t.input_tokens
        + t.output_tokens
        + t.cache_read_tokens
        + t.cache_write_tokens,
        "cost_usd": money_text(t.cost),
        "unpriced_requests": t.unpriced,
        "avg_latency_ms": None if avg is None else round(avg, 1),
        "p95_latency_ms": t.p95_latency_ms if min(t.histogram, default=0) >= 0 else None,
    }


def cost_json(row: Mapping[str, Any]) -> dict[str, Any]:
    """A `model_costs` row (prices in USD per million tokens, as decimal strings)."""
    return {
        "region": row["region"],
        "model_id": row["model_id"],
        "model_name": row["model_name"],
        "provider": row["provider"],
        "input_price": _money(row["input_price"]),
        "output_price": _money(row["output_price"]),
        "cache_write_5m_price": _money(row["cache_write_5m_price"]),
        "cache_write_1h_price": _money(row["cache_write_1h_price"]),
        "cache_read_price": _money(row["cache_read_price"]),
        "updated_at": row["updated_at"].isoformat() if row.get("updated_at") else None,
    }


def _money(value: Decimal | None) -> str | None:
    return None if value is None else money_text(value)
