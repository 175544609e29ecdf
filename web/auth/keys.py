"""API keys for people: create (shown once), list, revoke; policy from `api_keys`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import attrs
from sqlalchemy.engine import Connection

from proxy.tokens import api_key_hint, generate_api_key
from storage.database import Database
from storage.repos import api_keys as keys_repo
from storage.repos.api_keys import ApiKeyRow
from web.auth import audit
from web.auth.audit import AuditEvent, ClientInfo
from web.auth.errors import InvalidInput
from web.auth.principal import AuthError
from web.auth.service import AuthService
from web.config import ApiKeysConfig

MAX_NAME_CHARS = 100
MAX_EXPIRY_DAYS = 3650


class _Default:
    """Marker: no expiry given, apply `api_keys.default_expiry_days`."""


DEFAULT = _Default()


@attrs.frozen
class CreatedKey:
    """A new key: `key` is shown to its owner once and never again."""

    key: str = attrs.field(repr=False)
    row: ApiKeyRow


def clean_name(name: object) -> str:
    """A key name: 1-100 printable characters, trimmed."""
    if not isinstance(name, str):
        raise InvalidInput("name must be a string")
    cleaned = name.strip()
    if not cleaned or len(cleaned) > MAX_NAME_CHARS:
        raise InvalidInput(f"name must be 1 to {MAX_NAME_CHARS} characters")
    if any(not ch.isprintable() for ch in cleaned):
        raise InvalidInput("name must not contain control characters")
    return cleaned


@attrs.define(eq=False)
class KeyService:
    """Key management on behalf of a user (routes) or an operator (CLI)."""

    db: Database
    auth: AuthService
    policy: ApiKeysConfig
    now: Callable[[], datetime]

    def expiry_days(self, requested: int | _Default | None) -> int | None:
        """The lifetime a key gets, or `InvalidInput` when outside the policy."""
        limit = self.policy.max_expiry_days
        if isinstance(requested, _Default):
            days = self.policy.default_expiry_days
            if days is None:
                return limit
            return days if limit is None else min(days, limit)
        if requested is None:
            if limit is not None:
                raise InvalidInput(f"keys must expire within {limit} days on this proxy")
            return None
        if isinstance(requested, bool) or not isinstance(requested, int):
            raise InvalidInput("expires_in_days must be a whole number of days or null")
        ceiling = limit or MAX_EXPIRY_DAYS
        if not 1 <= requested <= ceiling:
            raise InvalidInput(f"expires_in_days must be between 1 and {ceiling}")
        return requested

    async def create(
        self,
        user_id: int,
        name: object,
        expires_in_days: int | _Default | None,
        client: ClientInfo,
    ) -> CreatedKey:
        """Mint a key for `user_id`; `LimitReached` at `max_keys_per_user` live keys."""
        if not self.policy.enabled:
            raise AuthError(403, "API keys are disabled on this proxy")
        cleaned = clean_name(name)
        days = self.expiry_days(expires_in_days)
        key = generate_api_key()
        hint = api_key_hint(key)

        def write(conn: Connection) -> ApiKeyRow:
            now = self.now()
            row = keys_repo.create(
                conn,
                user_id=user_id,
                name=cleaned,
                key_hash=self.auth.hash_key(key),
                hint=hint,
                expires_at=None if days is None else now + timedelta(days=days),
                now=now,
                max_live=self.policy.max_keys_per_user,
            )
            AuditEvent(
                audit.API_KEY_CREATED,
                True,
                user_id,
                client,
                {"key_id": row.id, "name": cleaned, "hint": hint, "expires_in_days": days},
            ).write(conn, now)
            return row

        return CreatedKey(key, await self.db.write(write))

    async def list_keys(self, user_id: int) -> list[ApiKeyRow]:
        """Every key of the user, newest first."""
        return await self.db.read(keys_repo.list_for_user, user_id)

    async def revoke(self, key_id: int, owner_id: int | None, client: ClientInfo) -> ApiKeyRow:
        """Revoke a key (`NotFound` for someone else's); effective everywhere within a second."""

        def write(conn: Connection) -> tuple[ApiKeyRow, str]:
            now = self.now()
            row, key_hash = keys_repo.revoke(conn, key_id=key_id, owner_id=owner_id, now=now)
            AuditEvent(
                audit.API_KEY_REVOKED,
                True,
                row.user_id,
                client,
                {"key_id": row.id, "name": row.name, "by_owner": owner_id is not None},
            ).write(conn, now)
            return row, key_hash

        row, key_hash = await self.db.write(write)
        await self.auth.invalidate(key_hashes=[key_hash])
        return row
