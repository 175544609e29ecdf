"""`/api/usage/*` (the caller's own usage) and `/api/admin/usage/*` (everyone's, admins only).

Every parameter is validated; a bad one is a 400 JSON error naming it. Times are ISO 8601
(UTC unless an offset is given; a date means its midnight UTC) or Unix seconds; ranges are
[start, end).
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar, cast

from quart import Blueprint, Response, request

from proxy.metering import PERIODS, Period
from storage.errors import StorageError
from storage.repos.usage_queries import RecordFilter
from web.auth.errors import InvalidInput
from web.auth.principal import AuthError
from web.auth.quart import api_errors, current_principal, require_admin, require_auth
from web.http import json_error, json_response
from web.metering.usage import UsageService, decode_cursor, summaries_json
from web.routes.params import bool_arg, choice_arg, int_arg, time_arg
from web.services import Services

F = TypeVar("F", bound=Callable[..., Awaitable[Any]])

MAX_LIMIT = 1000
DEFAULT_LIMIT = 100
MAX_OFFSET = 1_000_000
MAX_ID = 2**63 - 1
DEFAULT_DAYS = 30
MAX_BUCKETS = 10_000
MAX_STATS_DAYS = 3700
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
_PERIOD_LENGTH = {
    "hourly": timedelta(hours=1),
    "daily": timedelta(days=1),
    "weekly": timedelta(days=7),
    "monthly": timedelta(days=28),
}


def metering_errors(view: F) -> F:
    """`api_errors`, and a 503 when the database cannot answer."""

    @functools.wraps(view)
    async def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return await view(*args, **kwargs)
        except StorageError:
            return json_error(503, "usage data is unavailable right now; retry shortly")

    return api_errors(cast(F, wrapper))


def model_arg() -> str | None:
    """`model_id`: an exact model id (at most 255 printable characters, no spaces)."""
    raw = request.args.get("model_id")
    if raw is None or raw == "":
        return None
    if len(raw) > 255 or not raw.isprintable() or any(ch.isspace() for ch in raw):
        raise InvalidInput("model_id must be a model id (at most 255 characters, no spaces)")
    return raw


def _time(name: str) -> datetime | None:
    value = time_arg(name)
    if value is not None and not EARLIEST <= value < LATEST:
        raise InvalidInput(f"{name} must be between 2000 and 2200")
    return value


def optional_range() -> tuple[datetime | None, datetime | None]:
    """`start` and `end`, each optional."""
    start, end = _time("start"), _time("end")
    if start is not None and end is not None and start >= end:
        raise InvalidInput("start must be before end")
    return start, end


def range_args(now: datetime) -> tuple[datetime, datetime]:
    """`start` and `end`, by default the last 30 days (from midnight UTC) up to now."""
    start, end = optional_range()
    end = end or now
    start = start or (end - timedelta(days=DEFAULT_DAYS)).replace(
        hour=0, minute=0, second=0, microsecond=0
    )
    if start >= end:
        raise InvalidInput("start must be before end")
    return start, end


def user_arg(admin: bool) -> int | None:
    """`user_id` (admins only: for users it must be absent or their own id)."""
    value = int_arg("user_id", None, 1, MAX_ID)
    if admin:
        return value
    me = current_principal().user_id
    if value is not None and value != me:
        raise AuthError(403, "only admins may ask about other users (/api/admin/usage/...)")
    return me


def register(app: Any, services: Services) -> None:
    """Add the usage routes to `app`."""
    usage = UsageService(services.db, services.jobs, services.now)
    bp = Blueprint("usage", __name__)

    async def records(admin: bool) -> Response:
        user_id = user_arg(admin)
        start, end = optional_range()
        f = RecordFilter(
            user_id=user_id,
            start=start,
            end=end,
            model_id=model_arg(),
            success=bool_arg("success"),
            api_key_id=int_arg("api_key_id", None, 1, MAX_ID),
        )
        fmt = choice_arg("format", ("json", "csv"), "json")
        limit = int_arg("limit", DEFAULT_LIMIT, 1, MAX_LIMIT) or DEFAULT_LIMIT
        offset = int_arg("offset", 0, 0, MAX_OFFSET) or 0
        raw_cursor = request.args.get("cursor") or None
        if raw_cursor is not None and offset:
            raise InvalidInput("use either cursor or offset, not both")
        cursor = decode_cursor(raw_cursor) if raw_cursor else None
        if fmt == "csv":
            response = Response(usage.records_csv(f), content_type="text/csv; charset=utf-8")
            response.timeout = None  # a large export takes as long as it takes
            stamp = services.now().strftime("%Y%m%dT%H%M%SZ")
            response.headers["Content-Disposition"] = f'attachment; filename="usage-{stamp}.csv"'
            response.headers["Cache-Control"] = "no-store"
            return response
        page = await usage.records(f, limit=limit, cursor=cursor, offset=offset)
        return json_response(
            {"records": page.records, "next_cursor": page.next_cursor, "limit": limit}
        )

    async def summaries(admin: bool) -> Response:
        user_id = user_arg(admin)
        period = cast(Period, choice_arg("period", PERIODS, "daily"))
        start, end = range_args(services.now())
        if (end - start) / _PERIOD_LENGTH[period] > MAX_BUCKETS:
            raise InvalidInput(
                f"too many {period} periods in the range (at most {MAX_BUCKETS}):"
                " narrow it or choose a longer period"
            )
        group_by = choice_arg("group_by", ("user", "model"), "user") if admin else "model"
        groups = await usage.summaries(
            period=period,
            start=start,
            end=end,
            user_id=user_id,
            model_id=model_arg(),
            by_user=group_by == "user",
        )
        return json_response(summaries_json(period, start, end, groups))

    async def stats(admin: bool) -> Response:
        user_id = user_arg(admin)
        start, end = range_args(services.now())
        if end - start > timedelta(days=MAX_STATS_DAYS):
            raise InvalidInput(f"the range may span at most {MAX_STATS_DAYS} days")
        result = await usage.stats(
            start=start, end=end, user_id=user_id, model_id=model_arg(), by_user=admin
        )
        return json_response(result.json())

    @bp.get("/api/usage/records")
    @require_auth()
    @metering_errors
    async def my_records() -> Response:
        return await records(admin=False)

    @bp.get("/api/usage/summaries")
    @require_auth()
    @metering_errors
    async def my_summaries() -> Response:
        return await summaries(admin=False)

    @bp.get("/api/usage/stats")
    @require_auth()
    @metering_errors
    async def my_stats() -> Response:
        return await stats(admin=False)

    @bp.get("/api/admin/usage/records")
    @require_admin()
    @metering_errors
    async def all_records() -> Response:
        return await records(admin=True)

    @bp.get("/api/admin/usage/summaries")
    @require_admin()
    @metering_errors
    async def all_summaries() -> Response:
        return await summaries(admin=True)

    @bp.get("/api/admin/usage/stats")
    @require_admin()
    @metering_errors
    async def all_stats() -> Response:
        return await stats(admin=True)

    app.register_blueprint(bp)
