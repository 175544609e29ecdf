"""Usage rows written straight into the table, and the sums they must produce (for tests)."""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from proxy.metering import Period, Totals, period_floor
from storage.repos.summaries import totals_of_summary
from storage.schema import job_watermarks, usage_records, usage_summaries

_ids = itertools.count(1)


def usage_row(
    user_id: int,
    at: datetime,
    *,
    model_id: str = "anthropic.claude-sonnet-4-5-20250929-v1:0",
    success: bool = True,
    input_tokens: int = 10,
    output_tokens: int = 20,
    cache_read_tokens: int = 0,
    cache_write_5m_tokens: int = 0,
    cache_write_1h_tokens: int = 0,
    cost: Decimal | None = Decimal("0.001"),
    latency_ms: int = 100,
    api_key_id: int | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """Column values of one usage row."""
    return {
        "request_id": f"row-{next(_ids)}",
        "user_id": user_id,
        "api_key_id": api_key_id,
        "model_id": model_id,
        "model_name": None,
        "region": "us-east-1",
        "route": "bedrock.invoke",
        "requested_at": at,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cache_read_tokens": cache_read_tokens,
        "cache_write_5m_tokens": cache_write_5m_tokens,
        "cache_write_1h_tokens": cache_write_1h_tokens,
        "cost_usd": cost,
        "response_time_ms": latency_ms,
        "success": success,
        "status_code": 200 if success else 500,
        "error_message": None,
        **extra,
    }


def insert_rows(conn: Connection, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert the rows as they are (they must all have the same keys)."""
    if rows:
        conn.execute(sa.insert(usage_records), [dict(r) for r in rows])


def clear_usage(conn: Connection) -> None:
    """Forget every usage row, summary and watermark."""
    conn.execute(sa.delete(usage_summaries))
    conn.execute(sa.delete(usage_records))
    conn.execute(sa.delete(job_watermarks))


def add(totals: Totals, row: Mapping[str, Any]) -> None:
    """Count a row given as column values."""
    totals.add_record(
        success=row["success"],
        input_tokens=row["input_tokens"],
        output_tokens=row["output_tokens"],
        cache_read_tokens=row["cache_read_tokens"],
        cache_write_tokens=row["cache_write_5m_tokens"] + row["cache_write_1h_tokens"],
        cost=row["cost_usd"],
        latency_ms=row["response_time_ms"],
    )


def expected_summaries(
    rows: Iterable[Mapping[str, Any]], period: Period
) -> dict[tuple[int, str, datetime], Totals]:
    """What the `period` summaries must hold: sums over the raw rows."""
    out: dict[tuple[int, str, datetime], Totals] = defaultdict(Totals)
    for row in rows:
        key = (row["user_id"], row["model_id"], period_floor(row["requested_at"], period))
        add(out[key], row)
    return dict(out)


def stored_summaries(conn: Connection, period: Period) -> dict[tuple[int, str, datetime], Totals]:
    """The `period` summaries in the database (checking their derived columns on the way)."""
    out: dict[tuple[int, str, datetime], Totals] = {}
    query = sa.select(usage_summaries).where(usage_summaries.c.period_type == period)
    for row in conn.execute(query):
        totals = totals_of_summary(row)
        assert row.p95_latency_ms == totals.p95_latency_ms
        out[(row.user_id, row.model_id, row.period_start)] = totals
    return out
