"""The audit log: who did what, from where. Metadata is a JSON object and never holds a secret."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from storage.schema import audit_logs

# metadata keys whose values are never stored, whoever passes them
SECRET_KEYS = frozenset(
    {
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "code",
        "code_verifier",
        "client_secret",
        "secret",
        "password",
        "key",
        "api_key",
        "state_binding",
        "authorization",
        "cookie",
    }
)
REDACTED = "[redacted]"
MAX_TEXT = 512


@attrs.frozen
class AuditRow:
    """One audit entry."""

    id: int
    user_id: int | None
    event_type: str
    success: bool
    ip_address: str | None
    user_agent: str | None
    metadata: dict[str, Any]
    created_at: datetime


def _row(row: Any) -> AuditRow:
    meta = row._mapping["metadata"]
    return AuditRow(
        id=int(row.id),
        user_id=None if row.user_id is None else int(row.user_id),
        event_type=row.event_type,
        success=bool(row.success),
        ip_address=row.ip_address,
        user_agent=row.user_agent,
        metadata=dict(meta) if isinstance(meta, dict) else {},
        created_at=row.created_at,
    )


def scrub(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """A JSON-safe copy with secret-looking keys redacted and long strings cut."""
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        name = str(key)
        if name.lower() in SECRET_KEYS:
            out[name] = REDACTED
        elif isinstance(value, Mapping):
            out[name] = scrub(value)
        elif isinstance(value, str):
            out[name] = value[:MAX_TEXT]
        elif value is None or isinstance(value, bool | int | float):
            out[name] = value
        elif isinstance(value, list | tuple):
            out[name] = [_scalar(v) for v in value]
        else:
            out[name] = str(value)[:MAX_TEXT]
    return out


def _scalar(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    return str(value)[:MAX_TEXT]


def record(
    conn: Connection,
    *,
    event_type: str,
    success: bool,
    now: datetime,
    user_id: int | None = None,
    ip_address: str | None = None,
    user_agent: str | None = None,
    metadata: Mapping[str, Any] | None = None,
) -> int:
    """Append one entry; returns its id."""
    result = conn.execute(
        sa.insert(audit_logs)
        .values(
            user_id=user_id,
            event_type=event_type,
            success=success,
            ip_address=(ip_address or None) and ip_address[:64],
            user_agent=(user_agent or None) and user_agent[:512],
            metadata=scrub(metadata or {}),
            created_at=now,
        )
        .returning(audit_logs.c.id)
    )
    return int(result.scalar_one())


def query(
    conn: Connection,
    *,
    user_id: int | None = None,
    event_type: str | None = None,
    success: bool | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 50,
) -> list[AuditRow]:
    """Newest first; page with `before_id` = the last id of the previous page (keyset)."""
    conditions: list[sa.ColumnElement[bool]] = []
    if user_id is not None:
        conditions.append(audit_logs.c.user_id == user_id)
    if event_type is not None:
        conditions.append(audit_logs.c.event_type == event_type)
    if success is not None:
        conditions.append(audit_logs.c.success == success)
    if since is not None:
        conditions.append(audit_logs.c.created_at >= since)
    if until is not None:
        conditions.append(audit_logs.c.created_at < until)
    if before_id is not None:
        conditions.append(audit_logs.c.id < before_id)
    rows = conn.execute(
        sa.select(audit_logs).where(*conditions).order_by(audit_logs.c.id.desc()).limit(limit)
    )
    return [_row(r) for r in rows]
