"""The composition root: the supervision tree of one `bedrock-proxy serve` process.

Nesting is shutdown order. Reading inward: storage, cache (and its evictor), the usage
accountant, the connection tracker, the HTTP server. On SIGTERM the server stops accepting,
streams end by their deadline, the accountant flushes, then the cache and the database close.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from importlib import metadata
from typing import Any, cast

import attrs
import trio

from actors.cache_evictor import open_cache_evictor
from actors.config import ShutdownConfig
from actors.connection_tracker import ConnectionTracker, open_connection_tracker
from actors.errors import ActorFailed
from actors.usage import open_usage_accountant
from ops.config import Settings
from ops.lifecycle import Lifecycle, watch_signals
from proxy.bedrock import BedrockClient, CredentialsUnavailable, open_bedrock_client
from proxy.metrics import Metrics
from storage import migrate
from storage.cache import MemoryCache, open_cache
from storage.database import Database, open_database
from web.app import create_app
from web.front import ASGIApp, FastRoutes, FrontDoor
from web.server import hypercorn_config, serve_http
from web.services import Services

log = logging.getLogger("bedrock.serve")

GRACE_AFTER_DEADLINE = 5.0  # seconds hypercorn waits past our own deadlines before cutting

HttpServer = Callable[..., Awaitable[None]]


def version() -> str:
    """The installed distribution's version."""
    try:
        return metadata.version("bedrock-sso-proxy")
    except metadata.PackageNotFoundError:  # running from a source tree
        return "0+unknown"


@attrs.frozen
class ServeHooks:
    """What tests may replace: the HTTP server and the signal watcher."""

    http_server: HttpServer | None = None
    watch_signals: bool = True


async def run_service(
    settings: Settings,
    *,
    lifecycle: Lifecycle | None = None,
    hooks: ServeHooks | None = None,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> int:
    """Run until drained; the exit code: 0 after a graceful drain, 1 when forced or failed."""
    lifecycle = lifecycle or Lifecycle()
    hooks = hooks or ServeHooks()
    lifecycle.readiness_delay = settings.shutdown.readiness_delay_seconds
    failed = False
    with trio.CancelScope() as everything:
        lifecycle.cancel_on_force(everything)
        try:
            async with trio.open_nursery() as nursery:
                if hooks.watch_signals:
                    await nursery.start(watch_signals, lifecycle)
                await _tree(settings, lifecycle, hooks, task_status)
                nursery.cancel_scope.cancel()
        except* ActorFailed as group:
            log.critical("stopping: %s", group.exceptions[0])
            failed = True
    if failed or lifecycle.forced.is_set():
        return 1
    lifecycle.mark("stopped")
    return 0


async def _tree(
    settings: Settings,
    lifecycle: Lifecycle,
    hooks: ServeHooks,
    task_status: trio.TaskStatus[list[str]],
) -> None:
    shutdown = settings.shutdown
    async with open_database(settings.database) as db:
        await _prepare_schema(db, settings)
        async with open_cache(settings.cache) as cache, _evictor(cache, settings):
            async with open_usage_accountant(
                db,
                settings.usage,
                flush_timeout=shutdown.token_tracking_timeout_seconds,
                hard_stop=lifecycle.forced,
            ) as usage:
                async with (
                    open_connection_tracker(shutdown) as tracker,
                    open_bedrock_client(settings.aws) as bedrock,
                ):
                    await _resolve_credentials(bedrock)
                    services = Services(
                        version=version(),
                        db=db,
                        cache=cache,
                        usage=usage,
                        tracker=tracker,
                        metrics=Metrics(),
                        server=settings.server,
                        streaming=settings.streaming,
                        is_draining=lambda: lifecycle.draining,
                        bedrock=bedrock,
                    )
                    async with trio.open_nursery() as nursery:
                        nursery.start_soon(_coordinate_drain, lifecycle, tracker, shutdown)
                        await _serve(services, settings, lifecycle, hooks, task_status)
                        nursery.cancel_scope.cancel()
                lifecycle.mark("requests drained")
            lifecycle.mark("usage flushed")
        lifecycle.mark("cache closed")
    lifecycle.mark("database closed")


@asynccontextmanager
async def _evictor(cache: Any, settings: Settings) -> AsyncIterator[None]:
    if isinstance(cache, MemoryCache):
        async with open_cache_evictor(cache, settings.cache.cleanup_interval):
            yield
    else:
        yield


async def _prepare_schema(db: Database, settings: Settings) -> None:
    if settings.database.migration_on_startup:
        from ops.database_init import initialise

        await trio.to_thread.run_sync(initialise, db.engine, False, False)
    else:
        await trio.to_thread.run_sync(migrate.require_current, db.engine)


async def _resolve_credentials(bedrock: BedrockClient) -> None:
    """Find AWS credentials now, so a missing one is reported at start-up, not on a request."""
    try:
        await trio.to_thread.run_sync(bedrock.credentials.resolve_blocking)
    except CredentialsUnavailable as exc:
        log.error("%s; Bedrock calls will fail until credentials appear", exc)


async def _coordinate_drain(
    lifecycle: Lifecycle, tracker: ConnectionTracker, shutdown: ShutdownConfig
) -> None:
    """At the first signal, give every request in flight its deadline."""
    await lifecycle.drain_started.wait()
    assert lifecycle.drain_began_at is not None
    closing = lifecycle.drain_began_at + shutdown.readiness_delay_seconds
    tracker.begin_drain(
        streams_deadline=closing + shutdown.streaming_timeout_seconds,
        requests_deadline=closing + shutdown.timeout_seconds,
    )


async def _serve(
    services: Services,
    settings: Settings,
    lifecycle: Lifecycle,
    hooks: ServeHooks,
    task_status: trio.TaskStatus[list[str]],
) -> None:
    if hooks.http_server is not None:
        await hooks.http_server(services, lifecycle.wait_listener_close, task_status=task_status)
        return
    quart_app = create_app(services)
    front = FrontDoor(
        fallback=cast(ASGIApp, quart_app), routes=FastRoutes(), metrics=services.metrics
    )
    shutdown = settings.shutdown
    config = hypercorn_config(
        host=settings.server.host,
        port=settings.server.port,
        graceful_timeout=max(shutdown.streaming_timeout_seconds, shutdown.timeout_seconds)
        + GRACE_AFTER_DEADLINE,
    )

    await serve_http(front, config, lifecycle.wait_listener_close, task_status=task_status)
