"""Restart a crashed actor with backoff; end the process when it keeps crashing."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

from actors.errors import ActorFailed

log = logging.getLogger("bedrock.supervisor")

Runner = Callable[..., Awaitable[Any]]


@attrs.frozen
class RestartPolicy:
    """At most `max_restarts` restarts within `window` seconds, backing off exponentially."""

    max_restarts: int = 5
    window: float = 60.0
    initial_backoff: float = 0.1
    max_backoff: float = 10.0


@attrs.define
class SupervisorStatistics:
    """How often a supervised actor was restarted and why."""

    name: str
    restarts: int = 0
    last_error: str | None = None


async def supervise(
    name: str,
    run: Runner,
    *,
    policy: RestartPolicy | None = None,
    stats: SupervisorStatistics | None = None,
    task_status: trio.TaskStatus[Any] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run `run(task_status=...)`, passing its started value up the first time.

    A crash before the first start is fatal at once (misconfiguration); later crashes restart
    the actor after a backoff. More than `policy.max_restarts` crashes within `policy.window`
    raise `ActorFailed`, which ends the process with a non-zero exit — never a silently dead task.
    """
    policy = policy or RestartPolicy()
    stats = stats or SupervisorStatistics(name)
    crashes: deque[float] = deque()
    delay = policy.initial_backoff
    status = _StartRecorder(task_status)
    while True:
        try:
            # the first run starts in our task so its started() value reaches our parent;
            # restarts have nobody waiting for a start
            await run(task_status=status if not status.seen else trio.TASK_STATUS_IGNORED)
            return
        except Exception as exc:
            if not status.seen:
                raise
            now = trio.current_time()
            crashes.append(now)
            while crashes and crashes[0] < now - policy.window:
                crashes.popleft()
            cause = _unwrap(exc)
            stats.restarts += 1
            stats.last_error = f"{type(cause).__name__}: {cause}"[:300]
            if len(crashes) > policy.max_restarts:
                log.critical("actor %s keeps crashing; giving up", name, exc_info=exc)
                raise ActorFailed(f"actor {name} crashed {len(crashes)} times") from exc
            log.error("actor %s crashed; restarting in %.1fs", name, delay, exc_info=exc)
            await trio.sleep(delay)
            delay = min(delay * 2, policy.max_backoff)


class _StartRecorder:
    """Passes `started()` through once and remembers that it happened."""

    def __init__(self, inner: trio.TaskStatus[Any]) -> None:
        self.inner = inner
        self.seen = False

    def started(self, value: Any = None) -> None:
        self.seen = True
        self.inner.started(value)


def _unwrap(exc: BaseException) -> BaseException:
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc
