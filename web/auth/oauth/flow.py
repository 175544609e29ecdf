"""The authorization code flow with PKCE, against any configured provider (authlib client).

A `state` is random, single use (popped from the cache), expires after
`oauth.state_ttl_seconds`, and is bound to whoever started the flow: the browser through an
HttpOnly cookie nonce, an API client through the `state_binding` value it received once. Only
the SHA-256 of that nonce is stored, so a stolen callback URL is useless elsewhere.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import attrs
import httpx
import trio

from proxy.tokens import constant_time_equals, generate_nonce, sha256_hex
from storage.cache import TypedCache
from storage.errors import NotFound, StorageError
from web.auth import audit
from web.auth.audit import AuditEvent, AuditService, ClientInfo
from web.auth.errors import SignInError
from web.auth.forwarded import Origin
from web.auth.oauth.claims import ProviderIdentity, identity_from
from web.auth.oauth.providers import ProviderSpec
from web.auth.sessions import IssuedSession, SessionService

if TYPE_CHECKING:  # authlib (with joserfc and cryptography) is loaded at the first sign-in
    from authlib.integrations.httpx_client import AsyncOAuth2Client
from web.auth.users import UserService

log = logging.getLogger("bedrock.auth.oauth")

T = TypeVar("T")
Mode = Literal["browser", "api"]
DISCOVERY_TTL = 3600.0
MAX_CODE_CHARS = 2048
MAX_STATE_CHARS = 128


@attrs.frozen
class OAuthState:
    """What the callback needs to finish a flow, stored under the state value."""

    provider: str
    mode: str
    binding_hash: str
    code_verifier: str
    redirect_uri: str
    created_at: float


@attrs.frozen
class Authorization:
    """A started flow: where to send the user, and the binding secret (shown once)."""

    url: str
    state: str
    binding: str = attrs.field(repr=False)
    redirect_uri: str
    expires_in: int


@attrs.define(eq=False)
class OAuthService:
    """Starts and completes sign-ins; every completion is audited, success or failure."""

    providers: dict[str, ProviderSpec]
    states: TypedCache[OAuthState]
    state_ttl: int
    users: UserService
    sessions: SessionService
    audit: AuditService
    now: Callable[[], datetime]
    http_timeout: float = 10.0
    _discovered: dict[str, tuple[float, dict[str, Any]]] = attrs.field(factory=dict)

    def get(self, name: str) -> ProviderSpec:
        """The provider, or `NotFound`."""
        spec = self.providers.get(name)
        if spec is None:
            raise NotFound(f"no sign-in provider named {name!r}")
        return spec

    def redirect_uri(self, spec: ProviderSpec, origin: Origin) -> str:
        """The configured redirect URI, else the callback under the proxy's origin."""
        return spec.redirect_uri or f"{origin.url}/auth/callback/{spec.name}"

    def _client(self, spec: ProviderSpec, redirect_uri: str) -> AsyncOAuth2Client:
        from authlib.integrations.httpx_client import AsyncOAuth2Client

        return AsyncOAuth2Client(
            client_id=spec.client_id,
            client_secret=spec.client_secret or None,
            token_endpoint_auth_method=spec.token_auth_method,
            scope=" ".join(spec.scopes),
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            follow_redirects=False,
            timeout=self.http_timeout,
        )

    async def _endpoints(self, spec: ProviderSpec, client: AsyncOAuth2Client) -> dict[str, Any]:
        ours = {
            "authorization_endpoint": spec.authorization_url,
            "token_endpoint": spec.token_url,
            "userinfo_endpoint": spec.userinfo_url,
        }
        if not spec.needs_discovery:
            return ours
        assert spec.issuer is not None
        cached = self._discovered.get(spec.name)
        if cached is None or cached[0] < trio.current_time():
            url = f"{spec.issuer}/.well-known/openid-configuration"
            response = await client.request("GET", url, withhold_token=True)
            document = response.json() if response.status_code == 200 else None
            if not isinstance(document, dict):
                raise SignInError(502, "the identity provider's discovery failed", "discovery")
            cached = (trio.current_time() + DISCOVERY_TTL, document)
            self._discovered[spec.name] = cached
        return {k: v or cached[1].get(k) for k, v in ours.items()}

    async def begin(self, name: str, *, redirect_uri: str, mode: Mode) -> Authorization:
        """A new state and the provider's authorization URL."""
        spec = self.get(name)
        state, binding, verifier = generate_nonce(), generate_nonce(), generate_nonce()
        async with self._client(spec, redirect_uri) as client:
            endpoints = await self._guarded(self._endpoints(spec, client))
            url, _ = client.create_authorization_url(
                endpoints["authorization_endpoint"], state=state, code_verifier=verifier
            )
        saved = OAuthState(
            provider=name,
            mode=mode,
            binding_hash=sha256_hex(binding),
            code_verifier=verifier,
            redirect_uri=redirect_uri,
            created_at=self.now().timestamp(),
        )
        await self.states.set(state, saved, self.state_ttl)
        return Authorization(str(url), state, binding, redirect_uri, self.state_ttl)

    async def mode_of(self, state: str) -> str | None:
        """The mode of a pending state without consuming it (None when unknown)."""
        if not state or len(state) > MAX_STATE_CHARS:
            return None
        saved = await self.states.get(state)
        return None if saved is None else saved.mode

    async def complete(
        self,
        name: str,
        *,
        code: str,
        state: str,
        binding: str | None,
        redirect_uri: str | None,
        mode: Mode,
        client: ClientInfo,
    ) -> IssuedSession:
        """Check the state, exchange the code, upsert the user and start a session.

        `redirect_uri` must equal the one the flow started with (None: an API client that
        did not say, so the stored one is used)."""
        user_id: int | None = None
        try:
            spec = self.get(name)
            saved = await self._take_state(state)
            _check_state(saved, name, mode, binding, redirect_uri, self.now(), self.state_ttl)
            if not code or len(code) > MAX_CODE_CHARS:
                raise SignInError(400, "missing or malformed authorization code", "bad_code")
            found = await self._guarded(self._exchange(spec, saved, code))
            user = await self.users.sign_in(
                provider=name,
                provider_user_id=found.user_id,
                email=found.email,
                email_verified=found.email_verified,
                display_name=found.display_name,
            )
            user_id = user.id
            if not user.active:
                raise SignInError(403, f"your account is {user.state}; ask an admin", "inactive")
            login = AuditEvent(audit.LOGIN, True, user.id, client, {"provider": name, "mode": mode})
            return await self.sessions.start(user, login)
        except SignInError as exc:
            await self._audit_failure(name, mode, exc.reason, user_id, client)
            raise
        except NotFound:
            await self._audit_failure(name, mode, "unknown_provider", None, client)
            raise

    async def abandon(self, name: str, state: str, error: str, client: ClientInfo) -> None:
        """The provider sent an error to the callback: consume the state and audit it."""
        if state and len(state) <= MAX_STATE_CHARS:
            saved = await self.states.pop(state)
            mode = saved.mode if saved is not None else "browser"
        else:
            mode = "browser"
        await self._audit_failure(name, mode, f"provider:{error[:64]}", None, client)

    async def _take_state(self, state: str) -> OAuthState:
        if not state or len(state) > MAX_STATE_CHARS:
            raise SignInError(400, "missing or malformed state", "state_invalid")
        saved = await self.states.pop(state)
        if saved is None:
            raise SignInError(
                400, "this sign-in expired or was already used; start again", "state_invalid"
            )
        return saved

    async def _exchange(self, spec: ProviderSpec, saved: OAuthState, code: str) -> ProviderIdentity:
        from authlib.integrations.httpx_client import OAuthError

        async with self._client(spec, saved.redirect_uri) as client:
            endpoints = await self._endpoints(spec, client)
            try:
                await client.fetch_token(
                    endpoints["token_endpoint"], code=code, code_verifier=saved.code_verifier
                )
            except OAuthError as exc:
                log.info("provider %s refused the code: %s", spec.name, exc.error)
                raise SignInError(
                    400, f"the identity provider refused the sign-in ({exc.error})", "token"
                ) from None
            userinfo = await _json(client, endpoints["userinfo_endpoint"])
            if not isinstance(userinfo, dict):
                raise SignInError(502, "the identity provider sent no user info", "userinfo")
            emails = await _json(client, spec.emails_url) if spec.emails_url else None
        return identity_from(spec, userinfo, emails)

    async def _guarded(self, work: Awaitable[T]) -> T:
        """Run provider I/O under the flow's timeout, mapping transport failures."""
        try:
            with trio.fail_after(self.http_timeout):
                return await work
        except trio.TooSlowError:
            raise SignInError(
                504, "the identity provider did not answer in time", "timeout"
            ) from None
        except _provider_errors() as exc:
            log.warning("identity provider error: %s: %s", type(exc).__name__, str(exc)[:200])
            raise SignInError(502, "could not talk to the identity provider", "provider") from None

    async def _audit_failure(
        self, name: str, mode: str, reason: str, user_id: int | None, client: ClientInfo
    ) -> None:
        meta = {"provider": name[:64], "mode": mode, "reason": reason}
        try:
            await self.audit.record(AuditEvent(audit.LOGIN, False, user_id, client, meta))
        except StorageError as exc:
            log.warning("could not audit a failed sign-in: %s", exc)


def _provider_errors() -> tuple[type[Exception], ...]:
    """What a failed provider call raises (evaluated only when something failed)."""
    import httpx2
    from authlib.integrations.httpx_client import OAuthError

    return (httpx2.HTTPError, httpx.HTTPError, OSError, ValueError, OAuthError)


async def _json(client: AsyncOAuth2Client, url: str) -> Any:
    response = await client.get(url, headers={"Accept": "application/json"})
    if response.status_code != 200:
        raise SignInError(502, f"the identity provider answered {response.status_code}", "userinfo")
    return response.json()


def _check_state(
    saved: OAuthState,
    provider: str,
    mode: Mode,
    binding: str | None,
    redirect_uri: str | None,
    now: datetime,
    ttl: int,
) -> None:
    if saved.provider != provider or saved.mode != mode:
        raise SignInError(400, "this sign-in was started for another flow", "state_mismatch")
    if not binding or not constant_time_equals(sha256_hex(binding), saved.binding_hash):
        raise SignInError(
            400,
            "this sign-in was started in another browser or client; start again",
            "state_binding",
        )
    if redirect_uri is not None and redirect_uri != saved.redirect_uri:
        raise SignInError(400, "redirect_uri differs from the one sign-in started with", "redirect")
    if now.timestamp() > saved.created_at + ttl:
        raise SignInError(400, "this sign-in expired; start again", "state_expired")
