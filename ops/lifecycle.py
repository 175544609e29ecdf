"""The process's lifecycle: running, draining, forced; and the signals that move it along."""

from __future__ import annotations

import logging
import signal

import attrs
import trio

log = logging.getLogger("bedrock.lifecycle")


@attrs.define(eq=False)
class Lifecycle:
    """Shared by the composition root, the readiness route and the signal watcher.

    `timeline` records each shutdown step with its trio time, so the order is observable
    (tests assert it; operators see the same steps in the log).
    """

    drain_started: trio.Event = attrs.field(factory=trio.Event)
    forced: trio.Event = attrs.field(factory=trio.Event)
    drain_began_at: float | None = None
    readiness_delay: float = 0.0
    timeline: list[tuple[float, str]] = attrs.field(factory=list)
    _force_scopes: list[trio.CancelScope] = attrs.field(factory=list)

    @property
    def draining(self) -> bool:
        """True from the first signal on: readiness answers 503."""
        return self.drain_started.is_set()

    def begin_drain(self, reason: str) -> None:
        """Start the graceful drain (idempotent)."""
        if self.draining:
            return
        self.drain_began_at = trio.current_time()
        self.drain_started.set()
        self.mark(f"drain started ({reason})")

    def force(self, reason: str) -> None:
        """Cancel everything now: the process exits non-zero."""
        if self.forced.is_set():
            return
        self.forced.set()
        self.mark(f"forced exit ({reason})")
        for scope in self._force_scopes:
            scope.cancel()

    def cancel_on_force(self, scope: trio.CancelScope) -> None:
        """Cancel `scope` when the exit is forced."""
        self._force_scopes.append(scope)
        if self.forced.is_set():
            scope.cancel()

    def mark(self, step: str) -> None:
        """Record a lifecycle step."""
        self.timeline.append((trio.current_time(), step))
        log.info("%s", step)

    async def wait_listener_close(self) -> None:
        """Hypercorn's shutdown trigger: the drain began and the readiness delay passed."""
        await self.drain_started.wait()
        assert self.drain_began_at is not None
        await trio.sleep_until(self.drain_began_at + self.readiness_delay)
        self.mark("listener closed")


async def watch_signals(
    lifecycle: Lifecycle, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
) -> None:
    """First SIGTERM/SIGINT drains; a second one forces the exit."""
    with trio.open_signal_receiver(signal.SIGTERM, signal.SIGINT) as signals:
        task_status.started()
        async for signum in signals:
            name = signal.Signals(signum).name
            if lifecycle.draining:
                lifecycle.force(f"second {name}")
            else:
                lifecycle.begin_drain(name)
