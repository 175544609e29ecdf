"""Plumbing shared by the data-plane handlers: bodies, disconnects, and the one usage event."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Awaitable, Callable, MutableMapping
from datetime import datetime
from typing import Any

import attrs
import trio

from proxy.usage import UsageEvent
from proxy.usage_tap import Usage
from web.context import RequestContext

log = logging.getLogger("bedrock.dataplane")

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
Headers = list[tuple[bytes, bytes]]


class BodyTooLarge(Exception):
    """The request body exceeds the configured limit."""


class ClientGone(Exception):
    """The client disconnected before its request body arrived."""


async def read_body(receive: Receive, limit: int) -> bytes:
    """The whole request body, refusing more than `limit` bytes as soon as it is exceeded."""
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def send_response(send: Send, status: int, headers: Headers, body: bytes) -> None:
    """A complete response in one body message."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [*headers, (b"content-length", str(len(body)).encode())],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def watch_disconnect(receive: Receive, on_gone: Callable[[], None]) -> None:
    """Call `on_gone` when the client disconnects (run after the body was read)."""
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            on_gone()
            return


@attrs.define(eq=False)
class SendWatch:
    """`send` that remembers whether the response has started (so a failure can still be
    answered in the route's format, or must end the body instead)."""

    send: Send
    started: bool = False

    async def __call__(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.started = True
        await self.send(message)


@attrs.define(eq=False)
class Metering:
    """Builds and sends exactly one usage event per upstream call, whatever happens."""

    record: Callable[[UsageEvent], Awaitable[None]]
    ctx: RequestContext
    user_id: int
    api_key_id: int | None
    model_id: str
    model_name: str | None
    region: str
    route: str
    wall: datetime
    started: float
    streaming: bool
    client_session_id: str | None = None
    first_byte: float | None = None
    _sent: bool = False

    def mark_first_byte(self) -> None:
        """The first byte of the answer arrived from upstream."""
        if self.first_byte is None:
            self.first_byte = trio.current_time()

    async def finish(
        self,
        usage: Usage,
        *,
        status: int,
        success: bool,
        partial: bool = False,
        error_type: str | None = None,
        error_message: str | None = None,
    ) -> None:
        """Send the event (once; later calls are ignored), shielded from cancellation."""
        if self._sent:
            return
        self._sent = True
        now = trio.current_time()
        event = UsageEvent(
            request_id=usage_id(self.ctx),
            user_id=self.user_id,
            api_key_id=self.api_key_id,
            model_id=self.model_id,
            model_name=self.model_name,
            region=self.region,
            route=self.route,
            requested_at=self.wall,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cache_read_tokens,
            cache_write_5m_tokens=usage.cache_write_5m_tokens,
            cache_write_1h_tokens=usage.cache_write_1h_tokens,
            response_time_ms=round((now - self.started) * 1000),
            first_byte_ms=None
            if self.first_byte is None
            else round((self.first_byte - self.started) * 1000),
            success=success and usage.error_type is None,
            status_code=status,
            error_type=error_type or usage.error_type,
            error_message=error_message or usage.error_message,
            stop_reason=usage.stop_reason,
            streaming=self.streaming,
            partial=partial,
            client_session_id=self.client_session_id,
        )
        with trio.CancelScope(shield=True):
            await self.record(event)

    @property
    def sent(self) -> bool:
        """True once the event went out."""
        return self._sent


def usage_id(ctx: RequestContext) -> str:
    """A usage row id unique per request, even when a client reuses its `x-request-id`."""
    if ctx.usage_id is None:
        ctx.usage_id = (
            ctx.request_id if ctx.generated_id else f"{ctx.request_id}~{secrets.token_hex(6)}"
        )
    return ctx.usage_id
