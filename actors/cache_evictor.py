"""The cache evictor: returns the memory of expired in-process cache entries on a fixed beat."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

import attrs
import trio

from actors.supervisor import supervise

log = logging.getLogger("bedrock.cache")


class Evictable(Protocol):
    """A cache that can drop its expired entries."""

    def evict_expired(self) -> int: ...


@attrs.define(eq=False)
class CacheEvictor:
    """Every `interval` seconds (no drift: it sleeps until start + n*interval) evict once."""

    cache: Evictable
    interval: float
    runs: int = 0
    evicted: int = 0

    async def run(self, *, task_status: trio.TaskStatus[CacheEvictor]) -> None:
        """Evict until cancelled."""
        task_status.started(self)
        start = trio.current_time()
        beat = 0
        while True:
            beat += 1
            await trio.sleep_until(start + beat * self.interval)
            self.evicted += self.cache.evict_expired()
            self.runs += 1

    def __repr__(self) -> str:
        return f"<CacheEvictor every={self.interval}s runs={self.runs} evicted={self.evicted}>"


@asynccontextmanager
async def open_cache_evictor(cache: Evictable, interval: float) -> AsyncIterator[CacheEvictor]:
    """Run the evictor for the duration of the block."""
    evictor = CacheEvictor(cache, interval)
    async with trio.open_nursery() as nursery:
        await nursery.start(supervise, "cache-evictor", evictor.run)
        yield evictor
        nursery.cancel_scope.cancel()
