"""The web UI's pages through the Quart test client: who sees what, forms, CSRF, headers."""

from __future__ import annotations

import html
import io
import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from quart.datastructures import FileStorage

from tests.usage_rows import insert_rows, usage_row
from tests.web.conftest import IdentityApp

USER_PAGES = ("/overview", "/keys", "/usage")
ADMIN_PAGES = ("/admin/users", "/admin/usage", "/admin/costs", "/admin/audit", "/admin/system")


def text(body: str) -> str:
    """The visible text of a page, roughly (tags dropped, entities decoded)."""
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def csrf_of(body: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]*)"', body)
    assert found, "no CSRF field on the page"
    return found.group(1)


async def page(client: Any, path: str, **kwargs: Any) -> tuple[Any, str]:
    r = await client.get(path, **kwargs)
    return r, await r.get_data(as_text=True)


@pytest.fixture
async def people(sqlite_identity_app: IdentityApp) -> dict[str, Any]:
    app = sqlite_identity_app
    alice = await app.user("alice@example.com", name="Alice")
    admin = await app.user(admin=True, name="Ada Admin")
    alice_browser, admin_browser = app.new_client(), app.new_client()
    return {
        "alice": alice,
        "admin": admin,
        "alice_browser": alice_browser,
        "alice_csrf": (await app.session(alice, alice_browser))["X-CSRF-Token"],
        "admin_browser": admin_browser,
        "admin_csrf": (await app.session(admin, admin_browser))["X-CSRF-Token"],
    }


async def test_anonymous_browsers_are_sent_to_sign_in(sqlite_identity_app: IdentityApp) -> None:
    client = sqlite_identity_app.new_client()
    home = await client.get("/")
    assert home.status_code == 302
    assert home.headers["Location"] == "/sign-in"
    for path in (*USER_PAGES, *ADMIN_PAGES):
        r = await client.get(path + "?range=7d")
        assert r.status_code == 302, path
        assert r.headers["Location"] == f"/sign-in?next={path}%3Frange%3D7d"
        assert r.headers["Cache-Control"] == "no-store"

    r, body = await page(client, "/sign-in")
    assert r.status_code == 200
    assert "No sign-in provider is configured yet" in body
    assert "bedrock-proxy users create" in body and "bedrock-proxy keys create" in body
    assert "bedrock-proxy token" in body


async def test_pages_render_with_security_headers(
    sqlite_identity_app: IdentityApp, people: dict[str, Any]
) -> None:
    browser = people["alice_browser"]
    for path in USER_PAGES:
        r, body = await page(browser, path)
        assert r.status_code == 200, (path, body[:500])
        assert r.headers["Cache-Control"] == "no-store"
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert "frame-ancestors 'none'" in csp
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
        assert r.headers["Referrer-Policy"] == "same-origin"
        assert "<script>" not in body and " onclick=" not in body and 'style="' not in body
        assert 'href="#main"' in body  # skip link
        assert "/admin/" not in body  # admin links are not shown to others

    r, body = await page(people["admin_browser"], "/overview")
    assert all(f'href="{p}"' in body for p in ADMIN_PAGES)


async def test_non_admins_get_403_pages_for_admin_routes(people: dict[str, Any]) -> None:
    for path in ADMIN_PAGES:
        r, body = await page(people["alice_browser"], path)
        assert r.status_code == 403, path
        assert r.content_type.startswith("text/html")
        assert "admins only" in body
    r = await people["alice_browser"].post(
        f"/admin/users/{people['admin']}/state",
        form={"state": "disabled", "csrf_token": people["alice_csrf"]},
    )
    assert r.status_code == 403


async def test_admin_pages_render(sqlite_identity_app: IdentityApp, people: dict[str, Any]) -> None:
    browser = people["admin_browser"]
    for path in (*ADMIN_PAGES, f"/admin/users/{people['alice']}"):
        r, body = await page(browser, path)
        assert r.status_code == 200, (path, body[:800])
    r, body = await page(browser, "/admin/users?search=alice&sort=email&order=desc")
    listed = body.split('id="users"')[1]
    assert "alice@example.com" in listed and "admin@example.com" not in listed


async def test_create_and_revoke_a_key(
    sqlite_identity_app: IdentityApp, people: dict[str, Any]
) -> None:
    app, browser = sqlite_identity_app, people["alice_browser"]
    _, body = await page(browser, "/keys")
    csrf = csrf_of(body)
    assert csrf == people["alice_csrf"]
    assert 'value="90" checked' in body  # the policy's default expiry
    assert 'value="never"' in body  # no max_expiry_days: "never" is allowed

    r = await browser.post(
        "/keys", form={"name": "laptop", "expires_in_days": "30", "csrf_token": csrf}
    )
    created = await r.get_data(as_text=True)
    assert r.status_code == 200
    assert r.headers["Cache-Control"] == "no-store"
    key = re.search(r'value="(SSOK_[^"]+)"', created)
    assert key is not None
    assert f'api_key="{key.group(1)}"' in html.unescape(created)  # snippets use the new key
    me = await app.client.get("/auth/me", headers={"X-API-Key": key.group(1)})
    assert me.status_code == 200

    _, listing = await page(browser, "/keys")
    assert key.group(1) not in listing  # shown once, never again
    [row] = [k for k in await app.identity.keys.list_keys(people["alice"])]
    assert row.name == "laptop"
    assert row.expires_at is not None
    assert timedelta(days=29) < row.expires_at - datetime.now(UTC) <= timedelta(days=30)

    # without confirmation: the confirmation page, nothing revoked
    r = await browser.post(f"/keys/{row.id}/revoke", form={"csrf_token": csrf})
    assert r.status_code == 200
    assert "Revoke the key" in await r.get_data(as_text=True)
    assert (await app.identity.keys.list_keys(people["alice"]))[0].revoked_at is None
    r = await browser.post(f"/keys/{row.id}/revoke", form={"csrf_token": csrf, "confirm": "yes"})
    assert r.status_code == 303
    assert r.headers["Location"] == f"/keys?revoked={row.id}"
    assert (await app.identity.keys.list_keys(people["alice"]))[0].revoked_at is not None
    me = await app.client.get("/auth/me", headers={"X-API-Key": key.group(1)})
    assert me.status_code == 401


async def test_key_form_errors_are_friendly(
    sqlite_identity_app: IdentityApp, people: dict[str, Any]
) -> None:
    browser, csrf = people["alice_browser"], people["alice_csrf"]
    for fields, message in (
        ({"name": "", "expires_in_days": "30"}, "name must be 1 to 100 characters"),
        ({"name": "x", "expires_in_days": "7"}, "choose one of the offered expiry periods"),
        ({"name": "x" * 101, "expires_in_days": "30"}, "name must be 1 to 100 characters"),
    ):
        r = await browser.post("/keys", form={**fields, "csrf_token": csrf})
        assert r.status_code == 400
        assert message in await r.get_data(as_text=True)
    other = await sqlite_identity_app.user()
    other_key, _ = await sqlite_identity_app.key(other)
    for path in (f"/keys/{other_key}/revoke", "/keys/abc/revoke", "/keys/0/revoke"):
        r = await browser.get(path)
        assert r.status_code == 404
        assert "not found" in await r.get_data(as_text=True)


@pytest.mark.parametrize("token", [None, "", "forged", "other"])
async def test_unsafe_requests_without_the_csrf_token_are_refused(
    sqlite_identity_app: IdentityApp, people: dict[str, Any], token: str | None
) -> None:
    app, browser = sqlite_identity_app, people["alice_browser"]
    mine, theirs = token, token
    if token == "other":  # a valid token, of another session
        mine, theirs = people["admin_csrf"], people["alice_csrf"]
    fields = {"name": "sneaky", "expires_in_days": "30"}
    if mine is not None:
        fields["csrf_token"] = mine
    r = await browser.post("/keys", form=fields)
    assert r.status_code == 403
    assert "Form expired" in await r.get_data(as_text=True)
    assert await app.identity.keys.list_keys(people["alice"]) == []
    admin = people["admin_browser"]
    r = await admin.post(
        f"/admin/users/{people['alice']}/state",
        form={"state": "disabled", "csrf_token": theirs or ""},
    )
    assert r.status_code == 403
    assert (await app.identity.users.get(people["alice"])).state == "active"


async def test_xss_probes_render_as_text_everywhere(
    sqlite_identity_app: IdentityApp, people: dict[str, Any]
) -> None:
    app = sqlite_identity_app
    probe = '<script>alert("k")</script><img src=x onerror=alert(1)>'
    name_probe = '"><svg onload=alert(2)>'
    evil = await app.user("evil@example.com", name=name_probe)
    evil_browser = app.new_client()
    csrf = (await app.session(evil, evil_browser))["X-CSRF-Token"]
    r = await evil_browser.post(
        "/keys", form={"name": probe, "expires_in_days": "30", "csrf_token": csrf}
    )
    assert r.status_code == 200
    pages = [
        (evil_browser, "/keys"),
        (evil_browser, "/overview"),
        (evil_browser, "/usage"),
        (people["admin_browser"], "/admin/users"),
        (people["admin_browser"], f"/admin/users/{evil}"),
        (people["admin_browser"], "/admin/audit"),
    ]
    for browser, path in pages:
        _, body = await page(browser, path)
        for raw in (probe, name_probe, "<script>alert", "<svg onload", "<img src=x"):
            assert raw not in body, f"{raw!r} unescaped on {path}"
    _, keys_page = await page(evil_browser, "/keys")
    assert probe in text(keys_page)  # shown, as text
    _, admin_users = await page(people["admin_browser"], "/admin/users")
    assert name_probe in text(admin_users)


async def test_usage_page_shows_totals_charts_and_csv_link(
    sqlite_identity_app: IdentityApp, people: dict[str, Any]
) -> None:
    app = sqlite_identity_app
    now = datetime.now(UTC)
    rows = [
        usage_row(
            people["alice"],
            now - timedelta(hours=1),
            input_tokens=1200,
            output_tokens=34,
            cost=Decimal("0.0123"),
        ),
        usage_row(
            people["alice"],
            now - timedelta(days=2),
            input_tokens=5,
            output_tokens=6,
            model_id="anthropic.claude-haiku-4-5-20251001-v1:0",
            success=False,
            cost=Decimal("1.5"),
        ),
    ]
    await app.services.db.write(insert_rows, rows)
    r, body = await page(people["alice_browser"], "/usage?range=7d")
    assert r.status_code == 200, body[:500]
    visible = text(body)
    assert "$1.51" in visible  # 1.5 + 0.0123, for people
    assert "1,245" in visible  # total tokens with separators
    assert body.count("<svg") == 3
    assert "claude-sonnet-4-5-20250929" in visible and "claude-haiku-4-5-20251001" in visible
    assert '<time datetime="' in body
    csv_link = re.search(r'href="(/api/usage/records\?[^"]+)"', body)
    assert csv_link is not None
    csv = await people["alice_browser"].get(html.unescape(csv_link.group(1)))
    assert csv.status_code == 200
    assert len((await csv.get_data(as_text=True)).strip().splitlines()) == 3

    r, body = await page(people["alice_browser"], "/usage?range=7d&outcome=failure")
    assert "claude-haiku" in text(body.split('id="records"')[1])
    assert "1,200" not in text(body.split('id="records"')[1])
    link = html.unescape(re.search(r'href="(/api/usage/records\?[^"]+)"', body).group(1))
    assert "success=false" in link

    for bad in (
        "range=year",
        "range=custom&start=2026-01-05",
        "range=custom&start=x&end=y",
        "range=custom&start=2026-02-01&end=2026-01-01",
        "outcome=maybe",
        "cursor=!!!",
    ):
        r, body = await page(people["alice_browser"], f"/usage?{bad}")
        assert r.status_code == 400, bad
        assert "Traceback" not in body


async def test_admin_changes_a_users_state(
    sqlite_identity_app: IdentityApp, people: dict[str, Any]
) -> None:
    app, admin = sqlite_identity_app, people["admin_browser"]
    r = await admin.post(
        f"/admin/users/{people['alice']}/state",
        form={"state": "disabled", "csrf_token": people["admin_csrf"]},
    )
    assert r.status_code == 303
    assert (await app.identity.users.get(people["alice"])).state == "disabled"
    r, body = await page(people["alice_browser"], "/overview")
    assert r.status_code == 403
    assert "disabled" in body
    r = await admin.post(
        f"/admin/users/{people['admin']}/state",
        form={"state": "disabled", "csrf_token": people["admin_csrf"]},
    )
    assert r.status_code == 400
    assert "cannot disable themselves" in await r.get_data(as_text=True)


async def test_sign_out_ends_the_session(
    sqlite_identity_app: IdentityApp, people: dict[str, Any]
) -> None:
    browser = people["alice_browser"]
    r = await browser.post("/sign-out", form={"csrf_token": "wrong"})
    assert r.status_code == 403
    r = await browser.post("/sign-out", form={"csrf_token": people["alice_csrf"]})
    assert r.status_code == 303
    assert r.headers["Location"] == "/sign-in?signed_out=1"
    cleared = [h for h in r.headers.getlist("Set-Cookie") if "Max-Age=0" in h]
    assert len(cleared) == 3
    assert (await browser.get("/overview")).status_code == 302


async def test_unknown_pages_and_assets(sqlite_identity_app: IdentityApp) -> None:
    client = sqlite_identity_app.client
    r, body = await page(client, "/no-such-page")
    assert r.status_code == 404
    assert r.content_type.startswith("text/html")
    assert r.headers["X-Frame-Options"] == "DENY"
    api = await client.get("/api/no-such-thing")
    assert api.status_code == 404
    assert (await api.get_json())["error"]["code"] == "not_found"
    for path, kind in (
        ("/static/app.css", "text/css"),
        ("/static/app.js", "javascript"),
        ("/docs/assets/swagger-ui-bundle.js", "javascript"),
        ("/docs/assets/swagger-ui.css", "text/css"),
    ):
        r = await client.get(path)
        assert r.status_code == 200, path
        assert kind in r.content_type
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    for path in ("/static/../app.py", "/docs/assets/index.html", "/static/nothing.js"):
        assert (await client.get(path)).status_code == 404, path
    r, body = await page(client, "/docs")
    assert r.status_code == 200
    assert "/docs/assets/swagger-ui-bundle.js" in body
    script_src = r.headers["Content-Security-Policy"].split("script-src")[1].split(";")[0]
    assert script_src.strip() == "'self'"


async def test_admin_edits_uploads_and_deletes_prices(
    sqlite_identity_app: IdentityApp, people: dict[str, Any]
) -> None:
    app, admin, csrf = sqlite_identity_app, people["admin_browser"], people["admin_csrf"]
    prices = {"input_price": "3", "output_price": "15", "cache_read_price": "0.3"}
    r = await admin.post(
        "/admin/costs",
        form={
            "region": "eu-west-1",
            "model_id": "anthropic.x-v1:0",
            "model_name": "X",
            "csrf_token": csrf,
            **prices,
        },
    )
    assert r.status_code == 303
    r, body = await page(
        admin, "/admin/costs?model=anthropic.x&edit_region=eu-west-1&edit_model=anthropic.x-v1:0"
    )
    assert 'id="edit-form"' in body and 'value="15"' in body

    r = await admin.post(
        "/admin/costs",
        form={
            "region": "eu-west-1",
            "model_id": "anthropic.x-v1:0",
            "input_price": "-1",
            "output_price": "1",
            "csrf_token": csrf,
        },
    )
    assert r.status_code == 400
    assert "anthropic.x-v1:0 in eu-west-1" in text(await r.get_data(as_text=True))

    csv = (
        "region,model_id,model_name,provider,input_price,output_price,cache_write_5m_price,"
        "cache_write_1h_price,cache_read_price\n"
        "eu-west-1,anthropic.x-v1:0,X,Anthropic,4,16,,,\n"
        "eu-west-1,anthropic.y-v1:0,Y,Anthropic,1,2,,,\n"
        "eu-west-1,,broken,,,,,,\n"
    )
    upload = {"file": FileStorage(io.BytesIO(csv.encode()), "prices.csv", "file", "text/csv")}
    r = await admin.post(
        "/admin/costs/upload", form={"csrf_token": csrf, "dry_run": "yes"}, files=upload
    )
    body = await r.get_data(as_text=True)
    assert r.status_code == 200, body[:500]
    assert "Dry run: nothing was changed" in body
    assert "1 added · 1 updated · 0 unchanged · 1 rejected" in text(body)
    assert (await app.services.db.read(_price, "eu-west-1", "anthropic.y-v1:0")) is None
    upload = {"file": FileStorage(io.BytesIO(csv.encode()), "prices.csv", "file", "text/csv")}
    r = await admin.post("/admin/costs/upload", form={"csrf_token": csrf}, files=upload)
    assert "Upload applied" in await r.get_data(as_text=True)
    assert (await app.services.db.read(_price, "eu-west-1", "anthropic.y-v1:0")) == Decimal(1)
    bad = {"file": FileStorage(io.BytesIO(b"not,a,price,table\n"), "x.csv", "file", "text/csv")}
    r = await admin.post("/admin/costs/upload", form={"csrf_token": csrf}, files=bad)
    assert r.status_code == 400
    assert "was not applied" in await r.get_data(as_text=True)

    r = await admin.post(
        "/admin/costs",
        form={
            "region": "eu-west-1",
            "model_id": "anthropic.y-v1:0",
            "action": "delete",
            "csrf_token": csrf,
        },
    )
    assert r.status_code == 303
    assert (await app.services.db.read(_price, "eu-west-1", "anthropic.y-v1:0")) is None


def _price(conn: Any, region: str, model_id: str) -> Decimal | None:
    from storage.repos.costs import get_cost

    row = get_cost(conn, region, model_id)
    return None if row is None else Decimal(row["input_price"])


async def test_admin_usage_audit_and_system_pages(
    sqlite_identity_app: IdentityApp, people: dict[str, Any]
) -> None:
    app, admin = sqlite_identity_app, people["admin_browser"]
    now = datetime.now(UTC)
    await app.services.db.write(
        insert_rows,
        [
            usage_row(people["alice"], now - timedelta(minutes=5), cost=Decimal("2")),
            usage_row(people["admin"], now - timedelta(minutes=4), cost=Decimal("1")),
        ],
    )
    r, body = await page(admin, "/admin/usage?range=7d")
    assert "$3.00" in text(body) and "alice@example.com" in body
    r, body = await page(admin, f"/admin/usage?range=7d&user_id={people['alice']}")
    assert "$2.00" in text(body)
    assert f"user_id={people['alice']}" in html.unescape(
        re.search(r'href="(/api/admin/usage/records\?[^"]+)"', body).group(1)
    )
    r, body = await page(admin, f"/admin/audit?user_id={people['alice']}&event_type=login")
    assert r.status_code == 200
    assert "login" in text(body.split('id="audit"')[1])
    for bad in ("event_type=nope", "since=yesterday", "success=maybe", "user_id=-3"):
        r, _ = await page(admin, f"/admin/audit?{bad}")
        assert r.status_code == 400, bad
    r, body = await page(admin, "/admin/system")
    assert "Usage accountant" in body and "usage summaries" in body
    r, body = await page(admin, "/admin/users?sort=nope")
    assert r.status_code == 400
