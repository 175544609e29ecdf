"""Admin routes: users (paging, sort, search), state changes, keys of a user, the audit log."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from storage.schema import users
from tests.web.conftest import ADMIN_EMAIL, IdentityApp


async def test_disabling_refuses_every_credential_at_once(identity_app: IdentityApp) -> None:
    app = identity_app
    admin, alice = await app.user(admin=True), await app.user()
    _, key = await app.key(alice)
    jwt_headers = app.bearer(alice)
    browser = app.new_client()
    await app.session(alice, browser)
    for headers, client in (
        (jwt_headers, app.client),
        ({"X-API-Key": key}, app.client),
        ({}, browser),
    ):
        assert (await client.get("/auth/me", headers=headers)).status_code == 200
    assert (await app.services.auth.authenticate([(b"x-api-key", key.encode())])).user_id == alice

    changed = await app.client.put(
        f"/api/admin/users/{alice}/state", json={"state": "disabled"}, headers=app.bearer(admin)
    )
    assert changed.status_code == 200
    assert (await changed.get_json())["state"] == "disabled"
    for headers, client in (
        (jwt_headers, app.client),
        ({"X-API-Key": key}, app.client),
        ({"Authorization": f"Bearer {key}"}, app.client),
        ({}, browser),
    ):
        r = await client.get("/auth/me", headers=headers)
        assert r.status_code == 403
        assert "disabled" in (await r.get_json())["error"]["message"]
    refused = await browser.post("/auth/refresh", headers={"X-CSRF-Token": "x"})
    assert refused.status_code in (401, 403)
    state = await app.services.db.read(
        lambda c: c.execute(sa.select(users.c.state).where(users.c.id == alice)).scalar_one()
    )
    assert state == "disabled"  # persisted

    await app.client.put(
        f"/api/admin/users/{alice}/state", json={"state": "active"}, headers=app.bearer(admin)
    )
    assert (await app.client.get("/auth/me", headers={"X-API-Key": key})).status_code == 200
    assert (await app.client.get("/auth/me", headers=jwt_headers)).status_code == 200


async def test_state_input_is_validated(sqlite_identity_app: IdentityApp) -> None:
    app = sqlite_identity_app
    admin, alice = await app.user(admin=True), await app.user()
    headers = app.bearer(admin)
    url = f"/api/admin/users/{alice}/state"
    for body in ({"state": "banana"}, {"state": 1}, {}, [], "x"):
        r = await app.client.put(url, json=body, headers=headers)
        assert r.status_code == 400, body
    assert (await app.client.put(url, data=b"\xff\xfe", headers=headers)).status_code == 400
    missing = await app.client.put(
        "/api/admin/users/424242/state", json={"state": "disabled"}, headers=headers
    )
    assert missing.status_code == 404
    self_ban = await app.client.put(
        f"/api/admin/users/{admin}/state", json={"state": "disabled"}, headers=headers
    )
    assert self_ban.status_code == 400
    expired = await app.client.put(url, json={"state": "expired"}, headers=headers)
    assert (await expired.get_json())["state"] == "expired"
    assert (await app.client.get("/auth/me", headers=app.bearer(alice))).status_code == 403


async def test_admin_is_the_verified_listed_email_only(sqlite_identity_app: IdentityApp) -> None:
    app = sqlite_identity_app
    unverified = await app.user(ADMIN_EMAIL.replace("admin", "x"), verified=True)
    r = await app.client.get("/api/admin/users", headers=app.bearer(unverified))
    assert r.status_code == 403
    # same admin email from a provider that does not vouch for it: not an admin
    imposter = await app.user(ADMIN_EMAIL, verified=False)
    assert (
        await app.client.get("/api/admin/users", headers=app.bearer(imposter))
    ).status_code == 403
    me = await (await app.client.get("/auth/me", headers=app.bearer(imposter))).get_json()
    assert me["is_admin"] is False


async def test_user_listing(sqlite_identity_app: IdentityApp) -> None:
    app = sqlite_identity_app
    admin = await app.user(admin=True)
    for n in range(5):
        await app.user(f"person{n}@corp.example", name=f"Person {n}")
    await app.user("someone@else.example", name="Zed 100%_")
    headers = app.bearer(admin)
    page = await (
        await app.client.get("/api/admin/users?limit=2&offset=1", headers=headers)
    ).get_json()
    assert page["total"] == 7 and len(page["users"]) == 2 and page["offset"] == 1
    found = await (
        await app.client.get(
            "/api/admin/users?search=CORP.example&sort=email&order=desc", headers=headers
        )
    ).get_json()
    assert [u["email"] for u in found["users"]] == [
        f"person{n}@corp.example" for n in range(4, -1, -1)
    ]
    literal = await (
        await app.client.get("/api/admin/users?search=100%25_", headers=headers)
    ).get_json()
    assert [u["email"] for u in literal["users"]] == ["someone@else.example"]
    by_name = await (
        await app.client.get("/api/admin/users?search=person 3", headers=headers)
    ).get_json()
    assert by_name["total"] == 1
    for bad in (
        "limit=0",
        "limit=1000",
        "offset=-1",
        "sort=password",
        "order=up",
        "state=x",
        "limit=abc",
    ):
        r = await app.client.get(f"/api/admin/users?{bad}", headers=headers)
        assert r.status_code == 400, bad
        assert (await r.get_json())["error"]["message"]
    one = await app.client.get(f"/api/admin/users/{admin}", headers=headers)
    assert (await one.get_json())["is_admin"] is True
    assert (await app.client.get("/api/admin/users/abc", headers=headers)).status_code == 404
    assert (await app.client.get("/api/admin/users/99999", headers=headers)).status_code == 404
    assert (await app.client.get("/api/admin/users/99999/keys", headers=headers)).status_code == 404


async def test_audit_log_filters_and_paging(sqlite_identity_app: IdentityApp) -> None:
    app = sqlite_identity_app
    admin, alice = await app.user(admin=True), await app.user()
    headers = app.bearer(admin)
    key_ids = [(await app.key(alice, f"k{n}"))[0] for n in range(3)]
    for key_id in key_ids:
        await app.client.delete(f"/api/keys/{key_id}", headers=app.bearer(alice))
    await app.client.put(
        f"/api/admin/users/{alice}/state", json={"state": "disabled"}, headers=headers
    )

    async def entries(query: str) -> dict[str, Any]:
        r = await app.client.get(f"/api/admin/audit-logs?{query}", headers=headers)
        assert r.status_code == 200, await r.get_data(as_text=True)
        return await r.get_json()

    created = await entries(f"user_id={alice}&event_type=api_key_created")
    assert len(created["entries"]) == 3
    assert all(isinstance(e["metadata"], dict) for e in created["entries"])
    assert all("key" not in e["metadata"] for e in created["entries"])
    state = await entries("event_type=user_state_changed")
    meta = state["entries"][0]["metadata"]
    assert meta == {"from": "active", "to": "disabled", "by_user_id": admin}

    pages: list[int] = []
    cursor = ""
    while True:
        page = await entries(f"user_id={alice}&limit=2{cursor}")
        pages.extend(e["id"] for e in page["entries"])
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert len(pages) == len(set(pages)) == 7  # 3 created, 3 revoked, 1 state change
    assert pages == sorted(pages, reverse=True)

    assert (await entries("success=false"))["entries"] == []
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert (await entries(f"since={future.replace('+', '%2B')}"))["entries"] == []
    assert len((await entries("until=9999999999&limit=200"))["entries"]) >= 7
    for bad in (
        "success=maybe",
        "since=yesterday",
        "event_type=nope",
        "cursor=0",
        "since=5&until=1",
    ):
        r = await app.client.get(f"/api/admin/audit-logs?{bad}", headers=headers)
        assert r.status_code == 400, bad
    admin_reads = await entries("event_type=admin_action")
    assert {e["metadata"]["action"] for e in admin_reads["entries"]} >= {"list_audit_logs"}
    assert all(e["user_id"] == admin for e in admin_reads["entries"])


async def test_profile_change_at_sign_in_refreshes_cached_admin_status(
    sqlite_identity_app: IdentityApp,
) -> None:
    app = sqlite_identity_app
    users_service, auth = app.identity.users, app.services.auth

    async def sign_in(email: str) -> int:
        row = await users_service.sign_in(
            provider="corp",
            provider_user_id="e-1",
            email=email,
            email_verified=True,
            display_name=None,
        )
        return int(row.id)

    user_id = await sign_in(ADMIN_EMAIL)
    _, key = await app.key(user_id)
    by_key = [(b"x-api-key", key.encode())]
    by_jwt = [(b"authorization", app.bearer(user_id)["Authorization"].encode())]
    assert (await auth.authenticate(by_key)).is_admin
    assert (await auth.authenticate(by_jwt)).is_admin
    await sign_in("moved@example.com")  # the directory changed the address
    assert not (await auth.authenticate(by_key)).is_admin
    assert not (await auth.authenticate(by_jwt)).is_admin
