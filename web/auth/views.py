"""JSON shapes of users, keys and audit entries (shared by the JSON API and the web UI)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from storage.repos.api_keys import ApiKeyRow
from storage.repos.audit import AuditRow
from storage.repos.users import UserRow


def iso(value: datetime | None) -> str | None:
    """ISO 8601 in UTC, or None."""
    return None if value is None else value.isoformat()


def user_json(row: UserRow, *, is_admin: bool) -> dict[str, Any]:
    """A user as shown to itself or to an admin (no internal fields, no provider tokens)."""
    return {
        "id": row.id,
        "email": row.email,
        "email_verified": row.email_verified,
        "display_name": row.display_name,
        "provider": row.provider,
        "state": row.state,
        "is_admin": is_admin,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
        "last_login_at": iso(row.last_login_at),
    }


def key_json(row: ApiKeyRow, now: datetime) -> dict[str, Any]:
    """A key as listed: never its hash, never the key itself."""
    return {
        "id": row.id,
        "name": row.name,
        "hint": row.hint,
        "status": row.status(now),
        "created_at": iso(row.created_at),
        "last_used_at": iso(row.last_used_at),
        "expires_at": iso(row.expires_at),
        "revoked_at": iso(row.revoked_at),
    }


def audit_json(row: AuditRow) -> dict[str, Any]:
    """An audit entry."""
    return {
        "id": row.id,
        "user_id": row.user_id,
        "event_type": row.event_type,
        "success": row.success,
        "ip_address": row.ip_address,
        "user_agent": row.user_agent,
        "metadata": row.metadata,
        "created_at": iso(row.created_at),
    }
