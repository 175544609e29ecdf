"""The web UI in a real browser: sign in through the OIDC provider, make a key, use it, see the
usage, revoke it; an admin changes a price and disables a user; screenshots of every page."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import anthropic
import pytest
import sqlalchemy as sa

from storage.schema import model_costs, usage_records
from tests.browser.conftest import ADMIN_EMAIL, BrowserThread, shoot
from tests.harness import RunningProxy
from tests.oidc import OidcProvider
from web.auth.audit import ClientInfo
from web.auth.keys import DEFAULT
from web.ui.format import money

pytestmark = [
    pytest.mark.slow,
    pytest.mark.filterwarnings("ignore:get_jwt_config:DeprecationWarning"),
    pytest.mark.filterwarnings("ignore:The model .* is deprecated:DeprecationWarning"),
]

MODEL = "claude-sonnet-4-5"
BASE_ID = "anthropic.claude-sonnet-4-5-20250929-v1:0"
XSS_KEY = '<img src=x onerror="window.__xss=1">'
XSS_NAME = '<svg onload="window.__xss=2">'
MILLION = Decimal(1_000_000)


def sdk(proxy: RunningProxy, key: str) -> anthropic.Anthropic:
    return anthropic.Anthropic(base_url=f"{proxy.url}/anthropic", api_key=key, max_retries=0)


def ask(proxy: RunningProxy, key: str) -> Any:
    return sdk(proxy, key).messages.create(
        model=MODEL, max_tokens=40, messages=[{"role": "user", "content": "Hello from the UI"}]
    )


def newest_row(proxy: RunningProxy, user_id: int) -> dict[str, Any]:
    """The user's latest usage row, after flushing the accountant."""
    proxy.call_sync(proxy.services.usage.flush)

    def read(conn: sa.Connection) -> dict[str, Any]:
        query = (
            sa.select(usage_records)
            .where(usage_records.c.user_id == user_id)
            .order_by(usage_records.c.id.desc())
            .limit(1)
        )
        return dict(conn.execute(query).one()._mapping)

    return proxy.call_sync(proxy.services.db.read, read)


def user_id_of(proxy: RunningProxy, email: str) -> int:
    found = proxy.call_sync(proxy.services.identity.users.by_email, email)
    return int(found.id)


def new_page(browser: Any, proxy: RunningProxy, **options: Any) -> tuple[Any, Any, list[str]]:
    """A fresh context (own cookies) whose dialogs are accepted and whose errors are kept."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, **options)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=proxy.url)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    problems: list[str] = []
    # script errors, and anything the Content-Security-Policy refused (the expected 403/404
    # answers and the test provider's own page are not problems)
    page.on(
        "console",
        lambda m: (
            problems.append(m.text)
            if m.type == "error" and ("Refused" in m.text or "Security Policy" in m.text)
            else None
        ),
    )
    page.on("pageerror", lambda exc: problems.append(str(exc)))
    return context, page, problems


def sign_in(page: Any, proxy: RunningProxy, sub: str) -> None:
    page.goto(f"{proxy.url}/")
    assert page.url == f"{proxy.url}/sign-in"
    page.get_by_role("link", name="Sign in with Corp SSO").click()
    page.fill("input[name=sub]", sub)  # the test provider's consent form
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(f"{proxy.url}/overview")


async def test_a_person_signs_in_makes_a_key_uses_it_and_revokes_it(
    browser: BrowserThread, ui_proxy: RunningProxy, oidc_provider: OidcProvider
) -> None:
    proxy = ui_proxy
    email = "dana@example.com"
    oidc_provider.set_user("dana", {"email": email, "email_verified": True, "name": "Dana Scully"})

    def journey(chromium: Any) -> None:
        context, page, problems = new_page(chromium, proxy)
        page.goto(f"{proxy.url}/overview")
        assert page.url.startswith(f"{proxy.url}/sign-in")
        shoot(page, "sign-in")
        sign_in(page, proxy, "dana")
        assert page.locator("a[href='/admin/users']").count() == 0

        # create a key and copy it
        page.goto(f"{proxy.url}/keys")
        page.fill("#key-name", "laptop")
        page.check("input[name=expires_in_days][value='30']")
        page.get_by_role("button", name="Create key").click()
        shown = page.input_value("#new-key")
        page.locator("button[data-copy='new-key']").click()
        copied = page.evaluate("navigator.clipboard.readText()")
        assert copied == shown and shown.startswith("SSOK_")
        shoot(page, "key-created", mask=[page.locator("#new-key"), page.locator("pre")])

        # use the key with the anthropic SDK; the request shows up with its tokens and cost
        message = ask(proxy, copied)
        row = newest_row(proxy, user_id_of(proxy, email))
        assert row["input_tokens"] == message.usage.input_tokens
        assert row["output_tokens"] == message.usage.output_tokens
        expected = (
            row["input_tokens"] * Decimal(3) + row["output_tokens"] * Decimal(15)
        ) / MILLION  # the seeded Sonnet 4.5 price in us-east-1
        assert row["cost_usd"] == expected
        page.goto(f"{proxy.url}/usage?range=7d")
        line = page.locator(f"tr[data-request-id='{row['request_id']}']")
        assert line.locator(".in-tokens").inner_text() == f"{message.usage.input_tokens:,}"
        assert line.locator(".out-tokens").inner_text() == f"{message.usage.output_tokens:,}"
        assert line.locator(".cost").inner_text() == money(expected)
        assert page.locator("#total-cost").inner_text() == money(expected)
        shown_time = line.locator("time").first
        assert not shown_time.inner_text().endswith("UTC")  # converted to the browser's zone
        assert shown_time.get_attribute("title", timeout=1000).endswith("UTC")
        line.locator("summary").click()
        assert "anthropic.messages" in line.locator("dl.details").inner_text()
        page.locator("g.bar").last.focus()
        assert page.locator(".tooltip").is_visible()
        shoot(page, "usage", docs=True)

        page.goto(f"{proxy.url}/overview")
        shoot(page, "overview", docs=True)

        # an XSS probe as a key name renders as text
        page.goto(f"{proxy.url}/keys")
        page.fill("#key-name", XSS_KEY)
        page.get_by_role("button", name="Create key").click()
        for path in ("/overview", "/usage", "/keys"):
            page.goto(f"{proxy.url}{path}")
            assert page.evaluate("window.__xss") is None, path
        assert page.locator("td.key-name", has_text=XSS_KEY).count() == 1

        # revoke (confirmed in a dialog); the next call is refused
        page.goto(f"{proxy.url}/keys")
        page.locator("tr", has_text="laptop").get_by_role("button", name="Revoke").click()
        page.wait_for_url("**/keys?revoked=*")
        assert "was revoked" in page.locator("main").inner_text()
        shoot(page, "keys")
        with pytest.raises(anthropic.AuthenticationError):
            ask(proxy, copied)

        # no admin pages for a non-admin
        response = page.goto(f"{proxy.url}/admin/users")
        assert response is not None and response.status == 403
        assert "admins only" in page.locator("main").inner_text()

        # a phone-sized screen
        phone, phone_page, _ = new_page(chromium, proxy, is_mobile=True)
        phone.add_cookies(context.cookies())
        phone_page.set_viewport_size({"width": 390, "height": 844})
        phone_page.goto(f"{proxy.url}/overview")
        width = phone_page.evaluate("document.documentElement.scrollWidth")
        assert width <= 390, f"the overview scrolls sideways on a phone ({width}px)"
        shoot(phone_page, "overview-phone")
        phone.close()

        page.get_by_role("button", name="Sign out").click()
        page.wait_for_url("**/sign-in?signed_out=1")
        assert page.goto(f"{proxy.url}/keys") is not None
        assert page.url.startswith(f"{proxy.url}/sign-in")
        assert not problems, problems
        context.close()

    await browser.run(journey)


async def test_an_admin_changes_a_price_and_disables_a_user(
    browser: BrowserThread, ui_proxy: RunningProxy, oidc_provider: OidcProvider
) -> None:
    proxy = ui_proxy
    oidc_provider.set_user("ops", {"email": ADMIN_EMAIL, "email_verified": True, "name": "Ops"})
    target_email = "erin@example.com"
    target_id, _ = await proxy.create_user(target_email, XSS_NAME)  # a display-name probe
    created = await proxy.call(
        proxy.services.identity.keys.create, target_id, "ci", DEFAULT, ClientInfo()
    )
    key = created.key

    def admin_work(chromium: Any) -> None:
        context, page, problems = new_page(chromium, proxy)
        sign_in(page, proxy, "ops")
        assert page.locator("a[href='/admin/users']").count() == 1

        # change the input price of Sonnet 4.5 in us-east-1
        page.goto(f"{proxy.url}/admin/costs?model=claude-sonnet-4-5-20250929&region=us-east-1")
        page.get_by_role("link", name=f"Edit {BASE_ID} in us-east-1").click()
        page.fill("#e-input_price", "4.5")
        page.get_by_role("button", name="Save", exact=True).click()
        page.wait_for_url("**/admin/costs?*saved=*")
        assert "$4.5" in page.locator("#costs").inner_text()
        shoot(page, "admin-costs", docs=True)

        def price(conn: sa.Connection) -> Decimal:
            query = sa.select(model_costs.c.input_price).where(
                model_costs.c.region == "us-east-1", model_costs.c.model_id == BASE_ID
            )
            return Decimal(conn.execute(query).scalar_one())

        assert proxy.call_sync(proxy.services.db.read, price) == Decimal("4.5")
        ask(proxy, key)
        row = newest_row(proxy, target_id)
        assert row["price_input"] == Decimal("4.5")  # new requests are charged the new price

        # the user's page: disable them (confirmed in a dialog); their key stops working
        page.goto(f"{proxy.url}/admin/users?search=erin")
        assert page.locator("td.user-name").inner_text() == XSS_NAME  # as text
        assert page.evaluate("window.__xss") is None
        shoot(page, "admin-users")
        page.get_by_role("link", name=target_email).click()
        page.select_option("#state", "disabled")
        page.get_by_role("button", name="Save state").click()
        page.wait_for_url("**/admin/users/*?updated=1")
        assert page.locator("#user-state").inner_text() == "disabled"
        assert page.locator("h1").inner_text() == XSS_NAME
        shoot(page, "admin-user")
        with pytest.raises(anthropic.PermissionDeniedError):
            ask(proxy, key)

        for path, name in (
            ("/admin/usage?range=7d", "admin-usage"),
            ("/admin/audit", "admin-audit"),
            ("/admin/system", "admin-system"),
        ):
            response = page.goto(f"{proxy.url}{path}")
            assert response is not None and response.status == 200, path
            assert page.evaluate("window.__xss") is None, path
            shoot(page, name, docs=name == "admin-system")
        page.goto(f"{proxy.url}/admin/audit")
        assert "user state changed" in page.locator("#audit").inner_text()

        page.goto(f"{proxy.url}/docs")
        page.wait_for_selector(".swagger-ui .opblock", timeout=15000)
        assert page.locator(".opblock").count() > 30
        shoot(page, "api-docs", docs=True, full=False)
        assert not problems, problems
        context.close()

    await browser.run(admin_work)
