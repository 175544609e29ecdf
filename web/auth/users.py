"""Users for admins and operators: listing, state changes, local accounts, sign-in upserts."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import attrs
from sqlalchemy.engine import Connection

from storage.database import Database
from storage.errors import NotFound
from storage.repos import api_keys as keys_repo
from storage.repos import refresh_tokens as refresh_repo
from storage.repos import users as users_repo
from storage.repos.api_keys import ApiKeyRow
from storage.repos.users import UserRow, UserSort
from storage.schema import USER_STATES
from web.auth import audit
from web.auth.audit import AuditEvent, ClientInfo
from web.auth.errors import InvalidInput
from web.auth.service import AuthService

MAX_EMAIL_CHARS = 320


def clean_email(email: object) -> str:
    """A plausible email address, trimmed (its case is kept; comparisons ignore it)."""
    if not isinstance(email, str):
        raise InvalidInput("email must be a string")
    cleaned = email.strip()
    local, at, domain = cleaned.rpartition("@")
    if not at or not local or "." not in domain or len(cleaned) > MAX_EMAIL_CHARS:
        raise InvalidInput(f"{cleaned[:80]!r} is not an email address")
    if any(ch.isspace() or not ch.isprintable() for ch in cleaned):
        raise InvalidInput("email must not contain spaces or control characters")
    return cleaned


@attrs.define(eq=False)
class UserService:
    """Reads and changes users; every change invalidates cached validations everywhere."""

    db: Database
    auth: AuthService
    now: Callable[[], datetime]

    async def get(self, user_id: int) -> UserRow:
        """The user, or `NotFound`."""
        row = await self.db.read(users_repo.get, user_id)
        if row is None:
            raise NotFound(f"user {user_id} not found")
        return row

    async def list_users(
        self,
        *,
        search: str | None,
        state: str | None,
        sort: UserSort,
        descending: bool,
        limit: int,
        offset: int,
    ) -> tuple[list[UserRow], int]:
        """One page of users and the total matching."""
        return await self.db.read(
            lambda conn: users_repo.list_users(
                conn,
                search=search,
                state=state,
                sort=sort,
                descending=descending,
                limit=limit,
                offset=offset,
            )
        )

    async def keys_of(self, user_id: int) -> list[ApiKeyRow]:
        """The user's keys (`NotFound` for an unknown user)."""
        await self.get(user_id)
        return await self.db.read(keys_repo.list_for_user, user_id)

    async def by_email(self, email: str) -> UserRow:
        """The one user with this email; `NotFound`, or `InvalidInput` when ambiguous."""
        found = await self.db.read(users_repo.find_by_email, email)
        if not found:
            raise NotFound(f"no user with email {email}")
        if len(found) > 1:
            providers = ", ".join(f"{u.id} ({u.provider})" for u in found)
            raise InvalidInput(f"several users have email {email}: {providers}")
        return found[0]

    async def set_state(
        self, user_id: int, state: str, *, actor_id: int | None, client: ClientInfo
    ) -> UserRow:
        """Persist a state; leaving `active` also ends every session. Effective at once here
        and within a second on every instance, for tokens and API keys alike."""
        if state not in USER_STATES:
            raise InvalidInput(f"state must be one of {', '.join(USER_STATES)}")

        def write(conn: Connection) -> tuple[UserRow, list[str]]:
            now = self.now()
            row, previous = users_repo.set_state(conn, user_id, state, now)
            if state != "active":
                refresh_repo.revoke_all_for_user(conn, user_id, now)
            AuditEvent(
                audit.USER_STATE_CHANGED,
                True,
                user_id,
                client,
                {"from": previous, "to": state, "by_user_id": actor_id},
            ).write(conn, now)
            return row, keys_repo.hashes_of_user(conn, user_id)

        row, hashes = await self.db.write(write)
        await self.auth.invalidate(user_ids=[user_id], key_hashes=hashes)
        return row

    async def create_local(
        self, email: str, display_name: str | None, client: ClientInfo
    ) -> tuple[UserRow, bool]:
        """A user without an identity provider; returns the existing one if the email is taken."""
        cleaned = clean_email(email)

        def write(conn: Connection) -> tuple[UserRow, bool]:
            now = self.now()
            row, created = users_repo.create_local(
                conn, email=cleaned, display_name=display_name, now=now
            )
            if created:
                AuditEvent(
                    audit.USER_CREATED, True, row.id, client, {"provider": row.provider}
                ).write(conn, now)
            return row, created

        return await self.db.write(write)

    async def sign_in(
        self,
        *,
        provider: str,
        provider_user_id: str,
        email: str,
        email_verified: bool,
        display_name: str | None,
    ) -> UserRow:
        """Upsert the profile of a user signing in (state untouched); refreshes caches when
        the email, its verification or the name changed."""

        def write(conn: Connection) -> tuple[UserRow, bool, list[str]]:
            before = users_repo.get_by_identity(conn, provider, provider_user_id)
            after = users_repo.upsert_login(
                conn,
                provider=provider,
                provider_user_id=provider_user_id,
                email=email,
                email_verified=email_verified,
                display_name=display_name,
                now=self.now(),
            )
            changed = before is not None and _profile(before) != _profile(after)
            # cached key validations carry the owner's profile (admin status follows the email)
            return after, changed, keys_repo.hashes_of_user(conn, after.id) if changed else []

        after, changed, hashes = await self.db.write(write)
        if changed:
            await self.auth.invalidate(user_ids=[after.id], key_hashes=hashes)
        return after


def _profile(row: UserRow) -> tuple[str, bool, str | None]:
    return row.email, row.email_verified, row.display_name
