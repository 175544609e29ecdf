"""Cache backends (memory, Redis) behind one interface, and typed views over them."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from storage.cache.base import CacheBackend, CacheStatistics, MessageHandler, TypedCache
from storage.cache.memory import MemoryCache
from storage.cache.redis import RedisCache
from storage.config import CacheConfig

__all__ = [
    "CacheBackend",
    "CacheStatistics",
    "MemoryCache",
    "MessageHandler",
    "RedisCache",
    "TypedCache",
    "open_cache",
]

log = logging.getLogger("bedrock.cache")


@asynccontextmanager
async def open_cache(config: CacheConfig) -> AsyncIterator[MemoryCache | RedisCache]:
    """The configured backend; Redis is entered and left in the calling task (coredis rule)."""
    if config.backend == "memory":
        yield MemoryCache(max_entries=config.max_entries)
        return
    import coredis  # only when Redis is configured: it weighs ~20 MiB

    client: coredis.Redis[bytes] = coredis.Redis.from_url(
        config.redis_url,
        stream_timeout=config.operation_timeout_seconds,
        connect_timeout=config.operation_timeout_seconds,
        retry_policy=coredis.retry.NoRetryPolicy(),
    )
    async with client:
        yield RedisCache(
            client=client,
            prefix=config.redis_key_prefix,
            timeout=config.operation_timeout_seconds,
        )
    log.info("cache closed")
