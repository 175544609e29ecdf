"""What the usage pages show, built with the same service the JSON API uses (so the numbers
on the page, in the API and in the CSV export are the same)."""

from __future__ import annotations

from typing import Any

from storage.repos.usage_queries import RecordFilter
from web.metering.usage import UsageService, decode_cursor
from web.services import Services
from web.ui.charts import build_charts, short_model
from web.ui.filters import UsageFilter

PAGE_SIZE = 50


def usage_service(services: Services) -> UsageService:
    """The metering service over this app's database, retention settings and clock."""
    return UsageService(services.db, services.jobs, services.now)


async def usage_context(
    services: Services, f: UsageFilter, *, user_id: int | None, admin: bool
) -> dict[str, Any]:
    """Charts, totals, breakdowns and one page of records for the filter (`user_id` None:
    everyone, admins only)."""
    usage = usage_service(services)
    groups = await usage.summaries(
        period=f.period, start=f.start, end=f.end, user_id=user_id, model_id=f.model
    )
    points = [
        (g.period_start, g.model_id, g.totals)
        for g in groups
        if g.period_start is not None and g.model_id is not None
    ]
    stats = await usage.stats(
        start=f.start, end=f.end, user_id=user_id, model_id=f.model, by_user=admin
    )
    every_model = stats
    if f.model is not None:
        every_model = await usage.stats(start=f.start, end=f.end, user_id=user_id)
    models = sorted(
        {g.model_id for g in every_model.by_model if g.model_id} | set([f.model] if f.model else [])
    )
    records = RecordFilter(
        user_id=user_id, start=f.start, end=f.end, model_id=f.model, success=f.success
    )
    cursor = decode_cursor(f.cursor) if f.cursor else None
    page = await usage.records(records, limit=PAGE_SIZE, cursor=cursor)
    return {
        "filter": f,
        "charts": build_charts(points, f.start, f.end, f.period),
        "totals": stats.totals,
        "by_model": stats.by_model,
        "by_user": stats.by_user or [],
        "models": [(m, short_model(m)) for m in models],
        "records": page.records,
        "next_cursor": page.next_cursor,
        "short_model": short_model,
    }
