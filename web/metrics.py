"""Prometheus exposition: request counters from the hot path, actor gauges read at scrape time."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import attrs
from prometheus_client import make_asgi_app
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from web.services import Services

PREFIX = "bedrock_proxy_"


@attrs.define(eq=False)
class StatisticsCollector(Collector):
    """Reads each component's `statistics()` when Prometheus scrapes (nothing on the hot path)."""

    services: Services
    extra: list[Callable[[], Iterator[Metric]]] = attrs.field(factory=list)

    def collect(self) -> Iterator[Metric]:
        s = self.services
        streams = s.tracker.statistics()
        yield _gauge("active_streams", "Streaming responses in flight.", streams.active_streams)
        yield _gauge(
            "active_requests", "Non-streaming proxied requests in flight.", streams.active_requests
        )
        yield _gauge("draining", "1 while the process drains.", int(streams.draining))
        yield _counter(
            "streams_cut_at_deadline",
            "Streams ended by the drain deadline.",
            streams.cut_at_deadline,
        )

        usage = s.usage.statistics()
        yield _gauge(
            "actor_channel_depth",
            "Messages waiting in an actor's inbox.",
            usage.queued,
            labels={"actor": "usage_accountant"},
        )
        yield _counter("usage_rows_written", "Usage rows written to the database.", usage.written)
        yield _counter(
            "usage_rows_journaled", "Usage rows written to the journal.", usage.journaled
        )
        yield _counter("usage_rows_replayed", "Journaled usage rows replayed.", usage.replayed)
        yield _counter("usage_rows_rejected", "Usage rows the database refused.", usage.rejected)
        yield _counter(
            "usage_rows_unpriced", "Usage rows recorded with an unknown cost.", usage.unpriced
        )
        yield _counter(
            "usage_failed_batches", "Usage batches the database did not take.", usage.failed_batches
        )
        yield _gauge(
            "usage_journal_bytes", "Bytes waiting in the usage journal.", usage.journal_bytes
        )
        yield _gauge(
            "usage_backpressure", "1 while usage intake is blocked.", int(usage.backpressure)
        )

        cache = s.cache.statistics()
        labels = {"backend": cache.backend}
        yield _counter("cache_hits", "Cache hits.", cache.hits, labels=labels)
        yield _counter("cache_misses", "Cache misses.", cache.misses, labels=labels)
        yield _counter("cache_errors", "Cache operations that failed.", cache.errors, labels=labels)
        if cache.entries is not None:
            yield _gauge("cache_entries", "Entries in the in-process cache.", cache.entries)

        db = s.db.statistics()
        yield _gauge(
            "db_threads_busy",
            "Database worker threads in use.",
            db.threads_busy,
            {"dialect": db.dialect},
        )
        for more in self.extra:
            yield from more()


def _gauge(name: str, doc: str, value: float, labels: dict[str, str] | None = None) -> Metric:
    family = GaugeMetricFamily(PREFIX + name, doc, labels=list(labels or {}))
    family.add_metric(list((labels or {}).values()), value)
    return family


def _counter(name: str, doc: str, value: float, labels: dict[str, str] | None = None) -> Metric:
    family = CounterMetricFamily(PREFIX + name, doc, labels=list(labels or {}))
    family.add_metric(list((labels or {}).values()), value)
    return family


def metrics_app(services: Services) -> Any:
    """The ASGI app serving `/metrics` from this process's registry."""
    from web.metering.metrics import metering_metrics

    registry = services.metrics.registry
    registry.register(StatisticsCollector(services, extra=[metering_metrics(services)]))
    exposition = make_asgi_app(registry=registry)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "lifespan":
            await exposition(scope, receive, send)
            return
        # prometheus' app does not speak lifespan; answer it so hypercorn does not warn
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    return app
