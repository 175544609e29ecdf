"""The whole configuration: each package's section composed into one `Settings`."""

from __future__ import annotations

from typing import Literal

import attrs
from attrs.validators import ge, le

from actors.config import JobsConfig, ShutdownConfig, UsageConfig
from proxy.config import AnthropicConfig, AwsConfig, JwtConfig, StreamingConfig
from storage.config import CacheConfig, DatabaseConfig
from web.config import AdminConfig, ApiKeysConfig, OAuthConfig, ServerConfig


@attrs.frozen(kw_only=True)
class LoggingConfig:
    """Log level and line format."""

    level: Literal["debug", "info", "warning", "error"] = "info"
    format: Literal["text", "json"] = "text"


@attrs.frozen(kw_only=True)
class MetricsConfig:
    """Prometheus exposition on its own port."""

    enabled: bool = True
    host: str = "0.0.0.0"  # noqa: S104 - scraped from outside the pod
    port: int = attrs.field(default=9090, validator=[ge(0), le(65535)])


@attrs.frozen(kw_only=True)
class Settings:
    """Everything `bedrock-proxy` can be told, with production defaults."""

    server: ServerConfig = attrs.field(factory=ServerConfig)
    jwt: JwtConfig = attrs.field(factory=JwtConfig)
    aws: AwsConfig = attrs.field(factory=AwsConfig)
    logging: LoggingConfig = attrs.field(factory=LoggingConfig)
    oauth: OAuthConfig = attrs.field(factory=OAuthConfig)
    cache: CacheConfig = attrs.field(factory=CacheConfig)
    admin: AdminConfig = attrs.field(factory=AdminConfig)
    api_keys: ApiKeysConfig = attrs.field(factory=ApiKeysConfig)
    database: DatabaseConfig = attrs.field(factory=DatabaseConfig)
    metrics: MetricsConfig = attrs.field(factory=MetricsConfig)
    jobs: JobsConfig = attrs.field(factory=JobsConfig)
    shutdown: ShutdownConfig = attrs.field(factory=ShutdownConfig)
    usage: UsageConfig = attrs.field(factory=UsageConfig)
    streaming: StreamingConfig = attrs.field(factory=StreamingConfig)
    anthropic: AnthropicConfig = attrs.field(factory=AnthropicConfig)
