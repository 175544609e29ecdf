"""Rows for tests, written through the schema (no business logic)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from proxy.usage import UsageEvent
from storage.schema import users

_seq = itertools.count(1)


def insert_user(conn: Connection, email: str | None = None, state: str = "active") -> int:
    """A user row; returns its id."""
    n = next(_seq)
    now = datetime.now(UTC)
    result = conn.execute(
        sa.insert(users).values(
            provider="test",
            provider_user_id=f"u{n}",
            email=email or f"user{n}@example.com",
            email_verified=True,
            display_name=f"User {n}",
            state=state,
            created_at=now,
            updated_at=now,
        )
    )
    return int(result.inserted_primary_key[0])


def usage_event(user_id: int, n: int = 0, **overrides: object) -> UsageEvent:
    """A plausible usage event."""
    fields: dict[str, object] = {
        "request_id": f"req-{user_id}-{n}-{next(_seq)}",
        "user_id": user_id,
        "api_key_id": None,
        "model_id": "anthropic.claude-sonnet-4-5-20250929-v1:0",
        "model_name": "claude-sonnet-4-5",
        "region": "us-east-1",
        "route": "bedrock.invoke",
        "requested_at": datetime(2026, 11, 1, 12, 0, tzinfo=UTC),
        "input_tokens": 10 + n,
        "output_tokens": 20 + n,
        "response_time_ms": 100,
    }
    fields.update(overrides)
    return UsageEvent(**fields)  # type: ignore[arg-type]
