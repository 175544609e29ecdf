"""Every route of the Quart app, by who asks: anonymous, a user, another user, an admin.

The route list comes from the app itself, so a route added later is covered automatically:
unless it is listed in PUBLIC below (deliberately, with a reason), an anonymous request to
it must get 401. Add to PUBLIC only routes that must work before sign-in.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.web.conftest import IdentityApp
from web.auth.quart import AUTH_MARK
from web.ui import PAGE_MARK

# (rule, method): why it is public
PUBLIC: dict[tuple[str, str], str] = {
    ("/health", "GET"): "liveness probe",
    ("/health/ready", "GET"): "readiness probe",
    ("/auth/providers", "GET"): "the sign-in page lists providers",
    ("/auth/authorize/<provider>", "GET"): "starts sign-in",
    ("/auth/callback/<provider>", "GET"): "the provider sends the browser back",
    ("/auth/token", "POST"): "API clients exchange a sign-in code (state-bound)",
    ("/auth/refresh", "GET"): "renews a browser session from its refresh cookie",
    ("/static/<path:filename>", "GET"): "static files",
    ("/", "GET"): "the start page: sends a browser to its overview or to sign in",
    ("/sign-in", "GET"): "the sign-in page",
    ("/docs", "GET"): "the API docs page (Swagger UI)",
    ("/docs/assets/<name>", "GET"): "Swagger UI's own files",
    ("/openapi.json", "GET"): "the API description",
    ("/openapi.yaml", "GET"): "the API description",
    ("/docs/openapi.json", "GET"): "the API description",
    ("/docs/openapi.yaml", "GET"): "the API description",
}
SKIPPED_METHODS = {"HEAD", "OPTIONS"}


def routes(app: IdentityApp) -> list[tuple[str, str, str]]:
    """(rule, method, endpoint) for every route the app serves."""
    found = []
    for rule in app.app.url_map.iter_rules():
        for method in sorted((rule.methods or set()) - SKIPPED_METHODS):
            found.append((rule.rule, method, rule.endpoint))
    return found


def concrete(rule: str, values: dict[str, Any]) -> str:
    path = rule
    for name, value in values.items():
        path = path.replace(f"<{name}>", str(value))
    return path.replace("<path:filename>", "nothing.txt")


async def call(app: IdentityApp, client: Any, method: str, path: str, **kwargs: Any) -> Any:
    body = {} if method in ("POST", "PUT", "PATCH") else None
    return await client.open(path, method=method, json=body, **kwargs)


@pytest.fixture
async def people(sqlite_identity_app: IdentityApp) -> dict[str, Any]:
    app = sqlite_identity_app
    alice, bob, admin = await app.user(), await app.user(), await app.user(admin=True)
    alice_key_id, alice_key = await app.key(alice)
    bob_key_id, _ = await app.key(bob)
    return {
        "alice": alice,
        "bob": bob,
        "admin": admin,
        "alice_key": alice_key,
        "alice_key_id": alice_key_id,
        "bob_key_id": bob_key_id,
    }


async def test_anonymous_gets_401_everywhere_but_public_routes(
    sqlite_identity_app: IdentityApp, people: dict[str, Any]
) -> None:
    app = sqlite_identity_app
    values = {"key_id": people["alice_key_id"], "user_id": people["alice"], "provider": "none"}
    checked = 0
    for rule, method, endpoint in routes(app):
        if (rule, method) in PUBLIC:
            continue
        view = app.app.view_functions[endpoint]
        assert getattr(view, AUTH_MARK, None), f"{method} {rule} has no @require_auth"
        r = await call(app, app.new_client(), method, concrete(rule, values))
        if getattr(view, PAGE_MARK, False):  # web UI pages send browsers to sign in
            assert r.status_code == 302, f"{method} {rule} answered {r.status_code} to anonymous"
            assert r.headers["Location"].startswith("/sign-in"), rule
            continue
        assert r.status_code == 401, f"{method} {rule} answered {r.status_code} to anonymous"
        checked += 1
    assert checked >= 10
    stale = set(PUBLIC) - {(rule, method) for rule, method, _ in routes(app)}
    assert not stale - {("/static/<path:filename>", "GET")}, f"PUBLIC lists gone routes: {stale}"


@pytest.mark.parametrize("credential", ["jwt", "api_key", "session"])
async def test_users_reach_their_routes_and_not_admin_ones(
    sqlite_identity_app: IdentityApp, people: dict[str, Any], credential: str
) -> None:
    app = sqlite_identity_app
    client = app.new_client()
    if credential == "jwt":
        headers = app.bearer(people["alice"])
    elif credential == "api_key":
        headers = {"X-API-Key": people["alice_key"]}
    else:
        headers = await app.session(people["alice"], client)
    values = {"key_id": "999999", "user_id": people["bob"], "provider": "none"}
    for rule, method, endpoint in routes(app):
        mark = getattr(app.app.view_functions[endpoint], AUTH_MARK, None)
        if (rule, method) in PUBLIC or mark not in ("user", "admin"):
            continue  # routes with their own credential (refresh token): tests/web/test_sessions.py
        r = await call(app, client, method, concrete(rule, values), headers=headers)
        admin_only = mark == "admin"
        assert admin_only == rule.startswith(("/api/admin/", "/admin/")), rule
        if admin_only:
            assert r.status_code == 403, f"{method} {rule}: {r.status_code} for a non-admin"
        else:
            assert r.status_code not in (401, 403), f"{method} {rule}: {r.status_code}"


async def test_admin_reaches_admin_routes(
    sqlite_identity_app: IdentityApp, people: dict[str, Any]
) -> None:
    app = sqlite_identity_app
    headers = app.bearer(people["admin"])
    values = {"key_id": "999999", "user_id": people["bob"], "provider": "none"}
    for rule, method, _ in routes(app):
        if not rule.startswith(("/api/admin/", "/admin/")):
            continue
        r = await call(app, app.client, method, concrete(rule, values), headers=headers)
        assert r.status_code not in (401, 403), f"{method} {rule}: {r.status_code}"
    keys = await app.client.get(f"/api/admin/users/{people['bob']}/keys", headers=headers)
    assert [k["id"] for k in (await keys.get_json())["keys"]] == [people["bob_key_id"]]


async def test_users_see_only_their_own_keys(
    sqlite_identity_app: IdentityApp, people: dict[str, Any]
) -> None:
    app = sqlite_identity_app
    alice = app.bearer(people["alice"])
    listed = await (await app.client.get("/api/keys", headers=alice)).get_json()
    assert [k["id"] for k in listed["keys"]] == [people["alice_key_id"]]
    assert all("key_hash" not in k and "key" not in k for k in listed["keys"])

    # another user's key id: 404, exactly like a missing one, and nothing happens to it
    theirs = await app.client.delete(f"/api/keys/{people['bob_key_id']}", headers=alice)
    missing = await app.client.delete("/api/keys/999999", headers=alice)
    assert theirs.status_code == missing.status_code == 404
    assert (await theirs.get_json())["error"]["message"].replace(
        str(people["bob_key_id"]), "N"
    ) == (await missing.get_json())["error"]["message"].replace("999999", "N")
    bob_keys = await app.identity.keys.list_keys(people["bob"])
    assert bob_keys[0].revoked_at is None
    for junk in ("abc", "-1", "0", "1.5", "99999999999999999999999"):
        assert (await app.client.delete(f"/api/keys/{junk}", headers=alice)).status_code == 404

    own = await app.client.delete(f"/api/keys/{people['alice_key_id']}", headers=alice)
    assert own.status_code == 200
    assert (await own.get_json())["status"] == "revoked"
    refused = await app.client.get("/api/keys", headers={"X-API-Key": people["alice_key"]})
    assert refused.status_code == 401
