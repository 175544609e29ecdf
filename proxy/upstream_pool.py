"""An httpx transport whose connection pool costs O(1) per request.

httpcore's `AsyncConnectionPool` rescans every connection on each request and release
(quadratically when many are idle; encode/httpcore#1035 is still open upstream). With
thousands of long streams each holding a connection, that scan dominates the proxy's CPU. This
transport keeps httpcore's own HTTP/1.1 connection implementation (`AsyncHTTPConnection`)
and replaces only the bookkeeping: a LIFO stack of idle connections per origin and a
semaphore for the number of calls in flight.
"""

from __future__ import annotations

import ssl
from collections.abc import AsyncIterator
from typing import Any

import attrs
import httpcore
import httpx
import trio

# httpcore's exceptions and the httpx ones callers catch (most specific first)
_EXCEPTIONS: tuple[tuple[type[Exception], type[httpx.HTTPError]], ...] = (
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.ProtocolError, httpx.ProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
)


def _translate(exc: Exception) -> Exception:
    for core, mapped in _EXCEPTIONS:
        if isinstance(exc, core):
            return mapped(str(exc))
    return exc


Origin = tuple[bytes, bytes, int]


@attrs.frozen
class PoolStatistics:
    """The pool's state."""

    in_use: int
    idle: int
    created: int
    reused: int


@attrs.define(eq=False)
class LifoPoolTransport(httpx.AsyncBaseTransport):
    """`max_connections` calls in flight at most; up to `max_idle` idle connections kept."""

    max_connections: int
    max_idle: int
    keepalive_expiry: float
    ssl_context: ssl.SSLContext | None = None
    _slots: trio.Semaphore = attrs.field(init=False)
    _idle: dict[Origin, list[httpcore.AsyncHTTPConnection]] = attrs.field(factory=dict)
    _idle_count: int = 0
    _created: int = 0
    _reused: int = 0

    def __attrs_post_init__(self) -> None:
        self._slots = trio.Semaphore(self.max_connections)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send `request` on a pooled connection; the response body releases it when closed."""
        timeouts: dict[str, Any] = request.extensions.get("timeout", {})
        pool_timeout = timeouts.get("pool")
        wait = pool_timeout if pool_timeout is not None else float("inf")
        with trio.move_on_after(wait) as waited:
            await self._slots.acquire()
        if waited.cancelled_caught:
            raise httpx.PoolTimeout("no free upstream connection in time")
        url = request.url
        origin: Origin = (url.raw_scheme, url.raw_host, url.port or _default_port(url.raw_scheme))
        connection = await self._take_idle(origin)
        if connection is None:
            connection = httpcore.AsyncHTTPConnection(
                origin=httpcore.Origin(*origin),
                ssl_context=self.ssl_context if url.raw_scheme == b"https" else None,
                keepalive_expiry=self.keepalive_expiry,
            )
            self._created += 1
        else:
            self._reused += 1
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=url.raw_scheme, host=url.raw_host, port=url.port, target=url.raw_path
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        try:
            response = await connection.handle_async_request(core_request)
        except Exception as exc:
            await self._discard(connection)
            raise _translate(exc) from exc
        except BaseException:
            await self._discard(connection)
            raise
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_PooledStream(self, origin, connection, response.stream),
            extensions=response.extensions,
        )

    async def _take_idle(self, origin: Origin) -> httpcore.AsyncHTTPConnection | None:
        stack = self._idle.get(origin)
        while stack:
            connection = stack.pop()
            self._idle_count -= 1
            if connection.is_idle() and not connection.has_expired():
                return connection
            with trio.CancelScope(shield=True):  # expired, or closed by the peer
                await connection.aclose()
        return None

    async def _release(self, origin: Origin, connection: httpcore.AsyncHTTPConnection) -> None:
        self._slots.release()
        if connection.is_idle() and self._idle_count < self.max_idle:
            self._idle.setdefault(origin, []).append(connection)
            self._idle_count += 1
        else:
            with trio.CancelScope(shield=True):
                await connection.aclose()

    async def _discard(self, connection: httpcore.AsyncHTTPConnection) -> None:
        self._slots.release()
        with trio.CancelScope(shield=True):
            await connection.aclose()

    def statistics(self) -> PoolStatistics:
        """A snapshot."""
        in_use = self.max_connections - int(self._slots.value)
        return PoolStatistics(in_use, self._idle_count, self._created, self._reused)

    async def aclose(self) -> None:
        """Close every idle connection (busy ones close with their responses)."""
        stacks, self._idle, self._idle_count = self._idle, {}, 0
        with trio.CancelScope(shield=True):
            for stack in stacks.values():
                for connection in stack:
                    await connection.aclose()


def _default_port(scheme: bytes) -> int:
    return 443 if scheme == b"https" else 80


@attrs.define(eq=False)
class _PooledStream(httpx.AsyncByteStream):
    """The response body; closing it hands the connection back to the pool."""

    pool: LifoPoolTransport
    origin: Origin
    connection: httpcore.AsyncHTTPConnection
    stream: Any
    _released: bool = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        try:
            async for part in self.stream:
                yield part
        except Exception as exc:
            raise _translate(exc) from exc

    async def aclose(self) -> None:
        if self._released:
            return
        self._released = True
        try:
            if hasattr(self.stream, "aclose"):
                await self.stream.aclose()
        finally:
            await self.pool._release(self.origin, self.connection)
