"""Prometheus metrics owned by one registry per process (no global registry)."""

from __future__ import annotations

import attrs
from prometheus_client import CollectorRegistry, Counter, Histogram

LATENCY_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1,
    2.5,
    5,
    10,
    30,
    60,
    300,
)


@attrs.define(eq=False)
class Metrics:
    """The counters the hot path bumps; gauges of actors are read at scrape time instead."""

    registry: CollectorRegistry = attrs.field(factory=CollectorRegistry)
    requests: Counter = attrs.field(init=False)
    duration: Histogram = attrs.field(init=False)
    beta_flags_dropped: Counter = attrs.field(init=False)
    upstream_errors: Counter = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        self.requests = Counter(
            "bedrock_proxy_http_requests",
            "HTTP requests by route template, method and status.",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "bedrock_proxy_http_request_duration_seconds",
            "Time from request start to the last response byte, by route template.",
            ["route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.beta_flags_dropped = Counter(
            "bedrock_proxy_beta_flags_dropped",
            "anthropic-beta flags not passed to Bedrock, by flag and model family.",
            ["flag", "family"],
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "bedrock_proxy_upstream_errors",
            "Failed upstream calls by kind (http status, transport, stream exception).",
            ["kind"],
            registry=self.registry,
        )
