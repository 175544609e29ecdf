"""The identity services as one handle, built from configuration by `create_identity`."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import attrs

from proxy.config import JwtConfig
from storage.cache import MemoryCache, RedisCache, TypedCache
from storage.database import Database
from web.auth.audit import AuditService
from web.auth.forwarded import Network, parse_networks
from web.auth.keys import KeyService
from web.auth.oauth.flow import OAuthService, OAuthState
from web.auth.oauth.providers import resolve_provider
from web.auth.service import AuthService
from web.auth.sessions import SessionService
from web.auth.users import UserService
from web.config import AdminConfig, ApiKeysConfig, OAuthConfig, ServerConfig


def _utc_now() -> datetime:
    return datetime.now(UTC)


@attrs.frozen(kw_only=True)
class Identity:
    """Everything about who people are: authentication, sessions, keys, users, audit, sign-in."""

    auth: AuthService
    sessions: SessionService
    keys: KeyService
    users: UserService
    audit: AuditService
    oauth: OAuthService
    server: ServerConfig
    trusted_proxies: tuple[Network, ...]


def create_identity(
    *,
    db: Database,
    cache: MemoryCache | RedisCache,
    jwt: JwtConfig,
    api_keys: ApiKeysConfig,
    admin: AdminConfig,
    oauth: OAuthConfig,
    server: ServerConfig,
    validation_ttl: float,
    l1_max_entries: int = 10_000,
    now: Callable[[], datetime] = _utc_now,
) -> Identity:
    """Wire the identity services; `ValueError` for a provider or proxy list that cannot work."""
    auth = AuthService(
        cache=cache,
        db=db,
        jwt=jwt,
        api_keys=api_keys,
        admin_emails=frozenset(e.strip().lower() for e in admin.emails if e.strip()),
        validation_ttl=validation_ttl,
        now=now,
        l1_max_entries=l1_max_entries,
    )
    audit = AuditService(db, now)
    users = UserService(db, auth, now)
    sessions = SessionService(db, auth, now)
    providers = {}
    for name, provider in oauth.providers.items():
        try:
            providers[name] = resolve_provider(name, provider)
        except ValueError as exc:
            raise ValueError(f"oauth.providers.{name}: {exc}") from None
    sign_in = OAuthService(
        providers=providers,
        states=TypedCache(cache, "auth.oauth_state", 1, OAuthState),
        state_ttl=oauth.state_ttl_seconds,
        users=users,
        sessions=sessions,
        audit=audit,
        now=now,
    )
    return Identity(
        auth=auth,
        sessions=sessions,
        keys=KeyService(db, auth, api_keys, now),
        users=users,
        audit=audit,
        oauth=sign_in,
        server=server,
        trusted_proxies=parse_networks(server.trusted_proxies),
    )
