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
    max_connections: int = attrs.field(default=10_000, validator=[ge(1), le(100_000)])


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


# --- the Anthropic front (/anthropic/v1/...): model names, profiles, beta flags, discovery ---
# Why each default flag list is what it is: docs/anthropic-api.md, "Beta flags".

# Flags only Anthropic's own API understands (client identity, 1P-only tools and APIs).
# Bedrock answers "invalid beta flag" (400) to such a flag and fails the whole request.
FIRST_PARTY_ONLY_BETAS = (
    "claude-code-20250219",
    "oauth-2025-04-20",
    "files-api-2025-04-14",
    "mcp-client-2025-04-04",
    "mcp-client-2025-11-20",
    "mcp-servers-2025-12-04",
    "prompt-caching-scope-2026-01-05",
    "structured-outputs-2025-11-13",
    "structured-outputs-2025-12-15",
    "web-search-2025-03-05",
    "web-fetch-2025-09-10",
    "code-execution-2025-08-25",
    "skills-2025-10-02",
    "fast-mode-2026-02-01",
    "redact-thinking-2026-02-12",
    "advisor-tool-2026-03-01",
)


def _claude_3_family() -> BetaFamilyConfig:
    return BetaFamilyConfig(
        models=["anthropic.claude-3-*"],
        allowed=[
            "computer-use-2024-10-22",
            "computer-use-2025-01-24",
            "token-efficient-tools-2025-02-19",
            "output-128k-2025-02-19",
        ],
        dropped=["interleaved-thinking-2025-05-14", "context-management-2025-06-27"],
    )


def _claude_4_family() -> BetaFamilyConfig:
    return BetaFamilyConfig(
        models=[
            "anthropic.claude-opus-4-2*",
            "anthropic.claude-sonnet-4-2*",
            "anthropic.claude-opus-4-1-*",
            "anthropic.claude-*-4-5-*",
            "anthropic.claude-*-4-6*",
        ],
        allowed=[
            "interleaved-thinking-2025-05-14",
            "dev-full-thinking-2025-05-14",
            "context-1m-2025-08-07",
            "context-management-2025-06-27",
            "computer-use-2025-01-24",
            "computer-use-2025-11-24",
            "token-efficient-tools-2025-02-19",
            "fine-grained-tool-streaming-2025-05-14",
            "effort-2025-11-24",
            "tool-search-tool-2025-10-19",
            "tool-examples-2025-10-29",
        ],
    )


def _claude_adaptive_family() -> BetaFamilyConfig:
    # Opus 4.7 and everything newer (and any future anthropic.claude-* id): adaptive thinking
    return BetaFamilyConfig(
        models=["anthropic.claude-*"],
        allowed=[
            "context-1m-2025-08-07",
            "context-management-2025-06-27",
            "computer-use-2025-11-24",
            "fine-grained-tool-streaming-2025-05-14",
            "effort-2025-11-24",
            "tool-search-tool-2025-10-19",
            "tool-examples-2025-10-29",
            "compact-2026-01-12",
        ],
        dropped=["interleaved-thinking-2025-05-14"],
    )


def _default_families() -> dict[str, BetaFamilyConfig]:
    return {
        "claude-3": _claude_3_family(),
        "claude-4": _claude_4_family(),
        "claude-adaptive": _claude_adaptive_family(),
    }


def _default_translations() -> dict[str, list[str]]:
    # Anthropic's API names tool search "advanced-tool-use"; Bedrock knows it as
    # tool-search-tool, which is what Claude Code itself sends in Bedrock mode
    return {"advanced-tool-use-2025-11-20": ["tool-search-tool-2025-10-19"]}


@attrs.frozen(kw_only=True)
class BetaFamilyConfig:
    """One model family's `anthropic-beta` flags: those Bedrock accepts, those it refuses.

    `models` are shell-style patterns matched against the base model id (first family wins)."""

    models: list[str] = attrs.field(factory=list)
    allowed: list[str] = attrs.field(factory=list)
    dropped: list[str] = attrs.field(factory=list)


@attrs.frozen(kw_only=True)
class BetaFlagsConfig:
    """How the `anthropic-beta` header becomes Bedrock's `anthropic_beta` body array.

    A flag passes when it is in `allow`, or when it is in neither `drop` nor its family's
    `dropped` list and is in the family's `allowed` list (or `unknown` is "pass")."""

    unknown: Literal["drop", "pass"] = "drop"
    allow: list[str] = attrs.field(factory=list)
    drop: list[str] = attrs.field(factory=lambda: list(FIRST_PARTY_ONLY_BETAS))
    families: dict[str, BetaFamilyConfig] = attrs.field(factory=_default_families)
    default_family: str = "claude-adaptive"
    translations: dict[str, list[str]] = attrs.field(factory=_default_translations)


@attrs.frozen(kw_only=True)
class ModelDiscoveryConfig:
    """Asking Bedrock which models and inference profiles this AWS account can call."""

    enabled: bool = True
    refresh_seconds: float = attrs.field(default=3600.0, validator=[ge(10.0), le(86_400.0)])
    retry_seconds: float = attrs.field(default=60.0, validator=[ge(1.0), le(86_400.0)])
    timeout_seconds: float = attrs.field(default=30.0, validator=[ge(1.0), le(600.0)])


@attrs.frozen(kw_only=True)
class AnthropicConfig:
    """The Anthropic Messages API front: model names, inference-profile policy, beta flags.

    `model_mappings` maps a name to a Claude name, a Bedrock base id, a profile id or an ARN;
    `inference_profile` is "auto", "none" or a prefix ("us", "eu", "apac", "global", ...);
    `profile_region_prefixes` overrides which prefix "auto" picks for a region
    (e.g. `{ap-northeast-1: jp}`). See docs/anthropic-api.md."""

    model_mappings: dict[str, str] = attrs.field(factory=dict)
    inference_profile: str = "auto"
    profile_region_prefixes: dict[str, str] = attrs.field(factory=dict)
    beta_flags: BetaFlagsConfig = attrs.field(factory=BetaFlagsConfig)
    discovery: ModelDiscoveryConfig = attrs.field(factory=ModelDiscoveryConfig)
