"""Paths of usage (/api/usage, /api/admin/usage), model costs and jobs (/api/admin)."""

from __future__ import annotations

from typing import Any

from web.openapi.common import (
    ID,
    STRING,
    api_errors,
    body,
    ok,
    operation,
    path_param,
    query,
    ref,
)

TIME = {
    "type": "string",
    "description": "ISO 8601 (UTC without an offset; a date is its midnight UTC) or Unix seconds",
}
MODEL = query("model_id", {"type": "string", "maxLength": 255}, "An exact model id")
RANGE = [query("start", TIME, "From (inclusive)"), query("end", TIME, "Until (exclusive)")]
CSV = {"text/csv": {"schema": {"type": "string"}}}


def _usage(admin: bool) -> dict[str, Any]:
    prefix = "/api/admin/usage" if admin else "/api/usage"
    who = "everyone's (admins)" if admin else "the caller's"
    tag = "admin" if admin else "usage"
    user = [query("user_id", ID, "Only this user" if admin else "Must be your own id")]
    ident = "Admin" if admin else "My"
    return {
        f"{prefix}/records": {
            "get": operation(
                f"Usage records, newest first: {who}",
                tag,
                {
                    "200": {
                        "description": "A page of records (JSON) or every match (format=csv)",
                        "content": {
                            "application/json": {"schema": ref("UsageRecords")},
                            **CSV,
                        },
                    },
                    **api_errors(400, 401, 403, 503),
                },
                parameters=[
                    *user,
                    *RANGE,
                    MODEL,
                    query("success", {"type": "boolean"}, "Outcome"),
                    query("api_key_id", ID, "Only this key"),
                    query(
                        "format",
                        {"type": "string", "enum": ["json", "csv"]},
                        "csv streams the whole filtered result",
                    ),
                    query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "Page"),
                    query("offset", {"type": "integer", "minimum": 0, "maximum": 1000000}, "Skip"),
                    query("cursor", STRING, "next_cursor of the previous page"),
                ],
                operation_id=f"{ident.lower()}UsageRecords",
            )
        },
        f"{prefix}/summaries": {
            "get": operation(
                f"Totals per period and model: {who}",
                tag,
                {**ok("Summaries", ref("UsageSummaries")), **api_errors(400, 401, 403, 503)},
                description="Default range: the last 30 days. The first and last periods count"
                " only the part inside the range.",
                parameters=[
                    *user,
                    query(
                        "period",
                        {"type": "string", "enum": ["hourly", "daily", "weekly", "monthly"]},
                        "Bucket size (default daily)",
                    ),
                    *RANGE,
                    MODEL,
                    *(
                        [query("group_by", {"type": "string", "enum": ["user", "model"]}, "")]
                        if admin
                        else []
                    ),
                ],
                operation_id=f"{ident.lower()}UsageSummaries",
            )
        },
        f"{prefix}/stats": {
            "get": operation(
                f"Totals over a range by model and day: {who}",
                tag,
                {**ok("Stats", ref("UsageStats")), **api_errors(400, 401, 403, 503)},
                parameters=[*user, *RANGE, MODEL],
                operation_id=f"{ident.lower()}UsageStats",
            )
        },
    }


COST_KEY = [
    path_param("region", STRING, "AWS region, e.g. us-east-1"),
    path_param("model_id", STRING, "Bedrock model id (may contain ':'; '/' is allowed too)"),
]


def metering_paths() -> dict[str, Any]:
    """Usage, costs and jobs."""
    return {
        **_usage(False),
        **_usage(True),
        "/api/admin/costs": {
            "get": operation(
                "Model prices (admins)",
                "admin",
                {**ok("A page of prices", ref("CostPage")), **api_errors(400, 401, 403, 503)},
                parameters=[
                    query("region", {"type": "string", "maxLength": 200}, "Exact region"),
                    query("model", {"type": "string", "maxLength": 200}, "In model id or name"),
                    query("provider", {"type": "string", "maxLength": 200}, "Provider"),
                    query("limit", {"type": "integer", "minimum": 1, "maximum": 1000}, "Page"),
                    query("offset", {"type": "integer", "minimum": 0, "maximum": 1000000}, "Skip"),
                ],
                operation_id="listCosts",
            ),
            "post": operation(
                "Upload a price table (CSV, admins)",
                "admin",
                {
                    **ok("What was added, updated and rejected", ref("CostUploadReport")),
                    **api_errors(400, 401, 403, 413, 503),
                },
                description="Columns: region, model_id, model_name, provider, input_price,"
                " output_price, cache_write_5m_price, cache_write_1h_price, cache_read_price"
                " (USD per million tokens). Valid rows are applied in one transaction;"
                " rejected lines are reported with their numbers.",
                parameters=[query("dry_run", {"type": "boolean"}, "Report only")],
                request_body={
                    "required": True,
                    "content": {
                        "text/csv": {"schema": {"type": "string"}},
                        "multipart/form-data": {
                            "schema": {
                                "type": "object",
                                "properties": {"file": {"type": "string", "format": "binary"}},
                                "required": ["file"],
                            }
                        },
                    },
                },
                operation_id="uploadCosts",
            ),
        },
        "/api/admin/costs.csv": {
            "get": operation(
                "Every price as CSV (admins)",
                "admin",
                {
                    "200": {"description": "The price table", "content": CSV},
                    **api_errors(401, 403, 503),
                },
                operation_id="exportCosts",
            )
        },
        "/api/admin/costs/{region}/{model_id}": {
            "get": operation(
                "One price (admins)",
                "admin",
                {**ok("The price", ref("Cost")), **api_errors(401, 403, 404, 503)},
                parameters=COST_KEY,
                operation_id="getCost",
            ),
            "put": operation(
                "Create or replace one price (admins)",
                "admin",
                {
                    **ok("Replaced", ref("Cost")),
                    **ok("Created", ref("Cost"), "201"),
                    **api_errors(400, 401, 403, 413, 503),
                },
                parameters=COST_KEY,
                request_body=body(ref("CostEdit")),
                operation_id="putCost",
            ),
            "delete": operation(
                "Delete one price (admins)",
                "admin",
                {"204": {"description": "Deleted"}, **api_errors(401, 403, 404, 503)},
                parameters=COST_KEY,
                operation_id="deleteCost",
            ),
        },
        "/api/admin/jobs": {
            "get": operation(
                "Scheduled jobs: schedule, next and last run (admins)",
                "admin",
                {**ok("Jobs", ref("JobList")), **api_errors(401, 403, 503)},
                operation_id="listJobs",
            )
        },
    }
