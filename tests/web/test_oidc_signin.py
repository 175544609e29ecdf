"""Sign-in against a real OpenID Connect provider (oidc-provider-mock), browser and API style."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import sqlalchemy as sa

from storage.cache import MemoryCache
from storage.database import Database
from storage.schema import audit_logs, users
from tests.oidc import OidcProvider
from tests.web.conftest import IdentityApp, identity_settings, open_identity_app
from web.config import OAuthConfig, OAuthProviderConfig, ServerConfig

pytestmark = pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning")

ME_FIELDS = {
    "id",
    "email",
    "email_verified",
    "display_name",
    "provider",
    "state",
    "is_admin",
    "created_at",
    "updated_at",
    "last_login_at",
    "auth_method",
}


def providers(idp: OidcProvider) -> OAuthConfig:
    return OAuthConfig(
        providers={
            # GitHub/GitLab-style: the user id is a JSON number in a custom claim
            "numeric": OAuthProviderConfig(
                type="custom",
                client_id="numeric-client",
                client_secret="numeric-secret",
                issuer=idp.url,
                user_id_field="numeric_id",
            ),
            "strid": OAuthProviderConfig(
                type="custom",
                client_id="string-client",
                client_secret="string-secret",
                issuer=idp.url,
            ),
        }
    )


@pytest.fixture
async def signin_app(
    db: Database, tmp_path: Path, oidc_provider: OidcProvider
) -> AsyncIterator[IdentityApp]:
    settings = identity_settings(oauth=providers(oidc_provider))
    async with open_identity_app(db, MemoryCache(max_entries=1000), tmp_path, settings) as app:
        yield app


def new_user(idp: OidcProvider, **claims: Any) -> tuple[str, str]:
    """A provider user; returns (sub, email)."""
    sub = f"user-{uuid.uuid4().hex[:10]}"
    email = f"{sub}@example.com"
    idp.set_user(sub, {"email": email, "email_verified": True, "name": f"Name {sub}", **claims})
    return sub, email


def cookies_of(response: Any) -> dict[str, dict[str, str]]:
    """Set-Cookie headers by name: {"value": ..., "path": ..., "httponly": "", ...}."""
    found: dict[str, dict[str, str]] = {}
    for header in response.headers.getlist("Set-Cookie"):
        name_value, *attributes = [part.strip() for part in header.split(";")]
        name, _, value = name_value.partition("=")
        attrs_ = {"value": value}
        for attribute in attributes:
            key, _, val = attribute.partition("=")
            attrs_[key.lower()] = val
        found[name] = attrs_
    return found


async def start_browser_flow(
    app: IdentityApp, client: Any, idp: OidcProvider, provider: str, sub: str
) -> tuple[str, list[str]]:
    """Authorize at our proxy and at the provider; returns (callback path+query, Locations)."""
    started = await client.get(f"/auth/authorize/{provider}")
    assert started.status_code == 302
    authorization_url = started.headers["Location"]
    query = parse_qs(urlsplit(authorization_url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert len(query["code_challenge"][0]) >= 43
    assert query["redirect_uri"] == [f"http://localhost/auth/callback/{provider}"]
    back = await idp.authorize(authorization_url, sub)
    parts = urlsplit(back)
    assert parts.path == f"/auth/callback/{provider}"
    return f"{parts.path}?{parts.query}", [authorization_url, back]


@pytest.mark.parametrize(
    ("provider", "claims", "expected_id"),
    [("numeric", {"numeric_id": 4_200_000_017}, "4200000017"), ("strid", {}, None)],
)
async def test_browser_sign_in_ends_in_cookies(
    signin_app: IdentityApp,
    oidc_provider: OidcProvider,
    provider: str,
    claims: dict[str, Any],
    expected_id: str | None,
) -> None:
    app = signin_app
    sub, email = new_user(oidc_provider, **claims)
    callback, locations = await start_browser_flow(app, app.client, oidc_provider, provider, sub)
    done = await app.client.get(callback)
    assert done.status_code == 302
    assert done.headers["Location"] == "/"
    locations.append(done.headers["Location"])

    set_cookies = cookies_of(done)
    access, refresh, csrf = (set_cookies[n] for n in ("bsp_access", "bsp_refresh", "bsp_csrf"))
    assert "httponly" in access and "httponly" in refresh and "httponly" not in csrf
    assert access["path"] == "/" and refresh["path"] == "/auth" and csrf["path"] == "/"
    assert all(c["samesite"] == "Lax" for c in (access, refresh, csrf))
    assert not any("secure" in c for c in (access, refresh, csrf))  # plain http, auto mode
    assert set_cookies["bsp_oauth"]["max-age"] == "0"  # the binding nonce is spent
    for location in locations:  # no token, ever, in any URL
        for secret in (access["value"], refresh["value"], csrf["value"]):
            assert secret not in location
        assert "token" not in location.lower()

    me = await app.client.get("/auth/me")
    assert me.status_code == 200
    body = await me.get_json()
    assert set(body) == ME_FIELDS  # no provider tokens, no internal fields
    assert body["email"] == email
    assert body["auth_method"] == "session"
    assert body["provider"] == provider

    row = await app.services.db.read(
        lambda c: c.execute(sa.select(users).where(users.c.id == body["id"])).one()
    )
    assert row.provider_user_id == (expected_id or sub)
    assert row.email_verified is True


async def test_same_user_signs_in_twice(
    signin_app: IdentityApp, oidc_provider: OidcProvider
) -> None:
    app = signin_app
    sub, _ = new_user(oidc_provider, numeric_id=77)
    ids = []
    for _ in range(2):
        browser = app.new_client()
        callback, _ = await start_browser_flow(app, browser, oidc_provider, "numeric", sub)
        assert (await browser.get(callback)).status_code == 302
        ids.append((await (await browser.get("/auth/me")).get_json())["id"])
    assert ids[0] == ids[1]


async def test_state_is_single_use(signin_app: IdentityApp, oidc_provider: OidcProvider) -> None:
    app = signin_app
    sub, _ = new_user(oidc_provider)
    callback, _ = await start_browser_flow(app, app.client, oidc_provider, "strid", sub)
    assert (await app.client.get(callback)).status_code == 302
    replay = await app.client.get(callback)
    assert replay.status_code == 400
    assert "bsp_access" not in cookies_of(replay)
    assert "already used" in (await replay.get_data(as_text=True))


async def test_state_from_another_browser_is_refused(
    signin_app: IdentityApp, oidc_provider: OidcProvider
) -> None:
    app = signin_app
    sub, _ = new_user(oidc_provider)
    callback, _ = await start_browser_flow(app, app.client, oidc_provider, "strid", sub)
    stranger = app.new_client()  # no binding cookie at all
    refused = await stranger.get(callback)
    assert refused.status_code == 400
    assert "bsp_access" not in cookies_of(refused)
    # the state was spent by the attempt: the victim's own browser cannot use it either
    assert (await app.client.get(callback)).status_code == 400

    # a browser with its own, different binding cookie is refused too
    callback, _ = await start_browser_flow(app, app.client, oidc_provider, "strid", sub)
    other = app.new_client()
    await start_browser_flow(app, other, oidc_provider, "strid", sub)  # gets its own cookie
    refused = await other.get(callback)
    assert refused.status_code == 400
    assert "another browser" in (await refused.get_data(as_text=True))
    assert (await other.get("/auth/me")).status_code == 401


async def test_wrong_redirect_uri_is_refused(
    signin_app: IdentityApp, oidc_provider: OidcProvider
) -> None:
    app = signin_app
    sub, _ = new_user(oidc_provider)
    # 1. asking us for another redirect URI
    asked = await app.client.get("/auth/authorize/strid?redirect_uri=https://evil.example/cb")
    assert asked.status_code == 400
    asked = await app.client.get(
        "/auth/authorize/strid?format=json&redirect_uri=https://evil.example/cb"
    )
    assert asked.status_code == 400
    assert (await asked.get_json())["error"]["code"] == "bad_request"

    # 2. a code the provider issued for another redirect URI (intercepted elsewhere)
    started = await app.client.get("/auth/authorize/strid")
    parts = urlsplit(started.headers["Location"])
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    query["redirect_uri"] = "https://evil.example/callback"
    evil_url = urlunsplit(parts._replace(query=urlencode(query)))
    back = urlsplit(await oidc_provider.authorize(evil_url, sub))
    assert back.netloc == "evil.example"
    refused = await app.client.get(f"/auth/callback/strid?{back.query}")
    assert refused.status_code == 400
    assert "bsp_access" not in cookies_of(refused)
    assert "identity provider refused" in await refused.get_data(as_text=True)  # invalid_grant

    # 3. the callback reached under another origin than the flow started with
    callback, _ = await start_browser_flow(app, app.client, oidc_provider, "strid", sub)
    moved = await app.client.get(callback, headers={"Host": "other.example"})
    assert moved.status_code == 400
    assert "bsp_access" not in cookies_of(moved)


async def test_secure_cookies_on_https(
    sqlite_db: Database, tmp_path: Path, oidc_provider: OidcProvider
) -> None:
    settings = identity_settings(
        oauth=providers(oidc_provider),
        server=ServerConfig(public_url="https://proxy.example.com/llm"),
    )
    async with open_identity_app(
        sqlite_db, MemoryCache(max_entries=100), tmp_path, settings
    ) as app:
        sub, _ = new_user(oidc_provider)
        started = await app.client.get("/auth/authorize/strid", scheme="https")
        assert "secure" in cookies_of(started)["bsp_oauth"]
        assert cookies_of(started)["bsp_oauth"]["path"] == "/llm/auth"
        location = started.headers["Location"]
        assert parse_qs(urlsplit(location).query)["redirect_uri"] == [
            "https://proxy.example.com/llm/auth/callback/strid"
        ]
        back = urlsplit(await oidc_provider.authorize(location, sub))
        done = await app.client.get(f"/auth/callback/strid?{back.query}", scheme="https")
        assert done.status_code == 302
        assert done.headers["Location"] == "/llm/"
        set_cookies = cookies_of(done)
        assert all("secure" in set_cookies[n] for n in ("bsp_access", "bsp_refresh", "bsp_csrf"))
        assert set_cookies["bsp_refresh"]["path"] == "/llm/auth"


async def test_api_client_flow(signin_app: IdentityApp, oidc_provider: OidcProvider) -> None:
    app = signin_app
    sub, email = new_user(oidc_provider, numeric_id=31337)
    started = await app.client.get(
        "/auth/authorize/numeric", headers={"Accept": "application/json"}
    )
    assert started.status_code == 200
    flow = await started.get_json()
    assert set(flow) >= {"authorization_url", "state", "state_binding", "redirect_uri"}
    assert "Set-Cookie" not in started.headers
    back = urlsplit(await oidc_provider.authorize(flow["authorization_url"], sub))
    code = parse_qs(back.query)["code"][0]

    # the callback, opened in the user's browser, only shows the code (state not consumed)
    page = await app.new_client().get(f"/auth/callback/numeric?{back.query}")
    assert page.status_code == 200
    assert code in await page.get_data(as_text=True)
    assert "bsp_access" not in cookies_of(page)

    exchange = {
        "provider": "numeric",
        "code": code,
        "state": flow["state"],
        "state_binding": flow["state_binding"],
    }
    wrong = await app.client.post("/auth/token", json={**exchange, "state_binding": "nope"})
    assert wrong.status_code == 400  # and the state is spent: start again
    started = await app.client.get("/auth/authorize/numeric?format=json")
    flow = await started.get_json()
    back = urlsplit(await oidc_provider.authorize(flow["authorization_url"], sub))
    exchange = {
        "provider": "numeric",
        "code": parse_qs(back.query)["code"][0],
        "state": flow["state"],
        "state_binding": flow["state_binding"],
        "redirect_uri": flow["redirect_uri"],
    }
    tokens = await app.client.post("/auth/token", json=exchange)
    assert tokens.status_code == 200
    body = await tokens.get_json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert "Set-Cookie" not in tokens.headers
    me = await app.new_client().get(
        "/auth/me", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert (await me.get_json())["email"] == email
    again = await app.client.post("/auth/token", json=exchange)
    assert again.status_code == 400


async def test_token_exchange_validates_input(signin_app: IdentityApp) -> None:
    client = signin_app.client
    assert (await client.post("/auth/token", data=b"\xff\xfe")).status_code == 400
    assert (await client.post("/auth/token", data=b"{not json")).status_code == 400
    assert (await client.post("/auth/token", json=[1, 2])).status_code == 400
    missing = await client.post("/auth/token", json={"provider": "strid"})
    assert missing.status_code == 400
    assert "code is required" in (await missing.get_json())["error"]["message"]
    unknown = await client.post(
        "/auth/token", json={"provider": "x", "code": "c", "state": "s", "state_binding": "b"}
    )
    assert unknown.status_code in (400, 404)


async def test_provider_error_and_unknown_provider(
    signin_app: IdentityApp, oidc_provider: OidcProvider
) -> None:
    app = signin_app
    started = await app.client.get("/auth/authorize/strid")
    state = parse_qs(urlsplit(started.headers["Location"]).query)["state"][0]
    denied = await app.client.get(
        f"/auth/callback/strid?error=access_denied&error_description=no&state={state}"
    )
    assert denied.status_code == 400
    text = await denied.get_data(as_text=True)
    assert "access_denied" in text and "Traceback" not in text
    assert (await app.client.get("/auth/authorize/nope")).status_code == 404
    assert (await app.client.get("/auth/authorize/nope?format=json")).status_code == 404
    xss = await app.client.get("/auth/callback/strid?error=<script>alert(1)</script>&state=x")
    assert "<script>" not in await xss.get_data(as_text=True)

    listed = await (await app.client.get("/auth/providers")).get_json()
    assert {p["name"] for p in listed["providers"]} == {"numeric", "strid"}
    assert all("client_secret" not in p for p in listed["providers"])

    rows = await app.services.db.read(
        lambda c: c.execute(sa.select(audit_logs).where(audit_logs.c.event_type == "login")).all()
    )
    reasons = {r._mapping["metadata"].get("reason") for r in rows if not r.success}
    assert "provider:access_denied" in reasons


async def test_login_success_and_failure_are_audited(
    signin_app: IdentityApp, oidc_provider: OidcProvider
) -> None:
    app = signin_app
    sub, _ = new_user(oidc_provider)
    callback, _ = await start_browser_flow(app, app.client, oidc_provider, "strid", sub)
    await app.client.get(callback)
    await app.client.get(callback)  # replay
    rows = await app.services.db.read(
        lambda c: c.execute(
            sa.select(audit_logs)
            .where(audit_logs.c.event_type == "login")
            .order_by(audit_logs.c.id)
        ).all()
    )
    assert [r.success for r in rows][-2:] == [True, False]
    for row in rows:
        meta = row._mapping["metadata"]
        assert isinstance(meta, dict)
        assert meta["provider"] == "strid"
        assert not any(k in meta for k in ("code", "state", "access_token", "refresh_token"))


async def test_disabled_user_cannot_sign_in(
    signin_app: IdentityApp, oidc_provider: OidcProvider
) -> None:
    app = signin_app
    sub, _ = new_user(oidc_provider)
    callback, _ = await start_browser_flow(app, app.client, oidc_provider, "strid", sub)
    await app.client.get(callback)
    me = await (await app.client.get("/auth/me")).get_json()
    from web.auth.audit import ClientInfo

    await app.identity.users.set_state(me["id"], "disabled", actor_id=None, client=ClientInfo())
    browser = app.new_client()
    callback, _ = await start_browser_flow(app, browser, oidc_provider, "strid", sub)
    refused = await browser.get(callback)
    assert refused.status_code == 403
    assert "bsp_access" not in cookies_of(refused)


async def test_unreachable_provider_is_a_clear_error(sqlite_db: Database, tmp_path: Path) -> None:
    from tests.servers import free_port

    dead = f"http://127.0.0.1:{free_port()}"
    settings = identity_settings(
        oauth=OAuthConfig(
            providers={"down": OAuthProviderConfig(type="custom", client_id="c", issuer=dead)}
        )
    )
    async with open_identity_app(sqlite_db, MemoryCache(max_entries=10), tmp_path, settings) as app:
        page = await app.client.get("/auth/authorize/down")
        assert page.status_code == 502
        assert "identity provider" in await page.get_data(as_text=True)
        as_json = await app.client.get("/auth/authorize/down?format=json")
        assert as_json.status_code == 502
        assert (await as_json.get_json())["error"]["code"] == "bad_gateway"
