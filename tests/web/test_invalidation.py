"""Two app instances sharing a real redis-server: revocations and state changes propagate.

Each instance has its own in-process validation cache (L1) in front of the shared Redis
cache, and its own invalidation listener. Nothing sleeps a fixed time: the assertions poll
and measure how long the other instance kept accepting.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
import trio

from ops import cli
from storage.cache import RedisCache, open_cache
from storage.config import CacheConfig
from storage.database import Database
from storage.repos import api_keys as keys_repo
from tests.servers import RedisServer
from tests.web.conftest import JWT_SECRET, IdentityApp, identity_settings, open_identity_app
from web.auth.principal import AuthError
from web.auth.service import CachedKey, CachedUser

PROPAGATION_LIMIT = 1.0


@asynccontextmanager
async def open_instance(db: Database, redis_url: str, tmp_path: Path) -> AsyncIterator[IdentityApp]:
    settings = identity_settings(cache=CacheConfig(backend="redis", redis_url=redis_url))
    async with open_cache(settings.cache) as cache:
        assert isinstance(cache, RedisCache)
        async with open_identity_app(db, cache, tmp_path, settings) as app:
            assert cache.listening
            yield app


@pytest.fixture
async def pair(
    sqlite_db: Database, redis_url: str, tmp_path: Path
) -> AsyncIterator[tuple[IdentityApp, IdentityApp]]:
    async with (
        open_instance(sqlite_db, redis_url, tmp_path) as a,
        open_instance(sqlite_db, redis_url, tmp_path) as b,
    ):
        yield a, b


async def refused_within(
    app: IdentityApp, headers: list[tuple[bytes, bytes]], limit: float
) -> float:
    """Seconds until `app` refuses `headers` (fails past `limit`)."""
    started = trio.current_time()
    with trio.fail_after(limit):
        while True:
            try:
                await app.services.auth.authenticate(headers)
            except AuthError:
                return trio.current_time() - started
            await trio.sleep(0.005)


async def test_revoked_key_is_refused_on_the_other_instance(
    pair: tuple[IdentityApp, IdentityApp],
) -> None:
    a, b = pair
    alice = await a.user()
    key_id, key = await a.key(alice)
    headers = [(b"x-api-key", key.encode())]
    for app in (a, b):  # both validate it and keep it cached
        assert (await app.services.auth.authenticate(headers)).api_key_id == key_id
        assert app.services.auth.statistics()["l1_entries"] >= 1
    r = await a.client.delete(f"/api/keys/{key_id}", headers=a.bearer(alice))
    assert r.status_code == 200
    with pytest.raises(AuthError):  # this instance: at once
        await a.services.auth.authenticate(headers)
    took = await refused_within(b, headers, PROPAGATION_LIMIT)
    print(f"revocation reached the other instance after {took * 1000:.1f} ms")


async def test_disabled_user_is_refused_on_the_other_instance(
    pair: tuple[IdentityApp, IdentityApp],
) -> None:
    a, b = pair
    admin, alice = await a.user(admin=True), await a.user()
    _, key = await a.key(alice)
    by_key = [(b"x-api-key", key.encode())]
    by_jwt = [(b"authorization", a.bearer(alice)["Authorization"].encode())]
    for headers in (by_key, by_jwt):
        assert (await b.services.auth.authenticate(headers)).user_id == alice
    r = await a.client.put(
        f"/api/admin/users/{alice}/state", json={"state": "disabled"}, headers=a.bearer(admin)
    )
    assert r.status_code == 200
    for headers in (by_key, by_jwt):
        with pytest.raises(AuthError):
            await a.services.auth.authenticate(headers)
    took = max([await refused_within(b, h, PROPAGATION_LIMIT) for h in (by_key, by_jwt)])
    print(f"disable reached the other instance after {took * 1000:.1f} ms")
    # and back: re-enabling is seen too (no stale "disabled" either)
    await a.client.put(
        f"/api/admin/users/{alice}/state", json={"state": "active"}, headers=a.bearer(admin)
    )

    async def accepted() -> bool:
        try:
            await b.services.auth.authenticate(by_jwt)
        except AuthError:
            return False
        return True

    with trio.fail_after(PROPAGATION_LIMIT):
        while not await accepted():
            await trio.sleep(0.005)


async def test_a_stale_entry_written_by_a_racing_load_does_not_survive(
    pair: tuple[IdentityApp, IdentityApp],
) -> None:
    """A load that read the database before the revocation may write the shared cache after
    it; the revoking instance deletes and announces again shortly after, so it goes."""
    a, b = pair
    alice = await a.user()
    key_id, key = await a.key(alice)
    headers = [(b"x-api-key", key.encode())]
    await b.services.auth.authenticate(headers)
    key_hash = a.services.auth.hash_key(key)
    await a.identity.keys.revoke(key_id, alice, client=_client())
    stale = CachedKey(key_id, CachedUser(alice, "x@example.com", True, None, "active"), None, False)
    # the racing writer, just after the revocation's first delete
    await b.services.auth._keys.set(key_hash, stale, 300)
    took = await refused_within(b, headers, PROPAGATION_LIMIT)
    print(f"stale shared entry gone after {took * 1000:.1f} ms")


async def test_redis_outage_bypasses_the_local_cache(
    pair: tuple[IdentityApp, IdentityApp], redis_server: RedisServer
) -> None:
    a, b = pair
    alice = await a.user()
    key_id, key = await a.key(alice)
    headers = [(b"x-api-key", key.encode())]
    await b.services.auth.authenticate(headers)
    redis_server.stop()
    try:
        with trio.fail_after(5):
            while b.services.auth.statistics()["l1_usable"]:
                await trio.sleep(0.01)
        # the message is lost with Redis down, but b no longer trusts its local cache
        await a.identity.keys.revoke(key_id, alice, client=_client())
        with pytest.raises(AuthError):
            await b.services.auth.authenticate(headers)
    finally:
        redis_server.start()
    with trio.fail_after(10):  # the listener reconnects (with backoff) and L1 is used again
        while not b.services.auth.statistics()["l1_usable"]:
            await trio.sleep(0.02)


async def test_an_invalidation_that_missed_redis_is_retried(
    pair: tuple[IdentityApp, IdentityApp], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Redis refusing the delete and the message (a blip on the revoking instance's side):
    the revoking instance keeps retrying, so the other one stops accepting soon after."""
    a, b = pair
    alice = await a.user()
    key_id, key = await a.key(alice)
    headers = [(b"x-api-key", key.encode())]
    await b.services.auth.authenticate(headers)
    cache = a.services.cache
    assert isinstance(cache, RedisCache)

    real_delete, real_publish = RedisCache.delete, RedisCache.publish

    async def delete(self: RedisCache, *keys: str) -> None:
        if self is not cache:
            return await real_delete(self, *keys)
        self._fail(ConnectionError("simulated outage"))

    async def publish(self: RedisCache, channel: str, message: bytes) -> None:
        if self is not cache:
            return await real_publish(self, channel, message)
        self._fail(ConnectionError("simulated outage"))

    monkeypatch.setattr(RedisCache, "delete", delete)
    monkeypatch.setattr(RedisCache, "publish", publish)
    assert await a.services.auth.invalidate(key_hashes=[a.services.auth.hash_key(key)]) is False
    await a.services.db.write(  # the revocation itself did commit
        lambda c: keys_repo.revoke(c, key_id=key_id, owner_id=None, now=a.services.now())
    )
    await b.services.auth.authenticate(headers)  # b never heard: still cached there
    failures = cache.statistics().errors
    with trio.fail_after(2):  # the scheduled repeat fails too ...
        while cache.statistics().errors == failures:
            await trio.sleep(0.01)
    monkeypatch.undo()  # ... then Redis answers again, and a later retry gets through
    took = await refused_within(b, headers, 2.5)
    print(f"retried invalidation reached the other instance after {took * 1000:.1f} ms")


async def test_cli_revocation_reaches_running_instances(
    sqlite_db: Database,
    sqlite_url: str,
    redis_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(cli, "configure_logging", lambda _: None)
    for name, value in {
        "BEDROCK_JWT__SECRET": JWT_SECRET,
        "BEDROCK_DATABASE__URL": sqlite_url,
        "BEDROCK_CACHE__BACKEND": "redis",
        "BEDROCK_CACHE__REDIS_URL": redis_url,
    }.items():
        monkeypatch.setenv(name, value)
    async with open_instance(sqlite_db, redis_url, tmp_path) as running:
        alice = await running.user()
        key_id, key = await running.key(alice)
        headers = [(b"x-api-key", key.encode())]
        await running.services.auth.authenticate(headers)
        code = await trio.to_thread.run_sync(cli.main, ["keys", "revoke", "--id", str(key_id)])
        assert code == 0
        await refused_within(running, headers, PROPAGATION_LIMIT)


def _client() -> Any:
    from web.auth.audit import ClientInfo

    return ClientInfo()
