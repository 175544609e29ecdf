"""Authenticating requests: API keys and access tokens, cached and invalidated across instances.

Validation results live in the shared cache (TypedCache, `cache.validation_ttl`) and in an
in-process L1 in front of it, so the hot path usually makes no round trip at all. Revoking a
key or changing a user's state drops both here at once, deletes the shared entries and
publishes an invalidation that every instance's listener applies (Redis pub/sub). Because a
load that started before the change can still write a stale entry to the shared cache, the
deletion and the message are repeated `REPEAT_AFTER` seconds later, and loads slower than
`MAX_FILL_SECONDS` never write: a stale validation outlives a change by under a second.
While the Redis subscription is down the L1 is bypassed.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import TypeVar

import attrs
import trio
from sqlalchemy.engine import Connection

from proxy.config import JwtConfig
from proxy.errors import ExpiredToken, InvalidToken
from proxy.tokens import (
    AccessClaims,
    api_key_pepper,
    constant_time_equals,
    csrf_key,
    csrf_token_for,
    hash_api_key,
    looks_like_api_key,
    mint_access_token,
    verify_access_token,
)
from storage.cache import MemoryCache, RedisCache, TypedCache
from storage.database import Database
from storage.errors import StorageError
from storage.repos import api_keys as keys_repo
from storage.repos import users as users_repo
from storage.repos.users import UserRow
from web.auth.local import LocalValidations
from web.auth.principal import AuthError, AuthMethod, Principal
from web.config import ApiKeysConfig

log = logging.getLogger("bedrock.auth")

A = TypeVar("A")
T = TypeVar("T")
Repeat = tuple[float, float, bytes]  # (due, give up at, message), in Trio time

CHANNEL = "auth:invalidate"
ACCESS_COOKIE = "bsp_access"
REPEAT_AFTER = 0.5
RETRY_AFTER = 1.0
MAX_FILL_SECONDS = 0.25
NEGATIVE_TTL = 10.0
L1_MAX_TTL = 60.0


@attrs.frozen
class CachedUser:
    """What authentication needs to know about a user."""

    id: int
    email: str
    email_verified: bool
    display_name: str | None
    state: str

    @classmethod
    def of(cls, row: UserRow) -> CachedUser:
        """From a database row."""
        return cls(row.id, row.email, row.email_verified, row.display_name, row.state)


@attrs.frozen
class CachedKey:
    """A validated API key and its owner, in one cache entry (one round trip)."""

    key_id: int
    user: CachedUser
    expires_at: float | None  # Unix seconds
    revoked: bool


_UNKNOWN = CachedKey(0, CachedUser(0, "", False, None, "unknown"), None, True)


@attrs.define(eq=False)
class AuthService:
    """Turns credentials into a `Principal` (see module docstring for the caching)."""

    cache: MemoryCache | RedisCache
    db: Database
    jwt: JwtConfig
    api_keys: ApiKeysConfig
    admin_emails: frozenset[str]
    validation_ttl: float
    now: Callable[[], datetime]
    l1_max_entries: int = 10_000
    _l1: LocalValidations[CachedKey | CachedUser] = attrs.field(init=False)
    _keys: TypedCache[CachedKey] = attrs.field(init=False)
    _users: TypedCache[CachedUser] = attrs.field(init=False)
    _pepper: bytes = attrs.field(init=False)
    _csrf_key: bytes = attrs.field(init=False)
    _secret: str = attrs.field(init=False)
    _repeats: trio.MemorySendChannel[Repeat] | None = None

    def __attrs_post_init__(self) -> None:
        if not self.jwt.secret:
            raise ValueError("jwt.secret is required")
        self._secret = self.jwt.secret
        self._l1 = LocalValidations(self.l1_max_entries, min(self.validation_ttl, L1_MAX_TTL))
        self._keys = TypedCache(self.cache, "auth.key", 1, CachedKey)
        self._users = TypedCache(self.cache, "auth.user", 1, CachedUser)
        self._pepper = api_key_pepper(self.api_keys.hash_secret, self._secret)
        self._csrf_key = csrf_key(self._secret)

    # --- the hot path ------------------------------------------------------------------

    async def authenticate(self, headers: Sequence[tuple[bytes, bytes]]) -> Principal:
        """The principal of a data-plane request (`x-api-key` or `Authorization: Bearer`)."""
        api_key: bytes | None = None
        authorization: bytes | None = None
        for name, value in headers:
            if name == b"x-api-key":
                api_key = value
            elif name == b"authorization":
                authorization = value
        if api_key is not None:
            return await self._by_api_key(api_key.decode("latin-1").strip())
        if authorization is not None:
            scheme, _, credential = authorization.partition(b" ")
            if scheme.lower() == b"bearer":
                token = credential.strip().decode("latin-1")
                if token.startswith("SSOK_"):
                    return await self._by_api_key(token)
                return await self._by_access_token(token, "jwt")
        raise AuthError(401, "missing credentials: send x-api-key or Authorization: Bearer")

    async def authenticate_request(
        self, headers: Sequence[tuple[bytes, bytes]], cookies: Mapping[str, str]
    ) -> Principal:
        """Like `authenticate`, falling back to the session cookie (method "session")."""
        if any(n == b"x-api-key" or _is_bearer(n, v) for n, v in headers):
            return await self.authenticate(headers)
        token = cookies.get(ACCESS_COOKIE)
        if token:
            return await self._by_access_token(token, "session")
        raise AuthError(401, "sign in first, or send x-api-key or Authorization: Bearer")

    async def _by_api_key(self, key: str) -> Principal:
        if not self.api_keys.enabled:
            raise AuthError(401, "API keys are disabled on this proxy")
        if not looks_like_api_key(key):
            raise AuthError(401, "invalid API key")
        key_hash = hash_api_key(key, self._pepper)
        entry = self._l1.get(key_hash, trio.current_time()) if self._l1_usable() else None
        if not isinstance(entry, CachedKey):
            entry = await self._load_key(key_hash)
        if entry.revoked:
            raise AuthError(401, "invalid API key" if entry is _UNKNOWN else "API key revoked")
        if entry.expires_at is not None and self.now().timestamp() >= entry.expires_at:
            raise AuthError(401, "API key expired")
        return self._principal(entry.user, "api_key", entry.key_id, None)

    async def _by_access_token(self, token: str, method: AuthMethod) -> Principal:
        try:
            claims = self.verify_token(token)
        except ExpiredToken:
            raise AuthError(401, "access token expired") from None
        except InvalidToken:
            raise AuthError(401, "invalid access token") from None
        user = await self.user(claims.user_id)
        if user is None:
            raise AuthError(401, "invalid access token")
        return self._principal(user, method, None, claims.session_id)

    def _principal(
        self, user: CachedUser, method: AuthMethod, key_id: int | None, session_id: str | None
    ) -> Principal:
        if user.state != "active":
            raise AuthError(403, f"user account is {user.state}")
        return Principal(
            user_id=user.id,
            email=user.email,
            display_name=user.display_name,
            is_admin=self.is_admin(user.email, user.email_verified),
            method=method,
            api_key_id=key_id,
            session_id=session_id,
        )

    def is_admin(self, email: str, verified: bool) -> bool:
        """Admins are the verified emails listed in `admin.emails` (case-insensitive)."""
        return verified and email.lower() in self.admin_emails

    # --- loading through the caches ------------------------------------------------------

    def _l1_usable(self) -> bool:
        return not isinstance(self.cache, RedisCache) or self.cache.listening

    async def _load_key(self, key_hash: str) -> CachedKey:
        epoch, started = self._l1.epoch, trio.current_time()
        entry = await self._keys.get(key_hash)
        if entry is None:
            found = await self._read(keys_repo.lookup_by_hash, key_hash)
            if found is None:
                self._remember(key_hash, _UNKNOWN, None, epoch, NEGATIVE_TTL)
                return _UNKNOWN
            key, owner = found
            expires = key.expires_at.timestamp() if key.expires_at else None
            entry = CachedKey(key.id, CachedUser.of(owner), expires, key.revoked_at is not None)
            await self._share(self._keys, key_hash, entry, epoch, started)
        self._remember(key_hash, entry, entry.user.id, epoch)
        return entry

    async def user(self, user_id: int) -> CachedUser | None:
        """The user's cached snapshot (L1, then the shared cache, then the database)."""
        ident = f"u{user_id}"
        if self._l1_usable():
            hit = self._l1.get(ident, trio.current_time())
            if isinstance(hit, CachedUser):
                return hit
        epoch, started = self._l1.epoch, trio.current_time()
        snapshot = await self._users.get(str(user_id))
        if snapshot is None:
            row = await self._read(users_repo.get, user_id)
            if row is None:
                return None
            snapshot = CachedUser.of(row)
            await self._share(self._users, str(user_id), snapshot, epoch, started)
        self._remember(ident, snapshot, user_id, epoch)
        return snapshot

    async def _read(self, fn: Callable[[Connection, A], T], arg: A) -> T:
        try:
            return await self.db.read(fn, arg)
        except StorageError as exc:
            log.warning("cannot validate credentials: %s", exc)
            raise AuthError(503, "cannot validate credentials right now; retry shortly") from exc

    async def _share(
        self, cache: TypedCache[T], ident: str, value: T, epoch: int, started: float
    ) -> None:
        # a slow load or one that raced with an invalidation must not write a stale entry
        if self._l1.epoch == epoch and trio.current_time() - started < MAX_FILL_SECONDS:
            await cache.set(ident, value, self.validation_ttl)

    def _remember(
        self,
        ident: str,
        value: CachedKey | CachedUser,
        user_id: int | None,
        epoch: int,
        ttl: float | None = None,
    ) -> None:
        if self._l1_usable():
            self._l1.put(
                ident, value, user_id=user_id, now=trio.current_time(), epoch=epoch, ttl=ttl
            )

    # --- invalidation --------------------------------------------------------------------

    async def invalidate(
        self, *, user_ids: Sequence[int] = (), key_hashes: Sequence[str] = ()
    ) -> bool:
        """Forget cached validations here at once, in the shared cache, and on every instance.

        False when Redis could not be told (then retried in the background until it answers
        or `validation_ttl` has passed, after which no stale shared entry can be left)."""
        users, keys = list(user_ids), list(key_hashes)
        if not users and not keys:
            return True
        message = json.dumps({"u": users, "k": keys}).encode()
        self._apply(message)
        delivered = await self._forget_shared(message)
        if not isinstance(self.cache, RedisCache):
            return delivered
        now = trio.current_time()
        if self._repeats is not None:
            try:
                self._repeats.send_nowait((now + REPEAT_AFTER, now + self.validation_ttl, message))
                return delivered
            except trio.WouldBlock:
                pass
        await trio.sleep(REPEAT_AFTER)  # no listener in this process (the CLI): repeat inline
        delivered = await self._forget_shared(message) and delivered
        if not delivered:
            log.warning(
                "could not reach Redis to invalidate cached validations; other instances may"
                " accept the old credential for up to cache.validation_ttl (%s s)",
                self.validation_ttl,
            )
        return delivered

    async def _forget_shared(self, message: bytes) -> bool:
        """Delete the shared entries and announce; False if the backend failed meanwhile."""
        errors = self.cache.statistics().errors
        data = json.loads(message)
        for uid in data["u"]:
            await self._users.delete(str(uid))
        for key_hash in data["k"]:
            await self._keys.delete(key_hash)
        await self.cache.publish(CHANNEL, message)
        return self.cache.statistics().errors == errors

    def _apply(self, message: bytes | None) -> None:
        """Handle one invalidation message; None (listener reconnected) drops everything."""
        if message is None:
            self._l1.clear()
            return
        try:
            data = json.loads(message)
            users = [int(u) for u in data.get("u", [])]
            keys = [str(k) for k in data.get("k", [])]
        except (ValueError, TypeError, AttributeError):
            log.warning("unreadable invalidation message; dropping every cached validation")
            self._l1.clear()
            return
        self._l1.drop([*keys, *(f"u{u}" for u in users)], users)

    async def run_invalidation_listener(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Apply other instances' invalidations until cancelled (one per process), and repeat
        this instance's own ones a moment later (see the module docstring)."""
        send, receive = trio.open_memory_channel[Repeat](1000)
        async with trio.open_nursery() as nursery:
            await nursery.start(self.cache.run_listener, CHANNEL, self._apply)
            nursery.start_soon(self._run_repeats, receive)
            self._repeats = send
            try:
                task_status.started()
                await trio.sleep_forever()
            finally:
                self._repeats = None

    async def _run_repeats(self, receive: trio.MemoryReceiveChannel[Repeat]) -> None:
        async for due, give_up, message in receive:
            await trio.sleep_until(due)
            if await self._forget_shared(message) or trio.current_time() >= give_up:
                continue
            try:  # Redis is away: keep trying while a stale shared entry could still live
                assert self._repeats is not None
                self._repeats.send_nowait((trio.current_time() + RETRY_AFTER, give_up, message))
            except trio.WouldBlock:
                log.warning("invalidation retry queue full; dropping one retry")

    # --- tokens -------------------------------------------------------------------------

    def verify_token(self, token: str) -> AccessClaims:
        """Verify an access token against the configured secret and algorithm."""
        return verify_access_token(
            token, secret=self._secret, algorithm=self.jwt.algorithm, now=self.now().timestamp()
        )

    def mint_token(
        self, user_id: int, *, session_id: str | None = None, ttl: int | None = None
    ) -> tuple[str, AccessClaims]:
        """A new access token for `user_id` (`jwt.access_token_ttl` unless `ttl`)."""
        return mint_access_token(
            secret=self._secret,
            algorithm=self.jwt.algorithm,
            user_id=user_id,
            ttl=ttl or self.jwt.access_token_ttl,
            now=self.now().timestamp(),
            session_id=session_id,
        )

    def hash_key(self, key: str) -> str:
        """The stored form of an API key."""
        return hash_api_key(key, self._pepper)

    def csrf_token(self, session_id: str) -> str:
        """The CSRF token of a browser session."""
        return csrf_token_for(self._csrf_key, session_id)

    def csrf_valid(self, session_id: str | None, submitted: str | None, cookie: str | None) -> bool:
        """Double submit, signed: the submitted value equals the cookie and the session's token."""
        if not session_id or not submitted or not cookie:
            return False
        expected = self.csrf_token(session_id)
        return constant_time_equals(submitted, cookie) and constant_time_equals(submitted, expected)

    def statistics(self) -> dict[str, int | bool]:
        """L1 size and whether it is in use (for /health and tests)."""
        return {"l1_entries": len(self._l1), "l1_usable": self._l1_usable()}

    def __repr__(self) -> str:
        return f"<AuthService l1={len(self._l1)} usable={self._l1_usable()}>"


def _is_bearer(name: bytes, value: bytes) -> bool:
    return name == b"authorization" and value[:7].lower() == b"bearer "
