"""Metering for the web layer: usage queries and model prices, shared by the JSON API and UI.

usage = UsageService(services.db, services.jobs, services.now)
stats = await usage.stats(start=..., end=..., user_id=principal.user_id)
costs = CostService(services.db, services.now, services.prices)
"""

from __future__ import annotations

from web.metering.costs import CostService, UploadReport, validate_edit
from web.metering.usage import (
    Group,
    RecordsPage,
    Stats,
    UsageService,
    decode_cursor,
    encode_cursor,
    month_to_date,
    summaries_json,
)
from web.metering.views import cost_json, record_json, totals_json

__all__ = [
    "CostService",
    "Group",
    "RecordsPage",
    "Stats",
    "UploadReport",
    "UsageService",
    "cost_json",
    "decode_cursor",
    "encode_cursor",
    "month_to_date",
    "record_json",
    "summaries_json",
    "totals_json",
    "validate_edit",
]
