"""Users: keyed by (provider, provider_user_id), upserted at each sign-in."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Literal

import attrs
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from storage.errors import NotFound
from storage.schema import USER_STATES, users

LOCAL_PROVIDER = "local"
UserSort = Literal["id", "email", "display_name", "created_at", "last_login_at", "state"]


@attrs.frozen
class UserRow:
    """One user as stored."""

    id: int
    provider: str
    provider_user_id: str
    email: str
    email_verified: bool
    display_name: str | None
    state: str
    created_at: datetime
    updated_at: datetime
    last_login_at: datetime | None

    @property
    def active(self) -> bool:
        """Only active users may authenticate."""
        return self.state == "active"


def _row(row: Any) -> UserRow:
    return UserRow(
        id=int(row.id),
        provider=row.provider,
        provider_user_id=row.provider_user_id,
        email=row.email,
        email_verified=bool(row.email_verified),
        display_name=row.display_name,
        state=row.state,
        created_at=row.created_at,
        updated_at=row.updated_at,
        last_login_at=row.last_login_at,
    )


def upsert_login(
    conn: Connection,
    *,
    provider: str,
    provider_user_id: str,
    email: str,
    email_verified: bool,
    display_name: str | None,
    now: datetime,
) -> UserRow:
    """Insert or refresh the profile of a user signing in; `last_login_at` moves only if active.

    The state is never changed here: a disabled user stays disabled across sign-ins.
    """
    insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
    profile = {"email": email, "email_verified": email_verified, "display_name": display_name}
    stmt = insert(users).values(
        provider=provider,
        provider_user_id=provider_user_id,
        state="active",
        created_at=now,
        updated_at=now,
        **profile,
    )
    upsert = stmt.on_conflict_do_update(
        index_elements=[users.c.provider, users.c.provider_user_id],
        set_={**profile, "updated_at": now},
    ).returning(users.c.id)
    user_id = int(conn.execute(upsert).scalar_one())
    conn.execute(
        sa.update(users)
        .where(users.c.id == user_id, users.c.state == "active")
        .values(last_login_at=now)
    )
    found = get(conn, user_id)
    assert found is not None
    return found


def create_local(
    conn: Connection, *, email: str, display_name: str | None, now: datetime
) -> tuple[UserRow, bool]:
    """A user without an identity provider (CLI bootstrap); idempotent on email.

    Returns the existing user with that email (any provider) and False, or the new one and True.
    """
    existing = find_by_email(conn, email)
    if existing:
        return existing[0], False
    result = conn.execute(
        sa.insert(users)
        .values(
            provider=LOCAL_PROVIDER,
            provider_user_id=email.lower(),
            email=email,
            email_verified=True,  # asserted by the operator who created it
            display_name=display_name,
            state="active",
            created_at=now,
            updated_at=now,
        )
        .returning(users.c.id)
    )
    created = get(conn, int(result.scalar_one()))
    assert created is not None
    return created, True


def get(conn: Connection, user_id: int) -> UserRow | None:
    """The user, or None."""
    row = conn.execute(sa.select(users).where(users.c.id == user_id)).first()
    return None if row is None else _row(row)


def get_by_identity(conn: Connection, provider: str, provider_user_id: str) -> UserRow | None:
    """The user signed in through `provider` as `provider_user_id`, or None."""
    row = conn.execute(
        sa.select(users).where(
            users.c.provider == provider, users.c.provider_user_id == provider_user_id
        )
    ).first()
    return None if row is None else _row(row)


def find_by_email(conn: Connection, email: str) -> list[UserRow]:
    """Users with this email (case-insensitive), oldest first."""
    rows = conn.execute(
        sa.select(users)
        .where(sa.func.lower(users.c.email) == email.strip().lower())
        .order_by(users.c.id)
    )
    return [_row(r) for r in rows]


def list_users(
    conn: Connection,
    *,
    search: str | None = None,
    state: str | None = None,
    sort: UserSort = "id",
    descending: bool = False,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[UserRow], int]:
    """One page of users and the total matching; `search` matches email or name (substring)."""
    conditions: list[sa.ColumnElement[bool]] = []
    if search:
        pattern = "%" + _escape_like(search.lower()) + "%"
        conditions.append(
            sa.or_(
                sa.func.lower(users.c.email).like(pattern, escape="\\"),
                sa.func.lower(sa.func.coalesce(users.c.display_name, "")).like(
                    pattern, escape="\\"
                ),
            )
        )
    if state:
        conditions.append(users.c.state == state)
    total = int(
        conn.execute(sa.select(sa.func.count()).select_from(users).where(*conditions)).scalar_one()
    )
    column = users.c[sort]
    order: list[Any] = [column.desc() if descending else column.asc()]
    if sort == "last_login_at":  # NULLs (never signed in) last either way
        order = [column.is_(None), *order]
    order.append(users.c.id.desc() if descending else users.c.id.asc())
    rows = conn.execute(
        sa.select(users).where(*conditions).order_by(*order).limit(limit).offset(offset)
    )
    return [_row(r) for r in rows], total


def set_state(conn: Connection, user_id: int, state: str, now: datetime) -> tuple[UserRow, str]:
    """Persist a new state; returns the user and its previous state. `NotFound` if absent."""
    if state not in USER_STATES:
        raise ValueError(f"unknown user state {state!r}")
    query = sa.select(users.c.state).where(users.c.id == user_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    previous = conn.execute(query).scalar_one_or_none()
    if previous is None:
        raise NotFound(f"user {user_id} not found")
    if previous != state:
        conn.execute(
            sa.update(users).where(users.c.id == user_id).values(state=state, updated_at=now)
        )
    found = get(conn, user_id)
    assert found is not None
    return found, str(previous)


def get_many(conn: Connection, user_ids: Sequence[int]) -> dict[int, UserRow]:
    """Users by id (missing ids are absent)."""
    if not user_ids:
        return {}
    rows = conn.execute(sa.select(users).where(users.c.id.in_(list(user_ids))))
    return {int(r.id): _row(r) for r in rows}


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
