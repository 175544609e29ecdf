"""The connection tracker: every proxied request in flight, ended cleanly at the drain deadline."""

from __future__ import annotations

import itertools
import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import datetime

import attrs
import trio

from actors.config import ShutdownConfig
from actors.supervisor import supervise

log = logging.getLogger("bedrock.streams")


@attrs.define(eq=False)
class TrackedRequest:
    """One proxied request. Its upstream work runs inside `cancel_scope`; at the drain deadline
    the scope is cancelled and the route ends the response cleanly in its own protocol."""

    id: int
    user_id: int
    route: str
    model: str
    streaming: bool
    started_at: datetime
    started: float
    cancel_scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    bytes_sent: int = 0
    client_gone: bool = False

    @property
    def cut_by_drain(self) -> bool:
        """True when the drain deadline ended this request (not a departed client's budget)."""
        return self.cancel_scope.cancelled_caught and not self.client_gone

    def client_left(self, budget_seconds: float) -> None:
        """The client disconnected: finish within `budget_seconds` (to bill the final usage),
        or sooner if the drain deadline comes first."""
        self.client_gone = True
        self.cancel_scope.deadline = min(
            self.cancel_scope.deadline, trio.current_time() + budget_seconds
        )


@attrs.frozen
class StreamView:
    """A read-only view of one request in flight (admin system page, /health)."""

    id: int
    user_id: int
    route: str
    model: str
    streaming: bool
    started_at: datetime
    age_seconds: float
    bytes_sent: int


@attrs.frozen
class TrackerStatistics:
    """Counters of the tracker."""

    active_streams: int
    active_requests: int
    total_opened: int
    cut_at_deadline: int
    draining: bool
    drain_deadline: float | None


@attrs.frozen
class _BeginDrain:
    streams_deadline: float
    requests_deadline: float


@attrs.define(eq=False)
class ConnectionTracker:
    """Registration is synchronous (one dict insert per request, no channel hop on the hot
    path); the drain arrives as a message to the actor loop, which applies the deadlines."""

    config: ShutdownConfig
    _active: dict[int, TrackedRequest] = attrs.field(factory=dict)
    _ids: Iterator[int] = attrs.field(factory=lambda: itertools.count(1))
    _total: int = 0
    _cut: int = 0
    _drain: _BeginDrain | None = None
    _empty: trio.Event = attrs.field(factory=trio.Event)
    _inbox: trio.MemorySendChannel[_BeginDrain] | None = None

    @contextmanager
    def track(
        self, *, user_id: int, route: str, model: str, streaming: bool, wall: datetime
    ) -> Iterator[TrackedRequest]:
        """Register a request for the duration of the `with` block."""
        request = TrackedRequest(
            id=next(self._ids),
            user_id=user_id,
            route=route,
            model=model,
            streaming=streaming,
            started_at=wall,
            started=trio.current_time(),
        )
        if self._drain is not None:
            self._apply(request, self._drain)
        self._active[request.id] = request
        self._total += 1
        try:
            yield request
        finally:
            del self._active[request.id]
            if request.cut_by_drain:
                self._cut += 1
            if self._drain is not None and not self._active:
                self._empty.set()

    def begin_drain(self, streams_deadline: float, requests_deadline: float) -> None:
        """Ask the actor to end streams at `streams_deadline`, other requests at the other."""
        if self._inbox is None:
            raise RuntimeError("the connection tracker is not running")
        self._inbox.send_nowait(_BeginDrain(streams_deadline, requests_deadline))

    async def wait_drained(self) -> None:
        """Return once a drain has begun and nothing is in flight."""
        await self._empty.wait()

    def snapshot(self) -> list[StreamView]:
        """Every request in flight, oldest first."""
        now = trio.current_time()
        return [
            StreamView(
                id=r.id,
                user_id=r.user_id,
                route=r.route,
                model=r.model,
                streaming=r.streaming,
                started_at=r.started_at,
                age_seconds=now - r.started,
                bytes_sent=r.bytes_sent,
            )
            for r in self._active.values()
        ]

    def statistics(self) -> TrackerStatistics:
        """Counters for /health and metrics."""
        streams = sum(1 for r in self._active.values() if r.streaming)
        return TrackerStatistics(
            active_streams=streams,
            active_requests=len(self._active) - streams,
            total_opened=self._total,
            cut_at_deadline=self._cut,
            draining=self._drain is not None,
            drain_deadline=None if self._drain is None else self._drain.streams_deadline,
        )

    def __repr__(self) -> str:
        s = self.statistics()
        return (
            f"<ConnectionTracker streams={s.active_streams} requests={s.active_requests}"
            f" draining={s.draining}>"
        )

    @staticmethod
    def _apply(request: TrackedRequest, drain: _BeginDrain) -> None:
        deadline = drain.streams_deadline if request.streaming else drain.requests_deadline
        request.cancel_scope.deadline = min(request.cancel_scope.deadline, deadline)

    async def run(self, *, task_status: trio.TaskStatus[ConnectionTracker]) -> None:
        """The actor loop: wait for the drain message, then apply its deadlines."""
        send, receive = trio.open_memory_channel[_BeginDrain](1)
        self._inbox = send
        task_status.started(self)
        async with receive:
            async for drain in receive:
                if self._drain is not None:
                    continue
                self._drain = drain
                for request in self._active.values():
                    self._apply(request, drain)
                log.info(
                    "draining %d request(s) in flight; streams end by the deadline",
                    len(self._active),
                )
                if not self._active:
                    self._empty.set()


@asynccontextmanager
async def open_connection_tracker(config: ShutdownConfig) -> AsyncIterator[ConnectionTracker]:
    """Run the tracker for the duration of the block."""
    tracker = ConnectionTracker(config)
    async with trio.open_nursery() as nursery:
        await nursery.start(supervise, "connection-tracker", tracker.run)
        yield tracker
        nursery.cancel_scope.cancel()
