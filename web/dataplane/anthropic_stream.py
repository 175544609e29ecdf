"""The streaming half of `/anthropic/v1/messages`: Bedrock's eventstream relayed as SSE.

Each upstream read becomes one write of the SSE events it completed, as soon as it arrives.
While upstream is silent, `ping` events keep idle-timeout proxies from cutting the stream.
When the client leaves, upstream is still read (within the `streaming.client_gone_*` budget)
so the final usage is billed; at the drain deadline the stream ends with an SSE `error` event.
Per stream: this task and one watcher (disconnects and pings), a frame splitter holding at
most one incomplete frame, and no queue.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import attrs
import httpx
import trio

from actors.connection_tracker import TrackedRequest
from proxy.anthropic import PING, SSE_CONTENT_TYPE, SseTranslator, error_event, stream_error_type
from proxy.anthropic.errors import API_ERROR, OVERLOADED
from proxy.eventstream import EventStreamError, FrameSplitter
from proxy.usage_tap import StreamTap
from web.dataplane.common import Metering, Receive, Send

log = logging.getLogger("bedrock.anthropic")

DRAIN_MESSAGE = "The proxy is shutting down; the stream was ended at its drain deadline."
LOST_MESSAGE = "The connection to Bedrock was lost mid-stream."
TRUNCATED_MESSAGE = "Bedrock ended the stream before message_stop."
WRITE_GRACE_SECONDS = 10.0  # a write already under way may finish this long after a cancel


@attrs.define(eq=False)
class SseStream:
    """One relayed stream: its state and the writes to the client (serialised by a lock)."""

    send: Send
    tracked: TrackedRequest
    metering: Metering
    translator: SseTranslator
    ping_interval: float
    tap: StreamTap = attrs.field(factory=lambda: StreamTap(converse=False))
    started: bool = False
    client_gone: bool = False
    error_sent: bool = False
    saw_stop: bool = False
    transport_error: str | None = None
    last_write: float = 0.0
    _lock: trio.Lock = attrs.field(factory=trio.Lock)

    async def start(self, request_id: bytes) -> None:
        """Send the 200 and the SSE headers."""
        headers = [
            (b"content-type", SSE_CONTENT_TYPE),
            (b"cache-control", b"no-cache"),
            (b"x-accel-buffering", b"no"),
            (b"request-id", request_id),
        ]
        await self.send({"type": "http.response.start", "status": 200, "headers": headers})
        self.started = True
        self.last_write = trio.current_time()

    async def write(self, data: bytes, *, more: bool = True) -> None:
        """One body write; shielded so a cancel (the drain) cannot tear an event in half."""
        try:
            self._lock.acquire_nowait()
        except trio.WouldBlock:
            await self._lock.acquire()
        try:
            with trio.CancelScope(shield=True, deadline=trio.current_time() + WRITE_GRACE_SECONDS):
                await self.send({"type": "http.response.body", "body": data, "more_body": more})
        finally:
            self._lock.release()
        self.last_write = trio.current_time()
        self.tracked.bytes_sent += len(data)

    async def relay(
        self, response: httpx.Response, receive: Receive, gone_seconds: float, gone_bytes: int
    ) -> None:
        """Upstream frames → SSE events, until upstream ends (or the budgets after a leave)."""
        splitter = FrameSplitter()
        gone_scope = trio.CancelScope()
        read_after_gone = 0

        def client_left() -> None:
            self.client_gone = True
            gone_scope.deadline = trio.current_time() + gone_seconds

        async with trio.open_nursery() as watchers:
            watchers.start_soon(self._watch_client, receive, client_left)
            with gone_scope:
                try:
                    async for chunk in response.aiter_raw():
                        self.metering.mark_first_byte()
                        out = self._translate(splitter.feed(chunk))
                        if self.client_gone:
                            read_after_gone += len(chunk)
                            if read_after_gone > gone_bytes:
                                break
                        elif out:
                            await self.write(out)
                except httpx.HTTPError as exc:
                    self.transport_error = type(exc).__name__
                except EventStreamError as exc:
                    self.transport_error = f"EventStreamError: {exc}"
            watchers.cancel_scope.cancel()

    def _translate(self, frames: list[bytes]) -> bytes:
        out: list[bytes] = []
        tap = self.tap
        for frame in frames:
            event = tap.frame(frame)
            if event is not None:
                out.append(self.translator.translate(event))
                if event.type == "message_stop":
                    self.saw_stop = True
            elif tap.usage.error_type is not None and not self.error_sent:
                # an exception frame (or a corrupt one): the client learns it, in its format
                self.error_sent = True
                message = tap.usage.error_message or tap.usage.error_type
                out.append(error_event(stream_error_type(tap.usage.error_type), message))
        return out[0] if len(out) == 1 else b"".join(out)

    async def _watch_client(self, receive: Receive, on_gone: Callable[[], None]) -> None:
        """Wait for the client's disconnect; while waiting, ping whenever the stream has been
        silent for `ping_interval` (one task per stream does both)."""
        interval = self.ping_interval
        while True:
            message = None
            with trio.move_on_at(self.last_write + interval):
                message = await receive()
            if message is None:
                if trio.current_time() - self.last_write >= interval:
                    await self.write(PING)
            elif message["type"] == "http.disconnect":
                on_gone()
                return

    async def finish(self) -> None:
        """Meter what was seen (exactly once), then end the response cleanly in SSE terms.

        The usage event is recorded before the last write, so a client that has seen the end
        of its stream can already find it."""
        usage, metering = self.tap.usage, self.metering
        last = b""
        if self.tracked.cut_by_drain:
            last = error_event(OVERLOADED, DRAIN_MESSAGE)
            await metering.finish(
                usage, status=200, success=False, partial=True, error_type="drain"
            )
        elif self.transport_error is not None:
            log.warning("stream from Bedrock broke: %s", self.transport_error)
            last = error_event(API_ERROR, LOST_MESSAGE)
            await metering.finish(
                usage,
                status=502,
                success=False,
                partial=True,
                error_type="transport",
                error_message=f"{LOST_MESSAGE} ({self.transport_error})",
            )
        elif not self.saw_stop and not self.error_sent and not self.client_gone:
            last = error_event(API_ERROR, TRUNCATED_MESSAGE)
            await metering.finish(
                usage,
                status=200,
                success=False,
                partial=True,
                error_type="incomplete_stream",
                error_message=TRUNCATED_MESSAGE,
            )
        else:
            partial = self.client_gone and not usage.complete
            await metering.finish(usage, status=200, success=True, partial=partial)
        if self.started and not self.client_gone:
            await self.write(last, more=False)
