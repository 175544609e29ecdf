"""The usage pages' filters, read from the query string: range, model, outcome, user, page.

Ranges are UTC: "this month" starts on the 1st at 00:00 UTC, "last N days" at midnight UTC N
days ago; a custom range takes whole days (YYYY-MM-DD), the end day included.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import attrs

from proxy.metering import Period, period_floor
from web.auth.errors import InvalidInput
from web.ui.charts import choose_period

RANGES = {
    "month": "This month",
    "7d": "Last 7 days",
    "30d": "Last 30 days",
    "90d": "Last 90 days",
    "custom": "Custom range",
}
OUTCOMES = {"all": "All", "success": "Succeeded", "failure": "Failed"}
MAX_DAYS = 3650
MAX_ID = 2**63 - 1


@attrs.frozen
class UsageFilter:
    """A validated set of usage filters."""

    range: str
    start: datetime
    end: datetime
    model: str | None = None
    outcome: str = "all"
    user_id: int | None = None
    cursor: str | None = None
    first_day: date | None = None
    last_day: date | None = None

    @property
    def period(self) -> Period:
        """The chart period for this range."""
        return choose_period(self.start, self.end)

    @property
    def success(self) -> bool | None:
        """The outcome as the API's `success` filter."""
        return {"success": True, "failure": False}.get(self.outcome)

    def query(self, **changes: Any) -> str:
        """This filter as a page query string (with `changes`; None drops a field)."""
        fields: dict[str, Any] = {
            "range": self.range,
            "start": self.first_day.isoformat()
            if self.range == "custom" and self.first_day
            else None,
            "end": self.last_day.isoformat() if self.range == "custom" and self.last_day else None,
            "model": self.model,
            "outcome": None if self.outcome == "all" else self.outcome,
            "user_id": self.user_id,
        }
        fields.update(changes)
        return urlencode({k: v for k, v in fields.items() if v is not None and v != ""})

    def api_query(self, **extra: Any) -> str:
        """The same filter for the JSON API (`/api/.../usage/records`)."""
        fields: dict[str, Any] = {
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "model_id": self.model,
            "success": None if self.success is None else str(self.success).lower(),
            "user_id": self.user_id,
            **extra,
        }
        return urlencode({k: v for k, v in fields.items() if v is not None})


def _day(args: Mapping[str, str], name: str) -> date | None:
    raw = (args.get(name) or "").strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw)
    except ValueError:
        raise InvalidInput(f"{name} must be a date like 2026-11-25") from None


def _model(args: Mapping[str, str]) -> str | None:
    raw = (args.get("model") or "").strip()
    if not raw:
        return None
    if len(raw) > 255 or not raw.isprintable() or any(ch.isspace() for ch in raw):
        raise InvalidInput("model must be a model id (at most 255 characters, no spaces)")
    return raw


def _user(args: Mapping[str, str], allowed: bool) -> int | None:
    raw = (args.get("user_id") or "").strip()
    if not raw or not allowed:
        return None
    if not raw.isdigit() or len(raw) > 19 or not 0 < int(raw) <= MAX_ID:
        raise InvalidInput("user_id must be a user's number")
    return int(raw)


def parse_filter(args: Mapping[str, str], now: datetime, *, admin: bool = False) -> UsageFilter:
    """The filters in `args`; `InvalidInput` names the first bad one."""
    key = args.get("range") or "month"
    if key not in RANGES:
        raise InvalidInput(f"range must be one of {', '.join(RANGES)}")
    outcome = args.get("outcome") or "all"
    if outcome not in OUTCOMES:
        raise InvalidInput(f"outcome must be one of {', '.join(OUTCOMES)}")
    first = last = None
    if key == "custom":
        first, last = _day(args, "start"), _day(args, "end")
        if first is None or last is None:
            raise InvalidInput("a custom range needs both a start and an end date")
        if last < first:
            raise InvalidInput("the end date must not be before the start date")
        if (last - first).days > MAX_DAYS or first.year < 2000 or last.year >= 2200:
            raise InvalidInput(f"a custom range may span at most {MAX_DAYS} days")
        start = datetime(first.year, first.month, first.day, tzinfo=UTC)
        end = datetime(last.year, last.month, last.day, tzinfo=UTC) + timedelta(days=1)
    elif key == "month":
        start, end = period_floor(now, "monthly"), now
    else:
        days = int(key.rstrip("d"))
        start, end = period_floor(now - timedelta(days=days), "daily"), now
    if start >= end:  # the first instant of a month
        end = start + timedelta(seconds=1)
    cursor = (args.get("cursor") or "").strip() or None
    if cursor is not None and len(cursor) > 200:
        raise InvalidInput("cursor is not one this page made")
    return UsageFilter(
        range=key,
        start=start,
        end=end,
        model=_model(args),
        outcome=outcome,
        user_id=_user(args, admin),
        cursor=cursor,
        first_day=first,
        last_day=last,
    )
