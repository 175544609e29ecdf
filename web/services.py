"""Everything the web layer uses, built by the composition root and handed in (no globals)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import attrs

from actors.config import JobsConfig
from actors.connection_tracker import ConnectionTracker
from actors.jobs import Scheduler
from actors.model_discovery import ModelDirectory
from actors.pricing import PriceBook
from actors.usage import UsageAccountant
from proxy.bedrock import BedrockClient
from proxy.config import AnthropicConfig, StreamingConfig
from proxy.metrics import Metrics
from storage.cache import MemoryCache, RedisCache
from storage.database import Database
from web.auth.identity import Identity
from web.auth.service import AuthService
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
    auth: AuthService
    identity: Identity
    models: ModelDirectory
    anthropic: AnthropicConfig
    now: Callable[[], datetime] = attrs.field(default=lambda: datetime.now(UTC))
    # metering: prices (None: costs are not editable here), the job scheduler (None when
    # jobs.enabled is false) and the jobs settings (periods, retention) queries rely on
    prices: PriceBook | None = None
    scheduler: Scheduler | None = None
    jobs: JobsConfig = attrs.field(factory=JobsConfig)
