"""`/api/keys` and API key authentication: policy, expiry, caching and the hot path."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from storage.cache import MemoryCache
from storage.database import Database
from storage.repos import api_keys as keys_repo
from storage.schema import api_keys
from tests.web.conftest import IdentityApp, identity_settings, open_identity_app
from web.auth.principal import AuthError
from web.config import ApiKeysConfig


async def test_create_list_and_use(sqlite_identity_app: IdentityApp) -> None:
    app = sqlite_identity_app
    alice = await app.user()
    r = await app.client.post("/api/keys", json={"name": "  laptop  "}, headers=app.bearer(alice))
    assert r.status_code == 201
    assert r.headers["Cache-Control"] == "no-store"
    made = await r.get_json()
    assert set(made) == {"id", "key", "name", "hint", "created_at", "expires_at"}
    assert made["name"] == "laptop"
    assert made["hint"] == f"{made['key'][:9]}…{made['key'][-4:]}"
    created = datetime.fromisoformat(made["created_at"])
    assert datetime.fromisoformat(made["expires_at"]) - created == timedelta(days=90)
    stored = await app.services.db.read(
        lambda c: c.execute(sa.select(api_keys.c.key_hash, api_keys.c.hint)).one()
    )
    assert made["key"] not in stored.key_hash and len(stored.key_hash) == 64

    for headers in ({"X-API-Key": made["key"]}, {"Authorization": f"Bearer {made['key']}"}):
        me = await app.client.get("/auth/me", headers=headers)
        assert (await me.get_json())["auth_method"] == "api_key"
    listed = await (await app.client.get("/api/keys", headers=app.bearer(alice))).get_json()
    assert listed["keys"][0]["status"] == "active"
    assert made["key"] not in str(listed)

    forever = await app.client.post(
        "/api/keys", json={"name": "ci", "expires_in_days": None}, headers=app.bearer(alice)
    )
    assert (await forever.get_json())["expires_at"] is None
    week = await app.client.post(
        "/api/keys", json={"name": "w", "expires_in_days": 7}, headers=app.bearer(alice)
    )
    body = await week.get_json()
    span = datetime.fromisoformat(body["expires_at"]) - datetime.fromisoformat(body["created_at"])
    assert span == timedelta(days=7)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": ""},
        {"name": "   "},
        {"name": 5},
        {"name": "x" * 101},
        {"name": "bad\nname"},
        {"name": "k", "expires_in_days": 0},
        {"name": "k", "expires_in_days": 99999},
        {"name": "k", "expires_in_days": "30"},
        {"name": "k", "expires_in_days": True},
        {"name": "k", "expires_in_days": 1.5},
        {"name": "k", "extra": 1},
    ],
)
async def test_create_validation(sqlite_identity_app: IdentityApp, body: dict[str, object]) -> None:
    app = sqlite_identity_app
    alice = await app.user()
    r = await app.client.post("/api/keys", json=body, headers=app.bearer(alice))
    assert r.status_code == 400
    error = await r.get_json()
    assert error["error"]["code"] == "bad_request" and error["error"]["message"]


async def test_malformed_bodies(sqlite_identity_app: IdentityApp) -> None:
    app = sqlite_identity_app
    headers = app.bearer(await app.user())
    for raw in (b"\xff\xfe\xfd", b"{", b"", b"[]", b"null", '{"name": "caf\u00e9"'.encode()):
        r = await app.client.post("/api/keys", data=raw, headers=headers)
        assert r.status_code == 400, raw
        assert "request_id" in await r.get_json()


async def test_max_keys_counts_only_live_keys(sqlite_db: Database, tmp_path: Path) -> None:
    settings = identity_settings(api_keys=ApiKeysConfig(max_keys_per_user=2, max_expiry_days=30))
    async with open_identity_app(
        sqlite_db, MemoryCache(max_entries=100), tmp_path, settings
    ) as app:
        alice = await app.user()
        headers = app.bearer(alice)
        first = await (
            await app.client.post("/api/keys", json={"name": "a"}, headers=headers)
        ).get_json()
        assert datetime.fromisoformat(first["expires_at"]) - datetime.fromisoformat(
            first["created_at"]
        ) == timedelta(days=30)  # the default is capped by max_expiry_days
        await app.client.post("/api/keys", json={"name": "b"}, headers=headers)
        full = await app.client.post("/api/keys", json={"name": "c"}, headers=headers)
        assert full.status_code == 409
        assert "at most 2" in (await full.get_json())["error"]["message"]
        await app.client.delete(f"/api/keys/{first['id']}", headers=headers)
        assert (
            await app.client.post("/api/keys", json={"name": "c"}, headers=headers)
        ).status_code == 201
        never = await app.client.post(
            "/api/keys", json={"name": "d", "expires_in_days": None}, headers=headers
        )
        assert never.status_code == 400  # policy demands an expiry
        # an expired key no longer counts
        await app.services.db.write(
            lambda c: c.execute(
                sa.update(api_keys).values(expires_at=datetime.now(UTC) - timedelta(seconds=1))
            )
        )
        assert (
            await app.client.post("/api/keys", json={"name": "e"}, headers=headers)
        ).status_code == 201


async def test_api_keys_disabled(sqlite_db: Database, tmp_path: Path) -> None:
    settings = identity_settings(api_keys=ApiKeysConfig(enabled=False))
    async with open_identity_app(
        sqlite_db, MemoryCache(max_entries=100), tmp_path, settings
    ) as app:
        alice = await app.user()
        r = await app.client.post("/api/keys", json={"name": "a"}, headers=app.bearer(alice))
        assert r.status_code == 403
        key = "SSOK_" + "a" * 43
        refused = await app.client.get("/auth/me", headers={"X-API-Key": key})
        assert refused.status_code == 401
        assert "disabled" in (await refused.get_json())["error"]["message"]


async def test_expired_keys_are_refused_even_when_cached(
    sqlite_identity_app: IdentityApp,
) -> None:
    app = sqlite_identity_app
    auth = app.services.auth
    alice = await app.user()
    _, key = await app.key(alice)  # expires in 90 days
    headers = [(b"x-api-key", key.encode())]
    assert (await auth.authenticate(headers)).user_id == alice  # now cached
    real_now = auth.now
    auth.now = lambda: real_now() + timedelta(days=90, seconds=1)
    try:
        with pytest.raises(AuthError, match="expired") as refused:
            await auth.authenticate(headers)
        assert refused.value.status == 401
    finally:
        auth.now = real_now

    now = datetime.now(UTC)
    from proxy.tokens import api_key_hint, generate_api_key

    stale = generate_api_key()
    await app.services.db.write(
        lambda c: keys_repo.create(
            c,
            user_id=alice,
            name="old",
            key_hash=auth.hash_key(stale),
            hint=api_key_hint(stale),
            expires_at=now - timedelta(seconds=1),
            now=now - timedelta(days=2),
            max_live=100,
        )
    )
    r = await app.client.get("/auth/me", headers={"X-API-Key": stale})
    assert r.status_code == 401 and "expired" in (await r.get_json())["error"]["message"]


async def test_credentials_precedence_and_junk(sqlite_identity_app: IdentityApp) -> None:
    app = sqlite_identity_app
    auth = app.services.auth
    alice, bob = await app.user(), await app.user()
    _, key = await app.key(alice)
    bob_jwt = app.bearer(bob)["Authorization"].encode()
    sigv4 = b"AWS4-HMAC-SHA256 Credential=AKID/20260101/us-east-1/bedrock/aws4_request"
    # x-api-key wins over any Authorization header (boto3 sends its own SigV4 one)
    picked = await auth.authenticate([(b"authorization", bob_jwt), (b"x-api-key", key.encode())])
    assert picked.user_id == alice and picked.method == "api_key"
    picked = await auth.authenticate([(b"authorization", sigv4), (b"x-api-key", key.encode())])
    assert picked.user_id == alice
    with pytest.raises(AuthError) as refused:
        await auth.authenticate([(b"authorization", sigv4)])
    assert refused.value.status == 401
    for junk in (b"", b"SSOK_", b"SSOK_" + b"!" * 43, b"sk-ant-api03-xyz", b"\xff" * 50):
        with pytest.raises(AuthError):
            await auth.authenticate([(b"x-api-key", junk)])
    unknown = "SSOK_" + "b" * 43
    with pytest.raises(AuthError, match="invalid API key"):
        await auth.authenticate([(b"x-api-key", unknown.encode())])


async def test_cached_key_needs_no_round_trip(sqlite_identity_app: IdentityApp) -> None:
    app = sqlite_identity_app
    auth = app.services.auth
    alice = await app.user()
    _, key = await app.key(alice)
    headers = [
        (b"host", b"proxy"),
        (b"content-type", b"application/json"),
        (b"authorization", b"AWS4-HMAC-SHA256 Credential=x"),
        (b"x-api-key", key.encode()),
    ]
    await auth.authenticate(headers)
    stats_before = app.services.cache.statistics()
    db_before = app.services.db.statistics().transactions
    rounds = 2000
    started = time.process_time()
    for _ in range(rounds):
        await auth.authenticate(headers)
    per_call = (time.process_time() - started) / rounds
    assert app.services.db.statistics().transactions == db_before  # no database
    after = app.services.cache.statistics()
    assert (after.hits, after.misses) == (stats_before.hits, stats_before.misses)  # no cache
    print(f"cached API key: {per_call * 1e6:.1f} µs per authenticate()")
    assert per_call < 200e-6  # target < 50 µs; generous for slow CI machines

    token = app.bearer(alice)["Authorization"].encode()
    await auth.authenticate([(b"authorization", token)])
    db_before = app.services.db.statistics().transactions
    for _ in range(100):
        await auth.authenticate([(b"authorization", token)])
    assert app.services.db.statistics().transactions == db_before
