"""Building the Quart app around real components, for route tests.

    async def test_something(identity_app: IdentityApp) -> None:
        alice = await identity_app.user("alice@example.com")
        r = await identity_app.client.get("/auth/me", headers=identity_app.bearer(alice))

`open_test_services(db, cache, tmp_path, settings)` is the reusable piece: the real
`Services` (usage accountant, connection tracker, Bedrock client, identity with its
invalidation listener) for any settings; `open_identity_app` adds the Quart app and a client.
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio
from quart_trio import QuartTrio
from sqlalchemy.engine import Connection

from actors.config import ShutdownConfig, UsageConfig
from actors.connection_tracker import open_connection_tracker
from actors.model_discovery import open_model_directory
from actors.usage import open_usage_accountant
from ops.config import Settings
from ops.identity import open_identity
from proxy.bedrock import open_bedrock_client
from proxy.config import AnthropicConfig, AwsConfig, JwtConfig, ModelDiscoveryConfig
from proxy.metrics import Metrics
from storage.cache import MemoryCache, RedisCache
from storage.config import CacheConfig
from storage.database import Database
from storage.repos import users as users_repo
from web.app import create_app
from web.config import AdminConfig, ServerConfig
from web.services import Services

JWT_SECRET = "test-jwt-secret-for-identity-" + "z" * 24
ADMIN_EMAIL = "admin@example.com"
_seq = itertools.count(1)


def identity_settings(**overrides: Any) -> Settings:
    """Settings for identity tests: a known JWT secret and one admin."""
    fields: dict[str, Any] = {
        "jwt": JwtConfig(secret=JWT_SECRET),
        "admin": AdminConfig(emails=[ADMIN_EMAIL.upper()]),  # matching ignores case
        "server": ServerConfig(host="127.0.0.1", port=0),
        "aws": AwsConfig(access_key_id="AKIDTEST", secret_access_key="test-secret"),
        "cache": CacheConfig(validation_ttl=300),
        "anthropic": AnthropicConfig(discovery=ModelDiscoveryConfig(enabled=False)),
    }
    fields.update(overrides)
    return Settings(**fields)


@asynccontextmanager
async def open_test_services(
    db: Database, cache: MemoryCache | RedisCache, tmp_path: Path, settings: Settings
) -> AsyncIterator[Services]:
    """Real services for route tests (no HTTP server)."""
    usage_config = UsageConfig(journal_path=str(tmp_path / f"journal-{next(_seq)}.jsonl"))
    async with (
        open_identity(db, cache, settings) as identity,
        open_usage_accountant(db, usage_config, flush_timeout=5) as usage,
        open_connection_tracker(ShutdownConfig()) as tracker,
        open_bedrock_client(settings.aws) as bedrock,
        open_model_directory(settings.anthropic, settings.aws, bedrock.credentials) as models,
    ):
        yield Services(
            version="test",
            db=db,
            cache=cache,
            usage=usage,
            tracker=tracker,
            metrics=Metrics(),
            server=settings.server,
            streaming=settings.streaming,
            is_draining=lambda: False,
            bedrock=bedrock,
            auth=identity.auth,
            identity=identity,
            models=models,
            anthropic=settings.anthropic,
        )


@attrs.define(eq=False)
class IdentityApp:
    """A test app and helpers to make users, tokens and keys."""

    app: QuartTrio
    services: Services
    client: Any

    @property
    def identity(self) -> Any:
        return self.services.identity

    def new_client(self) -> Any:
        """Another browser (its own cookie jar)."""
        return self.app.test_client()

    async def user(
        self,
        email: str | None = None,
        *,
        admin: bool = False,
        verified: bool = True,
        name: str | None = None,
    ) -> int:
        """A signed-up user (provider "test"); returns its id."""
        address = ADMIN_EMAIL if admin else (email or f"user{next(_seq)}@example.com")

        def write(conn: Connection) -> int:
            row = users_repo.upsert_login(
                conn,
                provider="test",
                provider_user_id=f"t{next(_seq)}",
                email=address,
                email_verified=verified,
                display_name=name or address.split("@")[0],
                now=datetime.now(UTC),
            )
            return row.id

        return await self.services.db.write(write)

    def bearer(self, user_id: int) -> dict[str, str]:
        """An Authorization header with a fresh access token."""
        token, _ = self.services.auth.mint_token(user_id)
        return {"Authorization": f"Bearer {token}"}

    async def key(self, user_id: int, name: str = "test key") -> tuple[int, str]:
        """A new API key; returns (id, key)."""
        from web.auth.audit import ClientInfo
        from web.auth.keys import DEFAULT

        created = await self.identity.keys.create(user_id, name, DEFAULT, ClientInfo())
        return created.row.id, created.key

    async def session(self, user_id: int, client: Any | None = None) -> dict[str, str]:
        """Sign `user_id` in on `client` (cookies) without a provider; returns the CSRF header."""
        from web.auth import audit
        from web.auth.audit import AuditEvent

        row = await self.identity.users.get(user_id)
        issued = await self.identity.sessions.start(
            row, AuditEvent(audit.LOGIN, True, user_id, metadata={"provider": "test"})
        )
        target = client or self.client
        target.set_cookie("localhost", "bsp_access", issued.access_token)
        target.set_cookie("localhost", "bsp_refresh", issued.refresh_token, path="/auth")
        target.set_cookie("localhost", "bsp_csrf", issued.csrf_token)
        return {"X-CSRF-Token": issued.csrf_token}


@asynccontextmanager
async def open_identity_app(
    db: Database, cache: MemoryCache | RedisCache, tmp_path: Path, settings: Settings
) -> AsyncIterator[IdentityApp]:
    """The Quart app on real services, with a test client."""
    async with open_test_services(db, cache, tmp_path, settings) as services:
        app = create_app(services)
        async with app.test_app() as test_app:
            yield IdentityApp(app=app, services=services, client=test_app.test_client())


@pytest.fixture
async def identity_app(db: Database, tmp_path: Path) -> AsyncIterator[IdentityApp]:
    """The app on SQLite and PostgreSQL with a memory cache."""
    async with open_identity_app(
        db, MemoryCache(max_entries=10_000), tmp_path, identity_settings()
    ) as app:
        yield app


@pytest.fixture
async def sqlite_identity_app(sqlite_db: Database, tmp_path: Path) -> AsyncIterator[IdentityApp]:
    """The app on SQLite only (for tests whose subject is not the database)."""
    async with open_identity_app(
        sqlite_db, MemoryCache(max_entries=10_000), tmp_path, identity_settings()
    ) as app:
        yield app


async def wait_until(predicate: Any, timeout: float, interval: float = 0.01) -> float:
    """Poll an async predicate until true; returns the seconds it took (fails after timeout)."""
    started = trio.current_time()
    with trio.fail_after(timeout):
        while not await predicate():
            await trio.sleep(interval)
    return trio.current_time() - started
