"""Building the identity services from `Settings`, and running their invalidation listener."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from ops.config import Settings
from storage.cache import MemoryCache, RedisCache
from storage.database import Database
from web.auth.identity import Identity, create_identity


def identity_from_settings(
    db: Database, cache: MemoryCache | RedisCache, settings: Settings
) -> Identity:
    """The identity services configured by `settings` (no background task)."""
    return create_identity(
        db=db,
        cache=cache,
        jwt=settings.jwt,
        api_keys=settings.api_keys,
        admin=settings.admin,
        oauth=settings.oauth,
        server=settings.server,
        validation_ttl=settings.cache.validation_ttl,
        l1_max_entries=settings.cache.max_entries,
    )


@asynccontextmanager
async def open_identity(
    db: Database, cache: MemoryCache | RedisCache, settings: Settings
) -> AsyncIterator[Identity]:
    """The identity services with this instance's cache-invalidation listener running."""
    identity = identity_from_settings(db, cache, settings)
    async with trio.open_nursery() as nursery:
        await nursery.start(_listen, identity)
        yield identity
        nursery.cancel_scope.cancel()


async def _listen(identity: Identity, *, task_status: trio.TaskStatus[None]) -> None:
    await identity.auth.run_invalidation_listener(task_status=task_status)
