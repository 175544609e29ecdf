"""Settings owned by the storage layer: the database and the cache."""

from __future__ import annotations

from typing import Literal

import attrs
from attrs.validators import ge, le


def _secret() -> dict[str, bool]:
    return {"secret": True}


@attrs.frozen(kw_only=True)
class DatabaseConfig:
    """Where usage, users and keys live; SQLite file by default, PostgreSQL in production."""

    url: str = attrs.field(default="sqlite:///./data/bedrock_sso.db", metadata=_secret())
    max_connections: int = attrs.field(default=5, validator=[ge(1), le(200)])
    migration_on_startup: bool = True
    busy_timeout_ms: int = attrs.field(default=5000, validator=[ge(0), le(600_000)])


@attrs.frozen(kw_only=True)
class CacheConfig:
    """Validation cache, OAuth state and cross-instance invalidation."""

    backend: Literal["memory", "redis"] = "memory"
    redis_url: str = attrs.field(default="redis://localhost:6379", metadata=_secret())
    redis_key_prefix: str = "bedrock_sso:"
    validation_ttl: int = attrs.field(default=300, validator=[ge(1), le(86_400)])
    max_entries: int = attrs.field(default=10_000, validator=[ge(10), le(10_000_000)])
    cleanup_interval: int = attrs.field(default=60, validator=[ge(1), le(86_400)])
    operation_timeout_seconds: float = attrs.field(default=0.5, validator=[ge(0.01), le(30)])
