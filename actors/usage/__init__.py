"""The usage accountant actor and how to run it."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from actors.config import UsageConfig
from actors.supervisor import Runner, supervise
from actors.usage.accountant import (
    AccountantStatistics,
    PriceQuote,
    Pricer,
    UsageAccountant,
    no_prices,
)
from storage.database import Database

__all__ = [
    "AccountantStatistics",
    "PriceQuote",
    "Pricer",
    "UsageAccountant",
    "no_prices",
    "open_usage_accountant",
]

log = logging.getLogger("bedrock.usage")


@asynccontextmanager
async def open_usage_accountant(
    db: Database,
    config: UsageConfig,
    *,
    flush_timeout: float,
    pricer: Pricer = no_prices,
    hard_stop: trio.Event | None = None,
) -> AsyncIterator[UsageAccountant]:
    """Run the accountant for the block; on exit flush within `flush_timeout` seconds.

    What cannot reach the database by then (or before `hard_stop` is set) stays in the
    journal for the next start.
    """
    accountant = UsageAccountant(db, config, pricer)
    async with trio.open_nursery() as nursery:
        # The actor runs in its own shielded scope: an outer cancellation (a forced exit)
        # reaches the producers first, and their last events must still find a reader. It
        # stops only when told to, below, after the bounded flush.
        actor_scope = await nursery.start(_shielded, accountant.run)
        try:
            yield accountant
        finally:
            accountant.close_intake()
            with trio.CancelScope(shield=True) as flush:
                flush.deadline = trio.current_time() + flush_timeout
                async with trio.open_nursery() as waiters:
                    if hard_stop is not None:
                        waiters.start_soon(_cancel_when, hard_stop, flush)
                    await accountant.wait_finished()
                    waiters.cancel_scope.cancel()
            if flush.cancelled_caught:
                log.warning("usage flush did not finish in time; the rest stays in the journal")
            actor_scope.cancel()  # the actor journals whatever it still holds, then exits


async def _shielded(
    run: Runner, *, task_status: trio.TaskStatus[trio.CancelScope] = trio.TASK_STATUS_IGNORED
) -> None:
    with trio.CancelScope(shield=True) as scope:
        await supervise("usage-accountant", run, task_status=_Started(task_status, scope))


class _Started:
    """Reports the shielding scope upward instead of the actor's own started value."""

    def __init__(self, inner: trio.TaskStatus[trio.CancelScope], scope: trio.CancelScope) -> None:
        self.inner = inner
        self.scope = scope

    def started(self, value: object = None) -> None:
        self.inner.started(self.scope)


async def _cancel_when(event: trio.Event, scope: trio.CancelScope) -> None:
    await event.wait()
    scope.cancel()
