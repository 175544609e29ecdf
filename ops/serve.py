"""The composition root: the supervision tree of one `bedrock-proxy serve` process.

Nesting is shutdown order. Reading inward: storage, cache (and its evictor), the price book,
the usage accountant, the job scheduler, the connection tracker, the HTTP server. On SIGTERM
the server stops accepting, streams end by their deadline, the scheduler stops, the
accountant flushes, then the cache and the database close.
"""

from __future__ import annotations

import errno
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
from actors.jobs import open_jobs
from actors.model_discovery import open_model_directory
from actors.pricing import open_price_book
from actors.usage import open_usage_accountant
from ops.config import Settings
from ops.identity import open_identity
from ops.lifecycle import Lifecycle, watch_signals
from proxy.bedrock import BedrockClient, CredentialsUnavailable, open_bedrock_client
from proxy.metrics import Metrics
from storage import migrate
from storage.cache import MemoryCache, open_cache
from storage.database import Database, open_database
from web.app import create_app
from web.dataplane import build_routes
from web.front import ASGIApp, FrontDoor
from web.metrics import metrics_app
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
    """What tests and harnesses may replace or observe: the HTTP server, the signal watcher,
    and the services once built."""

    http_server: HttpServer | None = None
    watch_signals: bool = True
    services_ready: Callable[[Services], None] | None = None


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
        except* OSError as group:
            # e.g. the port is taken, or the data directory is not writable
            log.critical("stopping: %s", _describe_os_error(group, settings))
            failed = True
    if failed or lifecycle.forced.is_set():
        return 1
    lifecycle.mark("stopped")
    return 0


def _describe_os_error(group: BaseExceptionGroup[OSError], settings: Settings) -> str:
    first: BaseException = group
    while isinstance(first, BaseExceptionGroup):
        first = first.exceptions[0]
    if isinstance(first, OSError) and first.errno == errno.EADDRINUSE:
        return (
            f"cannot listen: {first.strerror} (server.port {settings.server.port},"
            f" metrics.port {settings.metrics.port}; set BEDROCK_SERVER__PORT or"
            " BEDROCK_METRICS__PORT)"
        )
    return f"{type(first).__name__}: {first}"


async def _tree(
    settings: Settings,
    lifecycle: Lifecycle,
    hooks: ServeHooks,
    task_status: trio.TaskStatus[list[str]],
) -> None:
    shutdown = settings.shutdown
    async with open_database(settings.database) as db:
        await _prepare_schema(db, settings)
        async with (
            open_cache(settings.cache) as cache,
            _evictor(cache, settings),
            open_identity(db, cache, settings) as identity,
            open_price_book(db, cache, settings.usage.price_refresh_seconds) as prices,
        ):
            async with open_usage_accountant(
                db,
                settings.usage,
                flush_timeout=shutdown.token_tracking_timeout_seconds,
                pricer=prices.quote,
                hard_stop=lifecycle.forced,
            ) as usage:
                async with (
                    # stops (runs in flight get background_task_timeout_seconds) before
                    # the accountant flushes
                    open_jobs(
                        db,
                        settings.jobs,
                        stop_timeout=shutdown.background_task_timeout_seconds,
                        hard_stop=lifecycle.forced,
                    ) as scheduler,
                    open_connection_tracker(shutdown) as tracker,
                    open_bedrock_client(settings.aws) as bedrock,
                    open_model_directory(
                        settings.anthropic, settings.aws, bedrock.credentials
                    ) as models,
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
                        auth=identity.auth,
                        identity=identity,
                        models=models,
                        anthropic=settings.anthropic,
                        prices=prices,
                        scheduler=scheduler,
                        jobs=settings.jobs,
                    )
                    if hooks.services_ready is not None:
                        hooks.services_ready(services)
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
        fallback=cast(ASGIApp, quart_app),
        routes=build_routes(services),
        metrics=services.metrics,
        is_draining=services.is_draining,
    )
    shutdown = settings.shutdown
    config = hypercorn_config(
        host=settings.server.host,
        port=settings.server.port,
        graceful_timeout=max(shutdown.streaming_timeout_seconds, shutdown.timeout_seconds)
        + GRACE_AFTER_DEADLINE,
    )
    async with trio.open_nursery() as nursery:
        if settings.metrics.enabled:
            metrics_config = hypercorn_config(
                host=settings.metrics.host, port=settings.metrics.port, graceful_timeout=1
            )
            await nursery.start(
                serve_http, metrics_app(services), metrics_config, trio.sleep_forever
            )
        await serve_http(front, config, lifecycle.wait_listener_close, task_status=task_status)
        nursery.cancel_scope.cancel()  # the metrics listener lives as long as the main one
