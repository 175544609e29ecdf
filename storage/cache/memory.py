"""In-process cache: TTL and a size bound (least recently used goes first)."""

from __future__ import annotations

from collections import OrderedDict

import attrs
import trio

from storage.cache.base import CacheStatistics, Counters, MessageHandler


@attrs.define(eq=False)
class MemoryCache:
    """A bounded LRU with per-entry expiry; `evict_expired` is driven by the cache evictor.

    Expired entries are also dropped when read, so correctness never waits for the evictor;
    the evictor only returns their memory. Pub/sub stays inside this process.
    """

    max_entries: int
    _entries: OrderedDict[str, tuple[bytes, float]] = attrs.field(factory=OrderedDict)
    _listeners: dict[str, list[MessageHandler]] = attrs.field(factory=dict)
    _counters: Counters = attrs.field(factory=Counters)

    async def get(self, key: str) -> bytes | None:
        """The live value of `key`, or None."""
        return self.get_nowait(key)

    def get_nowait(self, key: str) -> bytes | None:
        """`get` without a checkpoint, for hot paths that hold no lock."""
        entry = self._entries.get(key)
        if entry is None:
            self._counters.misses += 1
            return None
        value, expires = entry
        if expires <= trio.current_time():
            del self._entries[key]
            self._counters.misses += 1
            self._counters.evicted += 1
            return None
        self._entries.move_to_end(key)
        self._counters.hits += 1
        return value

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        """Store `value`, evicting the least recently used entry when full."""
        self.set_nowait(key, value, ttl)

    def set_nowait(self, key: str, value: bytes, ttl: float | None) -> None:
        """`set` without a checkpoint."""
        expires = float("inf") if ttl is None else trio.current_time() + ttl
        self._entries[key] = (value, expires)
        self._entries.move_to_end(key)
        self._counters.sets += 1
        while len(self._entries) > self.max_entries:
            self._entries.popitem(last=False)
            self._counters.evicted += 1

    async def set_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        """Store only when no live value exists; True when stored."""
        if self.get_nowait(key) is not None:
            return False
        self.set_nowait(key, value, ttl)
        return True

    async def pop(self, key: str) -> bytes | None:
        """Read and delete."""
        value = self.get_nowait(key)
        if value is not None:
            del self._entries[key]
            self._counters.deletes += 1
        return value

    async def delete(self, *keys: str) -> None:
        """Forget `keys`."""
        for key in keys:
            if self._entries.pop(key, None) is not None:
                self._counters.deletes += 1

    def evict_expired(self) -> int:
        """Drop every expired entry; returns how many went."""
        now = trio.current_time()
        dead = [key for key, (_, expires) in self._entries.items() if expires <= now]
        for key in dead:
            del self._entries[key]
        self._counters.evicted += len(dead)
        return len(dead)

    def __len__(self) -> int:
        return len(self._entries)

    async def publish(self, channel: str, message: bytes) -> None:
        """Deliver `message` to this process's listeners of `channel`."""
        for handler in list(self._listeners.get(channel, ())):
            handler(message)

    async def run_listener(
        self,
        channel: str,
        handler: MessageHandler,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Receive `channel` until cancelled."""
        handlers = self._listeners.setdefault(channel, [])
        handlers.append(handler)
        try:
            task_status.started()
            await trio.sleep_forever()
        finally:
            handlers.remove(handler)

    async def ping(self) -> None:
        """Always reachable."""

    def statistics(self) -> CacheStatistics:
        """A snapshot of the counters."""
        c = self._counters
        return CacheStatistics(
            backend="memory",
            hits=c.hits,
            misses=c.misses,
            sets=c.sets,
            deletes=c.deletes,
            errors=c.errors,
            entries=len(self._entries),
            evicted=c.evicted,
            degraded=False,
            last_error=None,
        )

    def __repr__(self) -> str:
        return f"<MemoryCache entries={len(self._entries)}/{self.max_entries}>"
