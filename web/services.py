"""Everything the web layer uses, built by the composition root and handed in (no globals)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import attrs

from actors.connection_tracker import ConnectionTracker
from actors.usage import UsageAccountant
from proxy.bedrock import BedrockClient
from proxy.config import StreamingConfig
from proxy.metrics import Metrics
from storage.cache import MemoryCache, RedisCache
from storage.database import Database
from web.config import ServerConfig


@attrs.frozen(kw_only=True)
class Services:
    """The handles routes may use. Tests build one around real components."""

    version: str
    db: Database
    cache: MemoryCache | RedisCache
    usage: UsageAccountant
    tracker: ConnectionTracker
    metrics: Metrics
    server: ServerConfig
    streaming: StreamingConfig
    is_draining: Callable[[], bool]
    bedrock: BedrockClient
    now: Callable[[], datetime] = attrs.field(default=lambda: datetime.now(UTC))
