"""Refresh tokens: stored as SHA-256, single use, rotated within a family (one sign-in).

Presenting a token that was already used means it was copied: the whole family is revoked.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Literal

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.repos.users import UserRow
from storage.repos.users import get as get_user
from storage.schema import refresh_tokens

RotateStatus = Literal["rotated", "unknown", "expired", "revoked", "reused", "inactive", "refused"]


@attrs.frozen
class RefreshRow:
    """One refresh token as stored (without its hash)."""

    id: int
    user_id: int
    family_id: str
    created_at: datetime
    expires_at: datetime
    used_at: datetime | None
    revoked_at: datetime | None


@attrs.frozen
class RotateOutcome:
    """What presenting a refresh token did. `user` is set whenever the token was found."""

    status: RotateStatus
    family_id: str | None = None
    user: UserRow | None = None
    revoked: int = 0


def _row(row: Any) -> RefreshRow:
    return RefreshRow(
        id=int(row.id),
        user_id=int(row.user_id),
        family_id=row.family_id,
        created_at=row.created_at,
        expires_at=row.expires_at,
        used_at=row.used_at,
        revoked_at=row.revoked_at,
    )


def create(
    conn: Connection,
    *,
    user_id: int,
    token_hash: str,
    family_id: str,
    now: datetime,
    ttl: timedelta,
) -> RefreshRow:
    """Store a new token of `family_id`."""
    result = conn.execute(
        sa.insert(refresh_tokens)
        .values(
            user_id=user_id,
            token_hash=token_hash,
            family_id=family_id,
            created_at=now,
            expires_at=now + ttl,
        )
        .returning(*[c for c in refresh_tokens.c if c.name != "token_hash"])
    )
    return _row(result.one())


def rotate(
    conn: Connection,
    *,
    token_hash: str,
    new_hash: str,
    now: datetime,
    ttl: timedelta,
    accept_family: Callable[[str], bool] | None = None,
) -> RotateOutcome:
    """Use a token once and store its successor, or say why not.

    A reused token revokes its family (and that revocation is committed: the outcome is
    returned, not raised). `accept_family(family_id)` lets the caller refuse before anything
    changes (a failed CSRF check); it then gets "refused". An inactive user's family is revoked.
    """
    query = sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    found = conn.execute(query).first()
    if found is None:
        return RotateOutcome("unknown")
    token = _row(found)
    user = get_user(conn, token.user_id)
    if accept_family is not None and not accept_family(token.family_id):
        return RotateOutcome("refused", token.family_id, user)
    if token.revoked_at is not None:
        return RotateOutcome("revoked", token.family_id, user)
    if token.used_at is not None:
        revoked = revoke_family(conn, token.family_id, now)
        return RotateOutcome("reused", token.family_id, user, revoked)
    if token.expires_at <= now:
        return RotateOutcome("expired", token.family_id, user)
    if user is None or not user.active:
        revoked = revoke_family(conn, token.family_id, now)
        return RotateOutcome("inactive", token.family_id, user, revoked)
    conn.execute(
        sa.update(refresh_tokens).where(refresh_tokens.c.id == token.id).values(used_at=now)
    )
    create(
        conn,
        user_id=token.user_id,
        token_hash=new_hash,
        family_id=token.family_id,
        now=now,
        ttl=ttl,
    )
    return RotateOutcome("rotated", token.family_id, user)


def find(conn: Connection, token_hash: str) -> RefreshRow | None:
    """The token with this hash, or None."""
    row = conn.execute(
        sa.select(refresh_tokens).where(refresh_tokens.c.token_hash == token_hash)
    ).first()
    return None if row is None else _row(row)


def revoke_family(conn: Connection, family_id: str, now: datetime) -> int:
    """Revoke every unrevoked token of the family; returns how many."""
    result = conn.execute(
        sa.update(refresh_tokens)
        .where(refresh_tokens.c.family_id == family_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount)


def revoke_all_for_user(conn: Connection, user_id: int, now: datetime) -> int:
    """Revoke every session of the user (when disabled)."""
    result = conn.execute(
        sa.update(refresh_tokens)
        .where(refresh_tokens.c.user_id == user_id, refresh_tokens.c.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    return int(result.rowcount)


def family_of(conn: Connection, family_id: str) -> list[RefreshRow]:
    """Every token of a family, oldest first (tests and audits)."""
    rows = conn.execute(
        sa.select(refresh_tokens)
        .where(refresh_tokens.c.family_id == family_id)
        .order_by(refresh_tokens.c.id)
    )
    return [_row(r) for r in rows]
