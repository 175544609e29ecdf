"""Users, API keys, refresh tokens and the audit log, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
import trio
from sqlalchemy.engine import Connection

from storage.database import Database
from storage.errors import LimitReached, NotFound
from storage.repos import api_keys as keys_repo
from storage.repos import audit as audit_repo
from storage.repos import refresh_tokens as refresh_repo
from storage.repos import users as users_repo
from storage.schema import audit_logs
from tests.factories import insert_user

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)


async def login(
    db: Database, provider_user_id: str, email: str, **kw: object
) -> users_repo.UserRow:
    fields: dict[str, object] = {
        "provider": "github",
        "provider_user_id": provider_user_id,
        "email": email,
        "email_verified": True,
        "display_name": "Name",
        "now": NOW,
    }
    fields.update(kw)
    return await db.write(lambda c: users_repo.upsert_login(c, **fields))  # type: ignore[arg-type]


async def test_sign_in_upserts_and_keeps_state(db: Database) -> None:
    first = await login(db, str(12345678), "a@example.com")
    assert first.provider_user_id == "12345678" and first.state == "active"
    assert first.last_login_at == NOW
    later = NOW + timedelta(hours=1)
    again = await login(db, "12345678", "new@example.com", display_name="New", now=later)
    assert again.id == first.id and again.email == "new@example.com"
    assert again.created_at == NOW and again.last_login_at == later

    row, previous = await db.write(users_repo.set_state, first.id, "disabled", later)
    assert previous == "active" and row.state == "disabled"
    after = await login(db, "12345678", "new@example.com", now=later + timedelta(hours=1))
    assert after.state == "disabled"  # signing in never re-enables
    assert after.last_login_at == later  # and a refused sign-in is not a login
    other = await login(db, "12345678", "x@example.com", provider="gitlab")
    assert other.id != first.id  # keyed by (provider, id)
    with pytest.raises(NotFound):
        await db.write(users_repo.set_state, 999_999, "active", NOW)


async def test_local_users_and_search(db: Database) -> None:
    made, created = await db.write(
        lambda c: users_repo.create_local(c, email="Ops@Example.com", display_name=None, now=NOW)
    )
    again, created_again = await db.write(
        lambda c: users_repo.create_local(c, email="ops@example.COM", display_name="x", now=NOW)
    )
    assert created and not created_again and again.id == made.id
    assert made.provider == "local" and made.email_verified
    await login(db, "1", "someone_else@example.com", display_name="50% Off")
    found, total = await db.read(lambda c: users_repo.list_users(c, search="50%"))
    assert total == 1 and found[0].display_name == "50% Off"
    found, total = await db.read(lambda c: users_repo.list_users(c, search="_"))
    assert total == 1  # '_' is literal, not a wildcard
    page, total = await db.read(
        lambda c: users_repo.list_users(c, sort="email", descending=True, limit=1, offset=1)
    )
    assert total == 2 and page[0].email == "Ops@Example.com"


async def _key(conn: Connection, user_id: int, n: int, max_live: int = 10) -> keys_repo.ApiKeyRow:
    return keys_repo.create(
        conn,
        user_id=user_id,
        name=f"k{n}",
        key_hash=f"{user_id:08d}{n:056d}",
        hint="SSOK_abcd…wxyz",
        expires_at=None,
        now=NOW,
        max_live=max_live,
    )


async def test_concurrent_creates_cannot_exceed_the_limit(db: Database) -> None:
    user_id = await db.write(insert_user)
    made: list[int] = []
    refused: list[int] = []

    async def create(n: int) -> None:
        try:
            row = await db.write(
                lambda c: keys_repo.create(
                    c,
                    user_id=user_id,
                    name=f"k{n}",
                    key_hash=f"hash-{n}",
                    hint="h",
                    expires_at=None,
                    now=NOW,
                    max_live=3,
                )
            )
            made.append(row.id)
        except LimitReached:
            refused.append(n)

    async with trio.open_nursery() as nursery:
        for n in range(12):
            nursery.start_soon(create, n)
    assert len(made) == 3 and len(refused) == 9
    assert await db.read(keys_repo.count_live, user_id, NOW) == 3


async def test_keys_revoke_and_lookup(db: Database) -> None:
    alice = await db.write(insert_user)
    bob = await db.write(insert_user)
    key = await db.write(
        lambda c: keys_repo.create(
            c, user_id=alice, name="k", key_hash="a" * 64, hint="h", expires_at=None,
            now=NOW, max_live=5,
        )
    )  # fmt: skip
    assert not hasattr(key, "key_hash")
    found = await db.read(keys_repo.lookup_by_hash, "a" * 64)
    assert found is not None and found[0].id == key.id and found[1].id == alice
    assert await db.read(keys_repo.lookup_by_hash, "b" * 64) is None
    with pytest.raises(NotFound):
        await db.write(lambda c: keys_repo.revoke(c, key_id=key.id, owner_id=bob, now=NOW))
    assert (await db.read(keys_repo.get, key.id)).revoked_at is None  # type: ignore[union-attr]
    later = NOW + timedelta(minutes=5)
    revoked, key_hash = await db.write(
        lambda c: keys_repo.revoke(c, key_id=key.id, owner_id=alice, now=later)
    )
    assert revoked.revoked_at == later and key_hash == "a" * 64
    again, _ = await db.write(
        lambda c: keys_repo.revoke(c, key_id=key.id, owner_id=None, now=later + timedelta(1))
    )
    assert again.revoked_at == later  # the first revocation time stays
    assert revoked.status(later) == "revoked"
    assert await db.read(keys_repo.hashes_of_user, alice) == []


async def test_refresh_rotation_and_reuse(db: Database) -> None:
    user_id = await db.write(insert_user)
    ttl = timedelta(days=1)
    await db.write(
        lambda c: refresh_repo.create(
            c, user_id=user_id, token_hash="t1", family_id="fam", now=NOW, ttl=ttl
        )
    )

    async def rotate(old: str, new: str, now: datetime = NOW) -> refresh_repo.RotateOutcome:
        return await db.write(
            lambda c: refresh_repo.rotate(c, token_hash=old, new_hash=new, now=now, ttl=ttl)
        )

    assert (await rotate("t1", "t2")).status == "rotated"
    assert (await rotate("t2", "t3")).status == "rotated"
    reused = await rotate("t1", "t4")
    assert reused.status == "reused" and reused.revoked == 3  # the whole family
    assert reused.user is not None and reused.user.id == user_id
    assert (await rotate("t3", "t5")).status == "revoked"
    family = await db.read(refresh_repo.family_of, "fam")
    assert len(family) == 3 and all(t.revoked_at is not None for t in family)
    assert (await rotate("nope", "t6")).status == "unknown"

    await db.write(
        lambda c: refresh_repo.create(
            c, user_id=user_id, token_hash="e1", family_id="f2", now=NOW, ttl=ttl
        )
    )
    assert (await rotate("e1", "e2", NOW + ttl)).status == "expired"
    await db.write(
        lambda c: refresh_repo.create(
            c, user_id=user_id, token_hash="d1", family_id="f3", now=NOW, ttl=ttl
        )
    )
    await db.write(users_repo.set_state, user_id, "disabled", NOW)
    inactive = await rotate("d1", "d2")
    assert inactive.status == "inactive" and inactive.revoked == 1
    refused = await db.write(
        lambda c: refresh_repo.rotate(
            c, token_hash="d1", new_hash="d3", now=NOW, ttl=ttl, accept_family=lambda f: False
        )
    )
    assert refused.status == "refused"


async def test_audit_metadata_is_a_json_object(db: Database) -> None:
    user_id = await db.write(insert_user)
    entry = await db.write(
        lambda c: audit_repo.record(
            c,
            event_type="login",
            success=True,
            now=NOW,
            user_id=user_id,
            ip_address="203.0.113.9",
            user_agent="ua",
            metadata={"provider": "github", "refresh_token": "secret!", "nested": {"code": "x"}},
        )
    )
    kind = "jsonb_typeof" if db.dialect == "postgresql" else "json_type"
    stored_type = await db.read(
        lambda c: c.execute(
            sa.select(getattr(sa.func, kind)(audit_logs.c.metadata)).where(audit_logs.c.id == entry)
        ).scalar_one()
    )
    assert stored_type == "object"  # not a JSON string holding an object
    [row] = await db.read(lambda c: audit_repo.query(c, user_id=user_id))
    assert row.metadata == {
        "provider": "github",
        "refresh_token": "[redacted]",
        "nested": {"code": "[redacted]"},
    }
    assert row.ip_address == "203.0.113.9"
    assert await db.read(lambda c: audit_repo.query(c, success=False)) == []
    assert await db.read(lambda c: audit_repo.query(c, since=NOW + timedelta(seconds=1))) == []
