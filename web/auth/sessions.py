"""Sign-in sessions: an access JWT plus a rotating refresh token family."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import attrs
from sqlalchemy.engine import Connection

from proxy.tokens import generate_family_id, generate_refresh_token, sha256_hex
from storage.database import Database
from storage.repos import refresh_tokens as refresh_repo
from storage.repos.refresh_tokens import RotateOutcome
from storage.repos.users import UserRow
from web.auth import audit
from web.auth.audit import AuditEvent, ClientInfo
from web.auth.principal import AuthError
from web.auth.service import AuthService

MAX_REFRESH_TOKEN_CHARS = 256


@attrs.frozen
class IssuedSession:
    """Tokens handed to a client at sign-in or refresh (shown once, never stored in clear)."""

    user_id: int
    session_id: str
    access_token: str = attrs.field(repr=False)
    access_expires_in: int
    refresh_token: str = attrs.field(repr=False)
    refresh_expires_in: int
    csrf_token: str = attrs.field(repr=False)

    def as_json(self) -> dict[str, Any]:
        """The OAuth-style token response for API callers."""
        return {
            "access_token": self.access_token,
            "token_type": "Bearer",
            "expires_in": self.access_expires_in,
            "refresh_token": self.refresh_token,
            "refresh_expires_in": self.refresh_expires_in,
        }


_REFUSALS = {
    "unknown": (401, "invalid refresh token"),
    "expired": (401, "refresh token expired; sign in again"),
    "revoked": (401, "refresh token revoked; sign in again"),
    "reused": (401, "refresh token already used; every session of this sign-in was revoked"),
    "inactive": (403, "user account is not active"),
    "refused": (403, "missing or invalid CSRF token"),
}


@attrs.define(eq=False)
class SessionService:
    """Starts, refreshes and ends sessions; every step is audited in the same transaction."""

    db: Database
    auth: AuthService
    now: Callable[[], datetime]

    @property
    def refresh_ttl(self) -> int:
        """Seconds a refresh token stays valid."""
        return self.auth.jwt.refresh_token_ttl

    def _issue(self, user_id: int, family_id: str, refresh_token: str) -> IssuedSession:
        access, claims = self.auth.mint_token(user_id, session_id=family_id)
        return IssuedSession(
            user_id=user_id,
            session_id=family_id,
            access_token=access,
            access_expires_in=claims.expires_at - claims.issued_at,
            refresh_token=refresh_token,
            refresh_expires_in=self.refresh_ttl,
            csrf_token=self.auth.csrf_token(family_id),
        )

    async def start(self, user: UserRow, login: AuditEvent) -> IssuedSession:
        """A new session (family) for `user`, with its `login` audit entry."""
        refresh, family = generate_refresh_token(), generate_family_id()

        def write(conn: Connection) -> None:
            now = self.now()
            refresh_repo.create(
                conn,
                user_id=user.id,
                token_hash=sha256_hex(refresh),
                family_id=family,
                now=now,
                ttl=timedelta(seconds=self.refresh_ttl),
            )
            login.write(conn, now)

        await self.db.write(write)
        return self._issue(user.id, family, refresh)

    async def refresh(
        self,
        token: str,
        client: ClientInfo,
        *,
        accept_family: Callable[[str], bool] | None = None,
    ) -> IssuedSession:
        """Rotate `token`; `AuthError` when it is unknown, expired, revoked or reused."""
        if not token or len(token) > MAX_REFRESH_TOKEN_CHARS:
            raise AuthError(401, "invalid refresh token")
        successor = generate_refresh_token()

        def write(conn: Connection) -> RotateOutcome:
            now = self.now()
            outcome = refresh_repo.rotate(
                conn,
                token_hash=sha256_hex(token),
                new_hash=sha256_hex(successor),
                now=now,
                ttl=timedelta(seconds=self.refresh_ttl),
                accept_family=accept_family,
            )
            event = _refresh_event(outcome, client)
            if event is not None:
                event.write(conn, now)
            return outcome

        outcome = await self.db.write(write)
        if outcome.status != "rotated":
            status, message = _REFUSALS[outcome.status]
            raise AuthError(status, message)
        assert outcome.user is not None
        assert outcome.family_id is not None
        return self._issue(outcome.user.id, outcome.family_id, successor)

    async def logout(
        self,
        *,
        refresh_token: str | None,
        session_id: str | None,
        user_id: int | None,
        client: ClientInfo,
    ) -> int:
        """Revoke the session's refresh family; returns how many tokens were revoked."""

        def write(conn: Connection) -> int:
            now = self.now()
            family, owner = session_id, user_id
            if refresh_token and len(refresh_token) <= MAX_REFRESH_TOKEN_CHARS:
                row = refresh_repo.find(conn, sha256_hex(refresh_token))
                if row is not None and (owner is None or row.user_id == owner):
                    family, owner = row.family_id, row.user_id
            revoked = refresh_repo.revoke_family(conn, family, now) if family else 0
            AuditEvent(
                audit.LOGOUT,
                True,
                owner,
                client,
                {"sessions_revoked": revoked},
            ).write(conn, now)
            return revoked

        return await self.db.write(write)

    async def family_of(self, refresh_token: str) -> tuple[str, int] | None:
        """(family id, user id) of a refresh token, without using it."""
        if not refresh_token or len(refresh_token) > MAX_REFRESH_TOKEN_CHARS:
            return None
        row = await self.db.read(refresh_repo.find, sha256_hex(refresh_token))
        return None if row is None else (row.family_id, row.user_id)


def _refresh_event(outcome: RotateOutcome, client: ClientInfo) -> AuditEvent | None:
    user_id = outcome.user.id if outcome.user is not None else None
    if outcome.status == "unknown":
        return None  # nothing to attribute it to; not worth a row per junk request
    if outcome.status == "reused":
        return AuditEvent(
            audit.REFRESH_TOKEN_REUSE,
            False,
            user_id,
            client,
            {"family_revoked": True, "tokens_revoked": outcome.revoked},
        )
    reason = None if outcome.status == "rotated" else outcome.status
    return AuditEvent(
        audit.TOKEN_REFRESH,
        outcome.status == "rotated",
        user_id,
        client,
        {"reason": reason} if reason else {},
    )
