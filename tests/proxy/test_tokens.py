"""Access tokens, API keys and the other credential helpers, as pure functions."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import given
from hypothesis import strategies as st

from proxy.errors import ExpiredToken, InvalidToken
from proxy.tokens import (
    api_key_hint,
    api_key_pepper,
    csrf_key,
    csrf_token_for,
    generate_api_key,
    hash_api_key,
    looks_like_api_key,
    mint_access_token,
    verify_access_token,
)

SECRET = "s" * 64  # long enough for HS512 too: only the algorithm differs
NOW = 1_800_000_000.0


def claims(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"sub": "42", "iat": int(NOW) - 10, "exp": int(NOW) + 3600, "jti": "j1"}
    base.update(overrides)
    return {k: v for k, v in base.items() if v is not None}


def b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def verify(token: str, now: float = NOW) -> Any:
    return verify_access_token(token, secret=SECRET, algorithm="HS256", now=now)


def test_round_trip() -> None:
    token, minted = mint_access_token(
        secret=SECRET, algorithm="HS256", user_id=42, ttl=600, now=NOW, session_id="fam"
    )
    got = verify(token)
    assert got == minted
    assert got.user_id == 42 and got.session_id == "fam"
    assert got.expires_at - got.issued_at == 600
    assert jwt.get_unverified_header(token)["alg"] == "HS256"


def test_alg_none_is_refused() -> None:
    unsigned = f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims())}."
    with pytest.raises(InvalidToken):
        verify(unsigned)
    with pytest.raises(InvalidToken):
        verify(f"{b64({'alg': 'None'})}.{b64(claims())}.")


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
def test_other_hmac_algorithms_are_refused(algorithm: str) -> None:
    # same secret, so only the algorithm differs
    with pytest.raises(InvalidToken, match="algorithm"):
        verify(jwt.encode(claims(), SECRET, algorithm=algorithm))


def test_rs256_is_refused() -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with pytest.raises(InvalidToken):
        verify(jwt.encode(claims(), key, algorithm="RS256"))


def test_wrong_secret_and_tampering_are_refused() -> None:
    with pytest.raises(InvalidToken, match="signature"):
        verify(jwt.encode(claims(), "another-secret-" + "x" * 30, algorithm="HS256"))
    header, payload, signature = jwt.encode(claims(), SECRET, algorithm="HS256").split(".")
    forged = b64(claims(sub="1"))  # become user 1, keep the signature
    with pytest.raises(InvalidToken):
        verify(f"{header}.{forged}.{signature}")
    with pytest.raises(InvalidToken):
        verify(f"{header}.{payload}.{signature[:-2]}AA")


def test_expiry_has_zero_leeway() -> None:
    token = jwt.encode(claims(exp=int(NOW)), SECRET, algorithm="HS256")
    with pytest.raises(ExpiredToken):
        verify(token)  # exactly at exp
    token = jwt.encode(claims(exp=int(NOW) - 1), SECRET, algorithm="HS256")
    with pytest.raises(ExpiredToken):
        verify(token)  # expired by one second
    assert verify(jwt.encode(claims(exp=int(NOW) + 1), SECRET, algorithm="HS256"), NOW)


def test_not_yet_valid_is_refused() -> None:
    with pytest.raises(InvalidToken, match="future"):
        verify(jwt.encode(claims(iat=int(NOW) + 1), SECRET, algorithm="HS256"))
    with pytest.raises(InvalidToken, match="not yet"):
        verify(jwt.encode(claims(nbf=int(NOW) + 1), SECRET, algorithm="HS256"))


@pytest.mark.parametrize("missing", ["exp", "iat", "sub", "jti"])
def test_required_claims(missing: str) -> None:
    token = jwt.encode(claims(**{missing: None}), SECRET, algorithm="HS256")
    with pytest.raises(InvalidToken):
        verify(token)


@pytest.mark.parametrize("sub", ["abc", "-1", "1.5", "", "1" * 30])
def test_subject_must_be_a_user_id(sub: str) -> None:
    with pytest.raises(InvalidToken):
        verify(jwt.encode(claims(sub=sub), SECRET, algorithm="HS256"))


@given(st.text(max_size=300))
def test_garbage_only_ever_raises_invalid_token(text: str) -> None:
    with pytest.raises(InvalidToken):
        verify(text)


@given(st.binary(max_size=200))
def test_garbage_jwt_segments(raw: bytes) -> None:
    segment = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    with pytest.raises(InvalidToken):
        verify(f"{b64({'alg': 'HS256'})}.{segment}.{segment}")


def test_api_keys() -> None:
    key = generate_api_key()
    assert re.fullmatch(r"SSOK_[A-Za-z0-9_\-]{43}", key)
    assert looks_like_api_key(key)
    assert not looks_like_api_key("SSOK_short")
    assert not looks_like_api_key("sk-ant-" + "x" * 40)
    assert generate_api_key() != key
    hint = api_key_hint(key)
    assert hint == f"{key[:9]}…{key[-4:]}"
    pepper = api_key_pepper(None, SECRET)
    digest = hash_api_key(key, pepper)
    assert re.fullmatch(r"[0-9a-f]{64}", digest)
    assert key not in digest
    # the pepper: hash_secret if set, else derived from the JWT secret
    assert api_key_pepper("explicit", SECRET) == b"explicit"
    assert hash_api_key(key, api_key_pepper(None, "t" * 40)) != digest


def test_csrf_tokens_are_bound_to_the_session() -> None:
    key = csrf_key(SECRET)
    assert csrf_token_for(key, "a") == csrf_token_for(key, "a")
    assert csrf_token_for(key, "a") != csrf_token_for(key, "b")
    assert csrf_token_for(csrf_key("t" * 40), "a") != csrf_token_for(key, "a")
