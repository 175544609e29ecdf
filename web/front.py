"""The front door: the ASGI app hypercorn serves.

It stamps every request with an id, writes the one access-log line and the metrics, and sends
the proxy's data-plane routes (`/bedrock/...`, `/anthropic/v1/...`) to lean ASGI handlers;
everything else (sign-in, JSON API, web UI, docs, health) goes to the Quart app. The data plane
bypasses Quart because its per-request cost decides the proxy's added latency.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import attrs
import trio

from proxy.metrics import Metrics
from web.context import SCOPE_KEY, RequestContext, request_id_from
from web.errors import error_response

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]
Handler = Callable[[Scope, Receive, Send, dict[str, str]], Awaitable[None]]

access_log = logging.getLogger("bedrock.access")
_CLOSE = (b"connection", b"close")  # while draining: clients reconnect to another instance


@attrs.frozen
class FastRoute:
    """One data-plane route: a path pattern, its template (the metrics label) and methods."""

    pattern: re.Pattern[str]
    template: str
    methods: frozenset[str]
    handler: Handler


@attrs.define
class FastRoutes:
    """The data-plane routing table: first match wins."""

    routes: list[FastRoute] = attrs.field(factory=list)

    def add(self, methods: set[str], regex: str, template: str, handler: Handler) -> None:
        """Register `handler` for paths fully matching `regex` (named groups become params)."""
        self.routes.append(FastRoute(re.compile(regex), template, frozenset(methods), handler))

    def match(self, path: str) -> tuple[FastRoute, dict[str, str]] | None:
        """The route for `path` and its parameters, or None."""
        for route in self.routes:
            found = route.pattern.fullmatch(path)
            if found:
                return route, found.groupdict()
        return None

    def templates(self) -> list[tuple[str, frozenset[str]]]:
        """Every (template, methods) pair, for the OpenAPI route check."""
        return [(r.template, r.methods) for r in self.routes]


@attrs.define(eq=False)
class FrontDoor:
    """The outermost ASGI app (see module docstring)."""

    fallback: ASGIApp
    routes: FastRoutes
    metrics: Metrics
    is_draining: Callable[[], bool] = lambda: False

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.fallback(scope, receive, send)
            return
        request_id, generated = request_id_from(scope["headers"])
        ctx = RequestContext(
            request_id=request_id, started=trio.current_time(), generated_id=generated
        )
        scope[SCOPE_KEY] = ctx
        rid_header = (b"x-request-id", ctx.request_id.encode())

        async def stamped_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                ctx.status = message["status"]
                extra = [rid_header, _CLOSE] if self.is_draining() else [rid_header]
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        try:
            found = self.routes.match(_raw_path(scope))
            if found is None:
                await self.fallback(scope, receive, stamped_send)
                return
            route, params = found
            ctx.route = route.template
            if scope["method"] not in route.methods:
                await _send_error(stamped_send, scope["path"], 405, "method not allowed", ctx)
                return
            await route.handler(scope, receive, stamped_send, params)
        finally:
            self._observe(scope, ctx)

    def _observe(self, scope: Scope, ctx: RequestContext) -> None:
        elapsed = trio.current_time() - ctx.started
        status = ctx.status or 499  # the client left before any response
        self.metrics.requests.labels(ctx.route, scope["method"], str(status)).inc()
        self.metrics.duration.labels(ctx.route).observe(elapsed)
        access_log.info(
            "%s %s %d %.1fms user=%s rid=%s",
            scope["method"],
            scope["path"],
            status,
            elapsed * 1000,
            ctx.user_id if ctx.user_id is not None else "-",
            ctx.request_id,
            extra={
                "http_method": scope["method"],
                "path": scope["path"],
                "status": status,
                "duration_ms": round(elapsed * 1000, 2),
                "user_id": ctx.user_id,
                "request_id": ctx.request_id,
                "route": ctx.route,
            },
        )


def _raw_path(scope: Scope) -> str:
    # data-plane routes match the undecoded path: a model id may carry %2F or %3A
    raw = scope.get("raw_path")
    return raw.decode("latin-1") if isinstance(raw, bytes) else str(scope["path"])


async def _send_error(
    send: Send, path: str, status: int, message: str, ctx: RequestContext
) -> None:
    body, headers = error_response(path, status, message, ctx.request_id)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
