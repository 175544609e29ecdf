"""Settings owned by the web layer: the listener, sign-in providers, admins and API keys."""

from __future__ import annotations

from typing import Literal

import attrs
from attrs.validators import ge, le


def _secret() -> dict[str, bool]:
    return {"secret": True}


@attrs.frozen(kw_only=True)
class ServerConfig:
    """The HTTP listener and how the proxy sees itself from outside."""

    host: str = "0.0.0.0"  # noqa: S104 - a server listens on all interfaces by default
    port: int = attrs.field(default=3000, validator=[ge(0), le(65535)])
    public_url: str | None = None
    trusted_proxies: list[str] = attrs.field(factory=list)
    cookie_secure: Literal["auto", "always", "never"] = "auto"


@attrs.frozen(kw_only=True)
class OAuthProviderConfig:
    """One sign-in provider; `type` defaults to the provider's key in `oauth.providers`."""

    type: str | None = None
    client_id: str = ""
    client_secret: str = attrs.field(default="", metadata=_secret())
    display_name: str | None = None
    redirect_uri: str | None = None
    scopes: list[str] | None = None
    issuer: str | None = None
    authorization_url: str | None = None
    token_url: str | None = None
    userinfo_url: str | None = None
    tenant_id: str | None = None
    instance_url: str | None = None
    domain: str | None = None
    user_id_field: str | None = None
    email_field: str | None = None
    name_field: str | None = None
    # treat this provider's emails as verified even without an `email_verified` claim (e.g. a
    # single-tenant Entra ID you administer); only verified emails can match `admin.emails`
    trust_email: bool = False


@attrs.frozen(kw_only=True)
class OAuthConfig:
    """Configured OAuth/OIDC providers, keyed by the name used in URLs."""

    providers: dict[str, OAuthProviderConfig] = attrs.field(factory=dict)
    state_ttl_seconds: int = attrs.field(default=600, validator=[ge(30), le(3600)])


@attrs.frozen(kw_only=True)
class AdminConfig:
    """Users whose verified email is listed here are admins (checked on every request)."""

    emails: list[str] = attrs.field(factory=list)


@attrs.frozen(kw_only=True)
class ApiKeysConfig:
    """API key policy."""

    enabled: bool = True
    max_keys_per_user: int = attrs.field(default=10, validator=[ge(1), le(1000)])
    default_expiry_days: int | None = attrs.field(default=90)
    max_expiry_days: int | None = None
    hash_secret: str | None = attrs.field(default=None, metadata=_secret())
