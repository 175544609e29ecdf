"""Access tokens at the routes, refresh rotation and reuse detection, CSRF and logout."""

from __future__ import annotations

import base64
import json
import time
from typing import Any

import jwt
import pytest
import sqlalchemy as sa
from cryptography.hazmat.primitives.asymmetric import rsa

from storage.repos import refresh_tokens as refresh_repo
from storage.schema import audit_logs
from tests.web.conftest import JWT_SECRET, IdentityApp


def _b64(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def attack_tokens(user_id: int) -> dict[str, str]:
    now = int(time.time())
    good = {"sub": str(user_id), "iat": now - 10, "exp": now + 600, "jti": "attack"}
    header, _, signature = jwt.encode(good, JWT_SECRET, algorithm="HS256").split(".")
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return {
        "alg none": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(good)}.",
        "HS384": jwt.encode(good, JWT_SECRET + "x" * 16, algorithm="HS384"),
        "HS512": jwt.encode(good, JWT_SECRET + "x" * 16, algorithm="HS512"),
        "RS256": jwt.encode(good, rsa_key, algorithm="RS256"),
        "wrong secret": jwt.encode(good, "w" * 48, algorithm="HS256"),
        "expired 1 s": jwt.encode({**good, "exp": now - 1}, JWT_SECRET, algorithm="HS256"),
        "iat in future": jwt.encode({**good, "iat": now + 60}, JWT_SECRET, algorithm="HS256"),
        "nbf in future": jwt.encode({**good, "nbf": now + 60}, JWT_SECRET, algorithm="HS256"),
        "tampered": f"{header}.{_b64({**good, 'sub': str(user_id + 1)})}.{signature}",
        "no jti": jwt.encode({k: v for k, v in good.items() if k != "jti"}, JWT_SECRET),
        "garbage": "not.a.jwt",
    }


async def test_jwt_attacks_get_401(sqlite_identity_app: IdentityApp) -> None:
    app = sqlite_identity_app
    admin = await app.user(admin=True)
    ok = await app.client.get("/auth/me", headers=app.bearer(admin))
    assert ok.status_code == 200
    for name, token in attack_tokens(admin).items():
        for path in ("/auth/me", "/api/admin/users"):
            r = await app.client.get(path, headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 401, name
            body = await r.get_json()
            assert body["error"]["code"] == "unauthorized"
            assert r.headers["WWW-Authenticate"].startswith("Bearer")
        # the data plane's entry point refuses them the same way
        with pytest.raises(Exception, match="token") as raised:
            await app.services.auth.authenticate([(b"authorization", f"Bearer {token}".encode())])
        assert getattr(raised.value, "status", None) == 401, name


async def test_cookie_session_needs_csrf_for_unsafe_methods(
    sqlite_identity_app: IdentityApp,
) -> None:
    app = sqlite_identity_app
    alice = await app.user()
    csrf = await app.session(alice)
    assert (await app.client.get("/api/keys")).status_code == 200  # safe: no token needed
    refused = await app.client.post("/api/keys", json={"name": "k"})
    assert refused.status_code == 403
    assert "CSRF" in (await refused.get_json())["error"]["message"]
    wrong = await app.client.post("/api/keys", json={"name": "k"}, headers={"X-CSRF-Token": "x"})
    assert wrong.status_code == 403
    made = await app.client.post("/api/keys", json={"name": "k"}, headers=csrf)
    assert made.status_code == 201
    key_id = (await made.get_json())["id"]
    form = await app.client.delete(f"/api/keys/{key_id}", form={"csrf_token": csrf["X-CSRF-Token"]})
    assert form.status_code == 200
    # a bearer token needs no CSRF token, even with cookies around
    plain = await app.new_client().post("/api/keys", json={"name": "b"}, headers=app.bearer(alice))
    assert plain.status_code == 201


async def test_planted_csrf_cookie_does_not_help(sqlite_identity_app: IdentityApp) -> None:
    app = sqlite_identity_app
    alice = await app.user()
    await app.session(alice)
    app.client.set_cookie("localhost", "bsp_csrf", "attacker-chosen")
    refused = await app.client.post(
        "/api/keys", json={"name": "k"}, headers={"X-CSRF-Token": "attacker-chosen"}
    )
    assert refused.status_code == 403  # double submit is signed by the session


async def audit_events(app: IdentityApp, event_type: str) -> list[Any]:
    return await app.services.db.read(
        lambda c: c.execute(
            sa.select(audit_logs)
            .where(audit_logs.c.event_type == event_type)
            .order_by(audit_logs.c.id)
        ).all()
    )


async def test_refresh_rotates_and_reuse_revokes_the_family(identity_app: IdentityApp) -> None:
    app = identity_app
    alice = await app.user()
    row = await app.identity.users.get(alice)
    from web.auth import audit
    from web.auth.audit import AuditEvent

    first = await app.identity.sessions.start(row, AuditEvent(audit.LOGIN, True, alice))
    r = await app.client.post("/auth/refresh", json={"refresh_token": first.refresh_token})
    assert r.status_code == 200
    second = await r.get_json()
    assert second["refresh_token"] != first.refresh_token
    assert second["access_token"] != first.access_token
    me = await app.client.get(
        "/auth/me", headers={"Authorization": f"Bearer {second['access_token']}"}
    )
    assert me.status_code == 200

    # the first token again: theft detected, the whole family is revoked
    reused = await app.client.post("/auth/refresh", json={"refresh_token": first.refresh_token})
    assert reused.status_code == 401
    assert "already used" in (await reused.get_json())["error"]["message"]
    after = await app.client.post("/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert after.status_code == 401
    family = await app.services.db.read(refresh_repo.family_of, first.session_id)
    assert len(family) == 2 and all(t.revoked_at is not None for t in family)

    reuse_rows = await audit_events(app, "refresh_token_reuse")
    assert len(reuse_rows) == 1
    assert reuse_rows[0].user_id == alice and reuse_rows[0].success is False
    assert reuse_rows[0]._mapping["metadata"]["family_revoked"] is True
    refreshes = await audit_events(app, "token_refresh")
    assert [r.success for r in refreshes] == [True, False]  # the rotation, then "revoked"
    for row_ in [*reuse_rows, *refreshes]:
        text = json.dumps(row_._mapping["metadata"])
        assert first.refresh_token not in text and second["refresh_token"] not in text


async def test_refresh_input_errors(sqlite_identity_app: IdentityApp) -> None:
    client = sqlite_identity_app.client
    assert (await client.post("/auth/refresh")).status_code == 401  # no cookie, no body
    assert (await client.post("/auth/refresh", data=b"\xff")).status_code == 400
    assert (await client.post("/auth/refresh", json={"refresh_token": 5})).status_code == 400
    unknown = await client.post("/auth/refresh", json={"refresh_token": "nope"})
    assert unknown.status_code == 401
    huge = await client.post("/auth/refresh", json={"refresh_token": "x" * 5000})
    assert huge.status_code == 401


async def test_cookie_refresh_needs_csrf_and_rotates_cookies(
    sqlite_identity_app: IdentityApp,
) -> None:
    app = sqlite_identity_app
    alice = await app.user()
    csrf = await app.session(alice)
    refused = await app.client.post("/auth/refresh")
    assert refused.status_code == 403
    r = await app.client.post("/auth/refresh", headers=csrf)
    assert r.status_code == 200
    body = await r.get_json()
    assert "access_token" not in body and "refresh_token" not in body  # cookies only
    names = {h.split("=")[0] for h in r.headers.getlist("Set-Cookie")}
    assert names == {"bsp_access", "bsp_refresh", "bsp_csrf"}
    assert (await app.client.get("/auth/me")).status_code == 200


async def test_browser_refresh_redirect(sqlite_identity_app: IdentityApp) -> None:
    app = sqlite_identity_app
    alice = await app.user()
    await app.session(alice)
    r = await app.client.get("/auth/refresh?next=/usage?x=1")
    assert r.status_code == 302 and r.headers["Location"] == "/usage?x=1"
    for evil in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        await app.session(alice)
        r = await app.client.get(f"/auth/refresh?next={evil}")
        assert r.headers["Location"] == "/"
    await app.session(alice)
    cross = await app.client.get("/auth/refresh?next=/x", headers={"Sec-Fetch-Site": "cross-site"})
    assert cross.headers["Location"] == "/"
    anonymous = await app.new_client().get("/auth/refresh?next=/x")
    assert anonymous.status_code == 302 and anonymous.headers["Location"] == "/"


async def test_logout_revokes_the_family_and_clears_cookies(
    sqlite_identity_app: IdentityApp,
) -> None:
    app = sqlite_identity_app
    alice = await app.user()
    csrf = await app.session(alice)
    assert (await app.client.post("/auth/logout")).status_code == 403  # CSRF
    out = await app.client.post("/auth/logout", headers=csrf)
    assert out.status_code == 200
    assert (await out.get_json())["sessions_revoked"] == 1
    cleared = [h for h in out.headers.getlist("Set-Cookie") if "Max-Age=0" in h]
    assert {h.split("=")[0] for h in cleared} == {"bsp_access", "bsp_refresh", "bsp_csrf"}
    logouts = await audit_events(app, "logout")
    assert logouts[-1].user_id == alice and logouts[-1].success
    assert (await app.new_client().post("/auth/logout")).status_code == 401

    # an API client logs out with its refresh token
    row = await app.identity.users.get(alice)
    from web.auth import audit
    from web.auth.audit import AuditEvent

    issued = await app.identity.sessions.start(row, AuditEvent(audit.LOGIN, True, alice))
    api = app.new_client()
    gone = await api.post("/auth/logout", json={"refresh_token": issued.refresh_token})
    assert gone.status_code == 200
    again = await api.post("/auth/refresh", json={"refresh_token": issued.refresh_token})
    assert again.status_code == 401


async def test_pages_send_anonymous_browsers_to_sign_in(sqlite_db: Any, tmp_path: Any) -> None:
    from quart import Response

    from storage.cache import MemoryCache
    from tests.web.conftest import identity_settings, open_test_services
    from web.app import create_app
    from web.auth.quart import current_principal, require_admin, require_auth

    async with open_test_services(
        sqlite_db, MemoryCache(max_entries=100), tmp_path, identity_settings()
    ) as services:
        quart_app = create_app(services)

        @quart_app.get("/page")
        @require_auth(login_redirect="/signin")
        async def page() -> Response:
            return Response(f"hello {current_principal().user_id}")

        @quart_app.get("/admin-page")
        @require_admin(login_redirect="/signin")
        async def admin_page() -> Response:
            return Response("admin")

        async with quart_app.test_app() as test_app:
            client = test_app.test_client()
            r = await client.get("/page?tab=2")
            assert r.status_code == 302 and r.headers["Location"] == "/signin?next=/page%3Ftab%3D2"
            client.set_cookie("localhost", "bsp_csrf", "x")  # a session that may be renewed
            r = await client.get("/page")
            assert r.headers["Location"] == "/auth/refresh?next=/page"
            from web.auth import audit
            from web.auth.audit import AuditEvent, ClientInfo

            row, _ = await services.identity.users.create_local("p@example.com", None, ClientInfo())
            login = AuditEvent(audit.LOGIN, True, row.id)
            issued = await services.identity.sessions.start(row, login)
            client.set_cookie("localhost", "bsp_access", issued.access_token)
            assert (await client.get("/page")).status_code == 200
            assert (await client.get("/admin-page")).status_code == 403
