"""Sign-in providers: each configured `oauth.providers` entry resolved to endpoints and claims.

Types: google, github, microsoft (tenant_id, default `common`), gitlab (instance_url),
auth0 (domain), okta (domain, or issuer for a custom authorization server) and custom (an
OIDC issuer discovered at `/.well-known/openid-configuration`, or explicit URLs). Any URL,
scope or field given in the configuration overrides the type's default.
"""

from __future__ import annotations

import re
from typing import Any

import attrs

from web.config import OAuthProviderConfig

PROVIDER_TYPES = ("google", "github", "microsoft", "gitlab", "auth0", "okta", "custom")
_NAME = re.compile(r"[a-z0-9][a-z0-9_\-]{0,63}")
_OIDC_SCOPES = ("openid", "email", "profile")


@attrs.frozen
class ProviderSpec:
    """One provider, ready to use (secrets kept out of repr)."""

    name: str
    type: str
    display_name: str
    client_id: str
    client_secret: str = attrs.field(repr=False)
    scopes: tuple[str, ...]
    authorization_url: str | None
    token_url: str | None
    userinfo_url: str | None
    issuer: str | None
    emails_url: str | None
    user_id_field: str
    email_field: str
    name_field: str
    fallback_email_field: str | None
    fallback_name_field: str | None
    redirect_uri: str | None
    trust_email: bool
    token_auth_method: str

    @property
    def needs_discovery(self) -> bool:
        """True when some endpoint must come from the issuer's discovery document."""
        return not (self.authorization_url and self.token_url and self.userinfo_url)

    def public(self) -> dict[str, Any]:
        """What `GET /auth/providers` shows."""
        return {"name": self.name, "type": self.type, "display_name": self.display_name}


def _host(value: str | None) -> str | None:
    if not value:
        return None
    return re.sub(r"^https?://", "", value.strip()).rstrip("/") or None


def _defaults(kind: str, cfg: OAuthProviderConfig) -> dict[str, Any]:
    if kind == "google":
        return {
            "display_name": "Google",
            "authorization_url": "https://accounts.google.com/o/oauth2/v2/auth",
            "token_url": "https://oauth2.googleapis.com/token",
            "userinfo_url": "https://openidconnect.googleapis.com/v1/userinfo",
        }
    if kind == "github":
        web = (cfg.instance_url or "https://github.com").rstrip("/")
        api = "https://api.github.com" if web == "https://github.com" else f"{web}/api/v3"
        return {
            "display_name": "GitHub",
            "authorization_url": f"{web}/login/oauth/authorize",
            "token_url": f"{web}/login/oauth/access_token",
            "userinfo_url": f"{api}/user",
            "emails_url": f"{api}/user/emails",
            "scopes": ("read:user", "user:email"),
            "user_id_field": "id",
            "fallback_name_field": "login",
            "token_auth_method": "client_secret_post",
        }
    if kind == "microsoft":
        base = f"https://login.microsoftonline.com/{cfg.tenant_id or 'common'}/oauth2/v2.0"
        return {
            "display_name": "Microsoft",
            "authorization_url": f"{base}/authorize",
            "token_url": f"{base}/token",
            "userinfo_url": "https://graph.microsoft.com/oidc/userinfo",
            "fallback_email_field": "preferred_username",
        }
    if kind == "gitlab":
        base = (cfg.instance_url or "https://gitlab.com").rstrip("/")
        return {
            "display_name": "GitLab",
            "authorization_url": f"{base}/oauth/authorize",
            "token_url": f"{base}/oauth/token",
            "userinfo_url": f"{base}/oauth/userinfo",
            "fallback_name_field": "nickname",
        }
    if kind == "auth0":
        domain = _host(cfg.domain)
        if domain is None:
            raise ValueError("needs domain (e.g. your-tenant.eu.auth0.com)")
        return {
            "display_name": "Auth0",
            "authorization_url": f"https://{domain}/authorize",
            "token_url": f"https://{domain}/oauth/token",
            "userinfo_url": f"https://{domain}/userinfo",
        }
    if kind == "okta":
        domain = _host(cfg.domain)
        if cfg.issuer:
            return {"display_name": "Okta"}
        if domain is None:
            raise ValueError("needs domain (e.g. your-org.okta.com) or issuer")
        return {
            "display_name": "Okta",
            "authorization_url": f"https://{domain}/oauth2/v1/authorize",
            "token_url": f"https://{domain}/oauth2/v1/token",
            "userinfo_url": f"https://{domain}/oauth2/v1/userinfo",
        }
    # custom
    explicit = cfg.authorization_url and cfg.token_url and cfg.userinfo_url
    if not explicit and not cfg.issuer:
        raise ValueError("needs issuer, or authorization_url, token_url and userinfo_url")
    return {"display_name": "Single sign-on"}


def resolve_provider(name: str, cfg: OAuthProviderConfig) -> ProviderSpec:
    """The provider `name` as configured; `ValueError` says what is missing or wrong."""
    if not _NAME.fullmatch(name):
        raise ValueError("provider names are lower-case letters, digits, '-' or '_'")
    kind = (cfg.type or name).lower()
    if kind not in PROVIDER_TYPES:
        raise ValueError(f"unknown provider type {kind!r}; set type: to one of {PROVIDER_TYPES}")
    if not cfg.client_id:
        raise ValueError("needs client_id")
    base = _defaults(kind, cfg)
    for url in (cfg.authorization_url, cfg.token_url, cfg.userinfo_url, cfg.issuer):
        if url and not url.startswith(("https://", "http://")):
            raise ValueError(f"{url!r} is not an http(s) URL")
    return ProviderSpec(
        name=name,
        type=kind,
        display_name=cfg.display_name or base["display_name"],
        client_id=cfg.client_id,
        client_secret=cfg.client_secret,
        scopes=tuple(cfg.scopes) if cfg.scopes else base.get("scopes", _OIDC_SCOPES),
        authorization_url=cfg.authorization_url or base.get("authorization_url"),
        token_url=cfg.token_url or base.get("token_url"),
        userinfo_url=cfg.userinfo_url or base.get("userinfo_url"),
        issuer=cfg.issuer.rstrip("/") if cfg.issuer else None,
        emails_url=base.get("emails_url"),
        user_id_field=cfg.user_id_field or base.get("user_id_field", "sub"),
        email_field=cfg.email_field or "email",
        name_field=cfg.name_field or "name",
        fallback_email_field=None if cfg.email_field else base.get("fallback_email_field"),
        fallback_name_field=None if cfg.name_field else base.get("fallback_name_field"),
        redirect_uri=cfg.redirect_uri,
        trust_email=cfg.trust_email,
        token_auth_method=base.get("token_auth_method", "client_secret_basic"),
    )


def provider_problem(name: str, cfg: OAuthProviderConfig) -> str | None:
    """Why this provider configuration cannot work, or None (for the config check)."""
    try:
        resolve_provider(name, cfg)
    except ValueError as exc:
        return str(exc)
    return None


def claim(data: dict[str, Any], path: str) -> Any:
    """A claim by name, or by dotted path into nested objects (`user.id`)."""
    if path in data:
        return data[path]
    node: Any = data
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node
