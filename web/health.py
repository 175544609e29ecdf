"""Liveness (`/health`) and readiness (`/health/ready`)."""

from __future__ import annotations

from typing import Any

import attrs
import trio
from quart import Blueprint, request
from quart_trio import QuartTrio

from web.http import json_error, json_response
from web.services import Services

HEALTHY, DEGRADED, UNHEALTHY = "healthy", "degraded", "unhealthy"
_RANK = {HEALTHY: 0, DEGRADED: 1, UNHEALTHY: 2}
CHECKS = ("database", "cache", "usage", "streams", "bedrock")
DEFAULT_CHECKS = ("database", "cache", "usage", "streams")
PROBE_TIMEOUT = 2.0


def _worst(statuses: list[str]) -> str:
    return max(statuses, key=_RANK.__getitem__, default=HEALTHY)


async def _database(services: Services, explicit: bool) -> dict[str, Any]:
    try:
        with trio.fail_after(PROBE_TIMEOUT):
            await services.db.ping()
    except Exception as exc:
        # usage is journaled and cached keys still work, so a liveness probe must not restart
        # every pod while the database is down: degraded, unless the caller asked for it
        status = UNHEALTHY if explicit else DEGRADED
        return {"status": status, "dialect": services.db.dialect, "error": _short(exc)}
    return {"status": HEALTHY, "dialect": services.db.dialect}


async def _cache(services: Services, _: bool) -> dict[str, Any]:
    stats = services.cache.statistics()
    body: dict[str, Any] = {"backend": stats.backend, "hits": stats.hits, "misses": stats.misses}
    try:
        with trio.fail_after(PROBE_TIMEOUT):
            await services.cache.ping()
    except (Exception, trio.TooSlowError) as exc:
        return {**body, "status": DEGRADED, "error": _short(exc)}
    status = DEGRADED if stats.degraded else HEALTHY
    return {**body, "status": status, "last_error": stats.last_error}


async def _usage(services: Services, _: bool) -> dict[str, Any]:
    stats = services.usage.statistics()
    if stats.backpressure:
        status = UNHEALTHY
    elif stats.journal_bytes or not stats.database_available:
        status = DEGRADED
    else:
        status = HEALTHY
    return {"status": status, **attrs.asdict(stats)}


async def _streams(services: Services, _: bool) -> dict[str, Any]:
    return {"status": HEALTHY, **attrs.asdict(services.tracker.statistics())}


async def _bedrock(services: Services, explicit: bool) -> dict[str, Any]:
    # no Bedrock call here: credentials found at start-up, and the last model discovery round
    resolved = services.bedrock.credentials.resolved
    stats = services.models.statistics()
    if not resolved:
        status = UNHEALTHY if explicit else DEGRADED
    elif stats.enabled and stats.consecutive_failures:
        status = DEGRADED
    else:
        status = HEALTHY
    discovery = attrs.asdict(stats)
    for key in ("last_success_at", "last_failure_at"):
        if discovery[key] is not None:
            discovery[key] = discovery[key].isoformat()
    return {
        "status": status,
        "region": services.bedrock.config.region,
        "credentials_resolved": resolved,
        "discovery": discovery,
    }


_PROBES = {
    "database": _database,
    "cache": _cache,
    "usage": _usage,
    "streams": _streams,
    "bedrock": _bedrock,
}


def _short(exc: BaseException) -> str:
    return (f"{type(exc).__name__}: {exc}")[:200]


async def run_checks(
    services: Services, names: tuple[str, ...], explicit: bool
) -> dict[str, dict[str, Any]]:
    """Run the named checks concurrently (also used by the admin system page)."""
    results: dict[str, dict[str, Any]] = {}

    async def probe(name: str) -> None:
        results[name] = await _PROBES[name](services, explicit)

    async with trio.open_nursery() as nursery:
        for name in names:
            nursery.start_soon(probe, name)
    return {name: results[name] for name in names}


def register(app: QuartTrio, services: Services) -> None:
    """Add the health routes to `app`."""
    bp = Blueprint("health", __name__)

    @bp.get("/health")
    async def health() -> Any:
        asked = request.args.get("check")
        if asked is None:
            names: tuple[str, ...] = DEFAULT_CHECKS
        elif asked == "all":
            names = CHECKS
        elif asked in CHECKS:
            names = (asked,)
        else:
            choices = "|".join((*CHECKS, "all"))
            return json_error(400, f"unknown check {asked!r}; use one of {choices}")
        results = await run_checks(services, names, asked is not None)
        status = _worst([r["status"] for r in results.values()])
        body = {
            "status": status,
            "version": services.version,
            "draining": services.is_draining(),
            "checks": results,
        }
        return json_response(body, 503 if status == UNHEALTHY else 200)

    @bp.get("/health/ready")
    async def ready() -> Any:
        if services.is_draining():
            return json_response({"status": "draining", "ready": False}, 503)
        return json_response({"status": "ready", "ready": True}, 200)

    app.register_blueprint(bp)
