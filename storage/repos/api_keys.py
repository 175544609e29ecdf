"""API keys: only their HMAC and a hint are stored; limits are enforced inside the write."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.errors import LimitReached, NotFound
from storage.repos.users import UserRow
from storage.repos.users import get as get_user
from storage.schema import api_keys, users


@attrs.frozen
class ApiKeyRow:
    """One key as listed (never its hash)."""

    id: int
    user_id: int
    name: str
    hint: str
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    def status(self, now: datetime) -> str:
        """`active`, `expired` or `revoked`."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


_LISTED = (
    api_keys.c.id,
    api_keys.c.user_id,
    api_keys.c.name,
    api_keys.c.hint,
    api_keys.c.created_at,
    api_keys.c.last_used_at,
    api_keys.c.expires_at,
    api_keys.c.revoked_at,
)


def _row(row: Any) -> ApiKeyRow:
    return ApiKeyRow(
        id=int(row.id),
        user_id=int(row.user_id),
        name=row.name,
        hint=row.hint,
        created_at=row.created_at,
        last_used_at=row.last_used_at,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
    )


def _live(now: datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        api_keys.c.revoked_at.is_(None),
        sa.or_(api_keys.c.expires_at.is_(None), api_keys.c.expires_at > now),
    )


def count_live(conn: Connection, user_id: int, now: datetime) -> int:
    """Keys of the user that are neither revoked nor expired."""
    query = sa.select(sa.func.count()).select_from(api_keys)
    return int(conn.execute(query.where(api_keys.c.user_id == user_id, _live(now))).scalar_one())


def create(
    conn: Connection,
    *,
    user_id: int,
    name: str,
    key_hash: str,
    hint: str,
    expires_at: datetime | None,
    now: datetime,
    max_live: int,
) -> ApiKeyRow:
    """Insert a key unless the user already has `max_live` live keys (`LimitReached`).

    The user's row is locked first (FOR UPDATE on PostgreSQL; SQLite's write transaction is
    already exclusive), so concurrent creates for one user are serialised and cannot exceed.
    """
    lock = sa.select(users.c.id).where(users.c.id == user_id)
    if conn.dialect.name == "postgresql":
        lock = lock.with_for_update()
    if conn.execute(lock).first() is None:
        raise NotFound(f"user {user_id} not found")
    if count_live(conn, user_id, now) >= max_live:
        raise LimitReached(f"at most {max_live} live API keys per user")
    result = conn.execute(
        sa.insert(api_keys)
        .values(
            user_id=user_id,
            name=name,
            key_hash=key_hash,
            hint=hint,
            created_at=now,
            expires_at=expires_at,
        )
        .returning(*_LISTED)
    )
    return _row(result.one())


def list_for_user(conn: Connection, user_id: int) -> list[ApiKeyRow]:
    """Every key of the user, newest first."""
    rows = conn.execute(
        sa.select(*_LISTED).where(api_keys.c.user_id == user_id).order_by(api_keys.c.id.desc())
    )
    return [_row(r) for r in rows]


def get(conn: Connection, key_id: int) -> ApiKeyRow | None:
    """One key by id, or None."""
    row = conn.execute(sa.select(*_LISTED).where(api_keys.c.id == key_id)).first()
    return None if row is None else _row(row)


def revoke(
    conn: Connection, *, key_id: int, owner_id: int | None, now: datetime
) -> tuple[ApiKeyRow, str]:
    """Revoke a key; returns it and its hash (for cache invalidation).

    With `owner_id`, someone else's key is `NotFound` exactly like a missing one. Revoking an
    already revoked key changes nothing (its first `revoked_at` stays).
    """
    query = sa.select(*_LISTED, api_keys.c.key_hash).where(api_keys.c.id == key_id)
    if owner_id is not None:
        query = query.where(api_keys.c.user_id == owner_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    if row is None:
        raise NotFound(f"API key {key_id} not found")
    if row.revoked_at is None:
        conn.execute(
            sa.update(api_keys)
            .where(api_keys.c.id == key_id, api_keys.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )
        key = attrs.evolve(_row(row), revoked_at=now)
    else:
        key = _row(row)
    return key, str(row.key_hash)


def lookup_by_hash(conn: Connection, key_hash: str) -> tuple[ApiKeyRow, UserRow] | None:
    """The key with this hash and its owner (whatever their state), or None."""
    row = conn.execute(sa.select(*_LISTED).where(api_keys.c.key_hash == key_hash)).first()
    if row is None:
        return None
    key = _row(row)
    owner = get_user(conn, key.user_id)
    return None if owner is None else (key, owner)


def hashes_of_user(conn: Connection, user_id: int) -> list[str]:
    """Hashes of the user's unrevoked keys (to drop their cached validations)."""
    rows = conn.execute(
        sa.select(api_keys.c.key_hash).where(
            api_keys.c.user_id == user_id, api_keys.c.revoked_at.is_(None)
        )
    )
    return [str(r.key_hash) for r in rows]
