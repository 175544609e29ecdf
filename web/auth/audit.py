"""Audit events: names, the client they came from, and the service that writes and reads them."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import attrs
from sqlalchemy.engine import Connection

from storage.database import Database
from storage.repos import audit as audit_repo
from storage.repos.audit import AuditRow

LOGIN = "login"
LOGOUT = "logout"
TOKEN_REFRESH = "token_refresh"  # noqa: S105 - event names, not secrets
REFRESH_TOKEN_REUSE = "refresh_token_reuse"  # noqa: S105
API_KEY_CREATED = "api_key_created"
API_KEY_REVOKED = "api_key_revoked"
USER_CREATED = "user_created"
USER_STATE_CHANGED = "user_state_changed"
ADMIN_ACTION = "admin_action"
TOKEN_MINTED = "token_minted"  # noqa: S105

EVENT_TYPES = (
    LOGIN,
    LOGOUT,
    TOKEN_REFRESH,
    REFRESH_TOKEN_REUSE,
    API_KEY_CREATED,
    API_KEY_REVOKED,
    USER_CREATED,
    USER_STATE_CHANGED,
    ADMIN_ACTION,
    TOKEN_MINTED,
)


@attrs.frozen
class ClientInfo:
    """Where a request came from, as far as we can trust it."""

    ip: str | None = None
    user_agent: str | None = None


CLI_CLIENT = ClientInfo(ip=None, user_agent="bedrock-proxy-cli")


@attrs.frozen
class AuditEvent:
    """One entry to append, usually inside the transaction of the change it describes."""

    event_type: str
    success: bool
    user_id: int | None = None
    client: ClientInfo = ClientInfo()
    metadata: Mapping[str, Any] = attrs.field(factory=dict)

    def write(self, conn: Connection, now: datetime) -> int:
        """Append it on `conn`."""
        return audit_repo.record(
            conn,
            event_type=self.event_type,
            success=self.success,
            now=now,
            user_id=self.user_id,
            ip_address=self.client.ip,
            user_agent=self.client.user_agent,
            metadata=self.metadata,
        )


@attrs.define(eq=False)
class AuditService:
    """Appends events and answers the admin's queries."""

    db: Database
    now: Callable[[], datetime]

    async def record(self, event: AuditEvent) -> None:
        """Append one event in its own transaction."""
        await self.db.write(event.write, self.now())

    async def query(
        self,
        *,
        user_id: int | None = None,
        event_type: str | None = None,
        success: bool | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        before_id: int | None = None,
        limit: int = 50,
    ) -> list[AuditRow]:
        """Newest first, keyset-paged by `before_id`."""
        return await self.db.read(
            audit_repo.query,
            user_id=user_id,
            event_type=event_type,
            success=success,
            since=since,
            until=until,
            before_id=before_id,
            limit=limit,
        )
