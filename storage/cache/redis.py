"""Redis cache through coredis (Trio-native); failures degrade to misses, never to errors."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import attrs
import trio

from storage.cache.base import CacheStatistics, Counters, MessageHandler

if TYPE_CHECKING:  # coredis (~20 MiB) is imported only when Redis is configured
    import coredis

log = logging.getLogger("bedrock.cache")

DEGRADED_FOR_SECONDS = 5.0


@attrs.define(eq=False)
class RedisCache:
    """Keys live under `prefix`; each call is bounded by `timeout` and failures read as misses.

    The service keeps working from the database while Redis is down; `statistics().degraded`
    says so for /health. The pub/sub listener reports every (re)connection to its handler as
    `None`, since messages sent while it was away are lost.
    """

    client: coredis.Redis[bytes]
    prefix: str
    timeout: float
    _counters: Counters = attrs.field(factory=Counters)
    _last_failure: float | None = None
    _listening: bool = False

    def _k(self, key: str) -> str:
        return self.prefix + key

    async def _call(self, default: Any, command: Any) -> Any:
        try:
            with trio.fail_after(self.timeout):
                result = await command
        except (Exception, trio.TooSlowError) as exc:
            self._fail(exc)
            return default
        return result

    def _fail(self, exc: BaseException) -> None:
        self._counters.errors += 1
        self._counters.last_error = f"{type(exc).__name__}: {exc}"[:200]
        if self._last_failure is None:
            log.warning("redis unavailable, continuing without it: %s", self._counters.last_error)
        self._last_failure = trio.current_time()

    async def get(self, key: str) -> bytes | None:
        """The value, or None on a miss or a failure."""
        value: bytes | None = await self._call(None, self.client.get(self._k(key)))
        if value is None:
            self._counters.misses += 1
        else:
            self._counters.hits += 1
        return value

    async def set(self, key: str, value: bytes, ttl: float | None) -> None:
        """Store with an expiry in milliseconds (None: no expiry)."""
        px = None if ttl is None else max(1, int(ttl * 1000))
        await self._call(None, self.client.set(self._k(key), value, px=px))
        self._counters.sets += 1

    async def set_if_absent(self, key: str, value: bytes, ttl: float) -> bool:
        """SET NX PX; False when present or on failure."""
        import coredis

        stored = await self._call(
            False,
            self.client.set(
                self._k(key), value, px=max(1, int(ttl * 1000)), condition=coredis.PureToken.NX
            ),
        )
        return bool(stored)

    async def pop(self, key: str) -> bytes | None:
        """GETDEL: read and delete atomically."""
        value: bytes | None = await self._call(None, self.client.getdel(self._k(key)))
        if value is not None:
            self._counters.deletes += 1
        return value

    async def delete(self, *keys: str) -> None:
        """Forget `keys`."""
        if keys:
            await self._call(0, self.client.delete([self._k(k) for k in keys]))
            self._counters.deletes += len(keys)

    async def publish(self, channel: str, message: bytes) -> None:
        """Publish to every instance sharing this Redis."""
        await self._call(0, self.client.publish(self._k(channel), message))

    async def run_listener(
        self,
        channel: str,
        handler: MessageHandler,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Subscribe to `channel` until cancelled, reconnecting with backoff."""
        from coredis.retry import NoRetryPolicy

        started = False
        delay = 0.1
        while True:
            try:
                async with self.client.pubsub(
                    channels=[self._k(channel)],
                    ignore_subscribe_messages=True,
                    retry_policy=NoRetryPolicy(),
                ) as pubsub:
                    self._listening = True
                    handler(None)
                    delay = 0.1
                    if not started:
                        started = True
                        task_status.started()
                    async for message in pubsub:
                        if message["type"] == "message":
                            data = message["data"]
                        handler(data if isinstance(data, bytes) else str(data).encode())
            except Exception as exc:
                self._fail(exc)
            self._listening = False
            handler(None)
            if not started:  # never hold up start-up on Redis
                started = True
                task_status.started()
            await trio.sleep(delay)
            delay = min(delay * 2, 5.0)

    @property
    def listening(self) -> bool:
        """True while the pub/sub subscription is live."""
        return self._listening

    async def ping(self) -> None:
        """Raise unless Redis answers PING within the timeout."""
        with trio.fail_after(self.timeout):
            await self.client.ping()

    def statistics(self) -> CacheStatistics:
        """A snapshot; degraded when a call failed in the last few seconds."""
        c = self._counters
        recent = (
            self._last_failure is not None
            and trio.current_time() - self._last_failure < DEGRADED_FOR_SECONDS
        )
        return CacheStatistics(
            backend="redis",
            hits=c.hits,
            misses=c.misses,
            sets=c.sets,
            deletes=c.deletes,
            errors=c.errors,
            entries=None,
            evicted=0,
            degraded=bool(recent),
            last_error=c.last_error,
        )

    def __repr__(self) -> str:
        return f"<RedisCache prefix={self.prefix!r} errors={self._counters.errors}>"
