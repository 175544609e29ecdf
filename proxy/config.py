"""Settings owned by the proxying domain: AWS, tokens, streaming and the Anthropic front."""

from __future__ import annotations

from typing import Literal

import attrs
from attrs.validators import ge, le


def _secret() -> dict[str, bool]:
    return {"secret": True}


@attrs.frozen(kw_only=True)
class AwsConfig:
    """Upstream Bedrock: region, credentials (else botocore's chain) and endpoints."""

    region: str = "us-east-1"
    access_key_id: str | None = attrs.field(default=None, metadata=_secret())
    secret_access_key: str | None = attrs.field(default=None, metadata=_secret())
    session_token: str | None = attrs.field(default=None, metadata=_secret())
    profile: str | None = None
    endpoint_url: str | None = None
    control_endpoint_url: str | None = None
    region_prefix_mappings: dict[str, str] = attrs.field(factory=dict)
    connect_timeout_seconds: float = attrs.field(default=10.0, validator=[ge(0.1), le(600.0)])
    read_timeout_seconds: float = attrs.field(default=300.0, validator=[ge(1.0), le(3600.0)])
    pool_timeout_seconds: float = attrs.field(default=10.0, validator=[ge(0.1), le(600.0)])
    max_connections: int = attrs.field(default=1000, validator=[ge(1), le(100_000)])


@attrs.frozen(kw_only=True)
class JwtConfig:
    """Access and refresh tokens; `secret` is required and at least 32 bytes."""

    secret: str | None = attrs.field(default=None, metadata=_secret())
    algorithm: Literal["HS256", "HS384", "HS512"] = "HS256"
    access_token_ttl: int = attrs.field(default=3600, validator=[ge(60), le(86_400 * 7)])
    refresh_token_ttl: int = attrs.field(default=7_776_000, validator=[ge(300)])


@attrs.frozen(kw_only=True)
class StreamingConfig:
    """Long-lived responses: keep-alive pings and the billing budget after a client leaves."""

    ping_interval_seconds: float = attrs.field(default=15.0, validator=[ge(0.05), le(3600.0)])
    client_gone_max_seconds: float = attrs.field(default=60.0, validator=[ge(0.0), le(3600.0)])
    client_gone_max_bytes: int = attrs.field(default=16 << 20, validator=[ge(0)])
    max_request_bytes: int = attrs.field(default=10 << 20, validator=[ge(1024), le(1 << 30)])
