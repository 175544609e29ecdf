"""Credentials as pure functions: access JWTs, API keys, refresh tokens, CSRF and OAuth binding.

Nothing here reads a clock or does I/O: callers pass `now` (Unix seconds) and secrets in.

API keys are stored only as HMAC-SHA256(pepper, key). The pepper is `api_keys.hash_secret`
when set, else derived from `jwt.secret`; so rotating `jwt.secret` without a `hash_secret`
invalidates every API key.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from typing import Any

import attrs
import jwt

from proxy.errors import ExpiredToken, InvalidToken

API_KEY_PREFIX = "SSOK_"
API_KEY_RANDOM_BYTES = 32  # token_urlsafe(32) gives 43 characters
_API_KEY_SHAPE = re.compile(r"SSOK_[A-Za-z0-9_\-]{32,128}")
MAX_TOKEN_CHARS = 4096
REQUIRED_CLAIMS = ("exp", "iat", "sub", "jti")

_PEPPER_LABEL = b"bedrock-sso-proxy/api-key-pepper/v1"
_CSRF_LABEL = b"bedrock-sso-proxy/csrf/v1"


@attrs.frozen
class AccessClaims:
    """The verified claims of an access token."""

    user_id: int
    jti: str
    issued_at: int
    expires_at: int
    session_id: str | None = None


def mint_access_token(
    *,
    secret: str,
    algorithm: str,
    user_id: int,
    ttl: int,
    now: float,
    session_id: str | None = None,
) -> tuple[str, AccessClaims]:
    """A signed access token for `user_id`, valid `ttl` seconds from `now`."""
    issued = int(now)
    claims = AccessClaims(
        user_id=user_id,
        jti=secrets.token_hex(16),
        issued_at=issued,
        expires_at=issued + ttl,
        session_id=session_id,
    )
    payload: dict[str, Any] = {
        "sub": str(user_id),
        "iat": claims.issued_at,
        "exp": claims.expires_at,
        "jti": claims.jti,
    }
    if session_id is not None:
        payload["sid"] = session_id
    return jwt.encode(payload, secret, algorithm=algorithm), claims


def verify_access_token(token: str, *, secret: str, algorithm: str, now: float) -> AccessClaims:
    """The claims of a valid token; `InvalidToken` (or `ExpiredToken`) otherwise.

    Exactly `algorithm` is accepted (never `none`), with zero leeway on `exp`, `nbf` and
    `iat`, and `exp`, `iat`, `sub` (a user id) and `jti` are required.
    """
    if len(token) > MAX_TOKEN_CHARS:
        raise InvalidToken("token too long")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.PyJWTError as exc:
        raise InvalidToken("malformed token") from exc
    if header.get("alg") != algorithm:
        raise InvalidToken("token algorithm not accepted")
    try:
        payload = jwt.decode(
            token,
            secret,
            algorithms=[algorithm],
            options={
                "require": list(REQUIRED_CLAIMS),
                "verify_exp": False,  # checked below against the caller's clock
                "verify_nbf": False,
                "verify_iat": False,
                "verify_aud": False,
                "verify_iss": False,
            },
        )
    except jwt.PyJWTError as exc:
        raise InvalidToken(_describe(exc)) from exc
    return _checked_claims(payload, now)


def _describe(exc: jwt.PyJWTError) -> str:
    if isinstance(exc, jwt.InvalidSignatureError):
        return "bad token signature"
    if isinstance(exc, jwt.MissingRequiredClaimError):
        return f"token lacks the {exc.claim!r} claim"
    return "invalid token"


def _int_claim(payload: dict[str, Any], name: str) -> int:
    value = payload.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidToken(f"token claim {name!r} must be a number")
    return int(value)


def _checked_claims(payload: dict[str, Any], now: float) -> AccessClaims:
    expires = _int_claim(payload, "exp")
    issued = _int_claim(payload, "iat")
    if now >= expires:
        raise ExpiredToken("token expired")
    if issued > now:
        raise InvalidToken("token issued in the future")
    if "nbf" in payload and _int_claim(payload, "nbf") > now:
        raise InvalidToken("token not yet valid")
    sub, jti, sid = payload.get("sub"), payload.get("jti"), payload.get("sid")
    if not isinstance(sub, str) or not sub.isascii() or not sub.isdigit() or len(sub) > 18:
        raise InvalidToken("token subject is not a user id")
    if not isinstance(jti, str) or not jti:
        raise InvalidToken("token id missing")
    if sid is not None and (not isinstance(sid, str) or not sid):
        raise InvalidToken("token session id malformed")
    return AccessClaims(
        user_id=int(sub), jti=jti, issued_at=issued, expires_at=expires, session_id=sid
    )


# --- API keys ---------------------------------------------------------------------------


def generate_api_key() -> str:
    """A new key: `SSOK_` and 43 URL-safe characters from the OS CSPRNG."""
    return API_KEY_PREFIX + secrets.token_urlsafe(API_KEY_RANDOM_BYTES)


def looks_like_api_key(value: str) -> bool:
    """True when `value` has the shape of one of our keys (cheap pre-check before hashing)."""
    return value.startswith(API_KEY_PREFIX) and _API_KEY_SHAPE.fullmatch(value) is not None


def api_key_pepper(hash_secret: str | None, jwt_secret: str) -> bytes:
    """The HMAC key for API key hashes (see the module docstring about rotation)."""
    if hash_secret:
        return hash_secret.encode()
    return hmac.new(jwt_secret.encode(), _PEPPER_LABEL, hashlib.sha256).digest()


def hash_api_key(key: str, pepper: bytes) -> str:
    """HMAC-SHA256(pepper, key) in hex: what the database stores and looks up."""
    return hmac.new(pepper, key.encode(), hashlib.sha256).hexdigest()


def api_key_hint(key: str) -> str:
    """`SSOK_abcd…wxyz`: enough to recognise a key, useless to use it."""
    return f"{key[: len(API_KEY_PREFIX) + 4]}…{key[-4:]}"


# --- refresh tokens, CSRF, OAuth state binding -------------------------------------------


def generate_refresh_token() -> str:
    """An opaque refresh token (256 bits)."""
    return secrets.token_urlsafe(32)


def generate_family_id() -> str:
    """The id of a refresh-token family (one sign-in session)."""
    return secrets.token_hex(16)


def sha256_hex(value: str) -> str:
    """SHA-256 of `value` in hex: how refresh tokens and OAuth binding nonces are stored."""
    return hashlib.sha256(value.encode()).hexdigest()


def csrf_key(jwt_secret: str) -> bytes:
    """The key CSRF tokens are derived with."""
    return hmac.new(jwt_secret.encode(), _CSRF_LABEL, hashlib.sha256).digest()


def csrf_token_for(key: bytes, session_id: str) -> str:
    """The CSRF token of a session: HMAC of its id, so a planted cookie cannot match it."""
    digest = hmac.new(key, session_id.encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def generate_nonce() -> str:
    """A random value for OAuth state, PKCE verifiers and browser binding."""
    return secrets.token_urlsafe(32)


def constant_time_equals(a: str, b: str) -> bool:
    """Compare two secrets without leaking where they differ."""
    return hmac.compare_digest(a.encode(), b.encode())
