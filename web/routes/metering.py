"""Registering metering on the Quart app: usage, model costs and the job overview."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response

from actors.jobs.overview import job_overview
from web.auth.quart import require_admin
from web.http import json_response
from web.routes import admin_costs, usage
from web.routes.usage import metering_errors
from web.services import Services


def register(app: Any, services: Services) -> None:
    """Add the usage, cost and job routes to `app`."""
    usage.register(app, services)
    admin_costs.register(app, services)
    bp = Blueprint("admin_jobs", __name__)

    @bp.get("/api/admin/jobs")
    @require_admin()
    @metering_errors
    async def jobs() -> Response:
        stats = services.scheduler.statistics() if services.scheduler else None
        overview = await job_overview(services.db, services.jobs, services.now(), stats)
        return json_response({"jobs": [job.json() for job in overview]})

    app.register_blueprint(bp)
