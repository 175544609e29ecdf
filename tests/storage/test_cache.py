"""Cache backends: TTL on a virtual clock, the size bound, typed versions, and real Redis."""

from __future__ import annotations

import attrs
import trio
import trio.testing

from actors.cache_evictor import open_cache_evictor
from storage.cache import MemoryCache, TypedCache, open_cache
from storage.config import CacheConfig
from tests.servers import RedisServer


@attrs.frozen
class Thing:
    name: str
    size: int


@attrs.frozen
class ThingV2:
    name: str
    colour: str


async def test_memory_ttl_expires_at_exactly_the_ttl(
    autojump_clock: trio.testing.MockClock,
) -> None:
    cache = MemoryCache(max_entries=100)
    start = trio.current_time()
    await cache.set("k", b"v", ttl=10)
    await trio.sleep_until(start + 9.999)
    assert await cache.get("k") == b"v"
    await trio.sleep_until(start + 10)
    assert await cache.get("k") is None


async def test_evictor_drops_expired_entries_on_its_beat(
    autojump_clock: trio.testing.MockClock,
) -> None:
    cache = MemoryCache(max_entries=100)
    start = trio.current_time()
    await cache.set("short", b"1", ttl=5)
    await cache.set("long", b"2", ttl=25)
    await cache.set("forever", b"3", ttl=None)
    async with open_cache_evictor(cache, interval=10) as evictor:
        await trio.sleep_until(start + 9.5)
        assert len(cache) == 3  # expired but not yet evicted: memory held until the beat
        await trio.sleep_until(start + 10.5)
        assert len(cache) == 2 and evictor.runs == 1 and evictor.evicted == 1
        await trio.sleep_until(start + 30.5)
        assert len(cache) == 1 and evictor.runs == 3 and evictor.evicted == 2
    assert await cache.get("forever") == b"3"


async def test_memory_bound_evicts_least_recently_used() -> None:
    cache = MemoryCache(max_entries=3)
    for key in "abc":
        await cache.set(key, key.encode(), ttl=None)
    assert await cache.get("a") == b"a"  # a is now the most recent
    await cache.set("d", b"d", ttl=None)
    assert await cache.get("b") is None
    assert {k for k in "acd" if cache.get_nowait(k)} == {"a", "c", "d"}
    assert cache.statistics().evicted == 1


async def test_pop_is_single_use_and_set_if_absent_is_exclusive() -> None:
    cache = MemoryCache(max_entries=10)
    assert await cache.set_if_absent("lock", b"me", ttl=5)
    assert not await cache.set_if_absent("lock", b"you", ttl=5)
    assert await cache.pop("lock") == b"me"
    assert await cache.pop("lock") is None


async def test_typed_cache_round_trips_and_a_new_version_never_reads_old_shapes() -> None:
    backend = MemoryCache(max_entries=10)
    v1 = TypedCache(backend, "thing", 1, Thing)
    await v1.set("x", Thing("a", 3), ttl=60)
    assert await v1.get("x") == Thing("a", 3)
    v2 = TypedCache(backend, "thing", 2, ThingV2)
    assert await v2.get("x") is None
    # a value stored under the right key but in another shape reads as a miss too
    await backend.set(v2.key("x"), b'{"v": 2, "d": {"name": "a", "size": 3}}', ttl=60)
    assert await v2.get("x") is None
    await backend.set(v2.key("y"), b"not json", ttl=60)
    assert await v2.get("y") is None


async def test_redis_backend_against_a_real_server(redis_url: str) -> None:
    config = CacheConfig(backend="redis", redis_url=redis_url, redis_key_prefix="t:")
    async with open_cache(config) as cache:
        typed = TypedCache(cache, "thing", 1, Thing)
        await typed.set("x", Thing("b", 1), ttl=0.2)
        assert await typed.get("x") == Thing("b", 1)
        assert await cache.set_if_absent("lock", b"1", ttl=5)
        assert not await cache.set_if_absent("lock", b"1", ttl=5)
        assert await cache.pop("lock") == b"1"
        assert await cache.pop("lock") is None
        # Redis expires on its own clock: check the expiry it was given instead of waiting
        ttl_ms = await cache.client.pttl("t:" + typed.key("x"))
        assert 0 < ttl_ms <= 200
        stats = cache.statistics()
        assert stats.backend == "redis" and stats.hits >= 1 and not stats.degraded


async def test_redis_keys_live_under_the_prefix(redis_url: str, redis_server: RedisServer) -> None:
    import coredis

    config = CacheConfig(backend="redis", redis_url=redis_url, redis_key_prefix="myprefix:")
    async with open_cache(config) as cache:
        await cache.set("k", b"v", ttl=60)
    async with coredis.Redis.from_url(redis_url) as raw:
        assert await raw.get("myprefix:k") == b"v"


async def test_redis_down_degrades_to_misses_and_recovers(
    redis_url: str, redis_server: RedisServer
) -> None:
    config = CacheConfig(backend="redis", redis_url=redis_url, operation_timeout_seconds=0.5)
    async with open_cache(config) as cache:
        await cache.set("k", b"v", ttl=60)
        redis_server.stop()
        assert await cache.get("k") is None  # a miss, not an exception
        await cache.set("k2", b"v", ttl=60)
        assert cache.statistics().degraded
        assert cache.statistics().errors >= 2
        redis_server.start()
        await cache.set("k3", b"v3", ttl=60)
        assert await cache.get("k3") == b"v3"


async def test_redis_pubsub_reaches_every_listener(redis_url: str) -> None:
    config = CacheConfig(backend="redis", redis_url=redis_url)
    received: list[bytes | None] = []
    got = trio.Event()

    def handler(message: bytes | None) -> None:
        received.append(message)
        if message is not None:
            got.set()

    async with open_cache(config) as listener_side, open_cache(config) as publisher:
        async with trio.open_nursery() as nursery:
            await nursery.start(listener_side.run_listener, "events", handler)
            await publisher.publish("events", b"revoked:42")
            with trio.fail_after(5):
                await got.wait()
            nursery.cancel_scope.cancel()
    # the listener first reports "may have missed messages" (None), then the message
    assert received[0] is None
    assert b"revoked:42" in received
