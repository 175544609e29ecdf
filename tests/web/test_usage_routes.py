"""The usage API: validation, authorization, paging, CSV streaming, summaries and stats."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
import trio

from actors.config import CleanupJobConfig, JobsConfig, RetentionDays
from actors.jobs import SummariesOptions, run_summaries
from storage.cache import MemoryCache
from storage.database import Database
from tests.usage_rows import insert_rows, usage_row
from tests.web.conftest import IdentityApp, identity_settings, open_test_services
from web.app import create_app

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"
JOBS = JobsConfig(
    usage_cleanup=CleanupJobConfig(
        raw_records_days=60,
        summaries_retention_days=RetentionDays(hourly=30, daily=90, weekly=365, monthly=1095),
    )
)


@pytest.fixture
async def metering(sqlite_db: Database, tmp_path: Path) -> AsyncIterator[IdentityApp]:
    """The app with a fixed wall clock and retention that keeps the test data summarized."""
    async with open_test_services(
        sqlite_db, MemoryCache(max_entries=1000), tmp_path, identity_settings()
    ) as services:
        services = attrs.evolve(services, jobs=JOBS, now=lambda: NOW)
        app = create_app(services)
        async with app.test_app() as test_app:
            yield IdentityApp(app=app, services=services, client=test_app.test_client())


async def get(app: IdentityApp, path: str, user: int, **params: Any) -> Any:
    return await app.client.get(path, headers=app.bearer(user), query_string=params)


async def stream(app: IdentityApp, path: str, user: int, **params: Any) -> tuple[Any, list[bytes]]:
    """A streamed response read chunk by chunk as it is sent: (connection, chunks).

    (The test client's plain `get` buffers at most ten chunks before the app must finish.)
    """
    chunks: list[bytes] = []
    async with app.client.request(path, headers=app.bearer(user), query_string=params) as conn:
        await conn.send_complete()
        while True:
            try:
                chunks.append(await conn.receive())
            except trio.EndOfChannel:
                break
    return conn, chunks


async def seed(app: IdentityApp, rows: list[dict[str, Any]]) -> None:
    await app.services.db.write(insert_rows, rows)


async def summarize(app: IdentityApp) -> None:
    await run_summaries(app.services.db, JOBS, SummariesOptions(), now=NOW)


USER_ROUTES = ("/api/usage/records", "/api/usage/summaries", "/api/usage/stats")
ADMIN_ROUTES = tuple(r.replace("/api/", "/api/admin/") for r in USER_ROUTES)


async def test_anonymous_401_and_admin_routes_403_for_users(metering: IdentityApp) -> None:
    alice = await metering.user()
    for path in USER_ROUTES + ADMIN_ROUTES + ("/api/admin/jobs",):
        assert (await metering.client.get(path)).status_code == 401, path
    for path in (*ADMIN_ROUTES, "/api/admin/jobs"):
        response = await get(metering, path, alice)
        assert response.status_code == 403, path
    for path in USER_ROUTES:
        assert (await get(metering, path, alice)).status_code == 200, path


@pytest.mark.parametrize(
    ("path", "params", "fragment"),
    [
        ("/api/usage/records", {"start": "yesterday"}, "start must be an ISO 8601"),
        ("/api/usage/records", {"end": "2026-13-01"}, "end must be an ISO 8601"),
        (
            "/api/usage/records",
            {"start": "2026-11-02", "end": "2026-11-01"},
            "start must be before end",
        ),
        ("/api/usage/records", {"start": "1900-01-01"}, "between 2000 and 2200"),
        ("/api/usage/records", {"limit": "0"}, "limit must be a whole number between 1 and 1000"),
        ("/api/usage/records", {"limit": "1001"}, "between 1 and 1000"),
        ("/api/usage/records", {"limit": "ten"}, "limit must be"),
        ("/api/usage/records", {"success": "maybe"}, "success must be true or false"),
        ("/api/usage/records", {"api_key_id": "-3"}, "api_key_id must be"),
        ("/api/usage/records", {"cursor": "not-a-cursor"}, "cursor is not one"),
        ("/api/usage/records", {"format": "xml"}, "format must be one of json, csv"),
        ("/api/usage/records", {"offset": "5", "cursor": "abc"}, "either cursor or offset"),
        ("/api/usage/records", {"model_id": "a b"}, "model_id must be"),
        ("/api/usage/summaries", {"period": "yearly"}, "period must be one of"),
        (
            "/api/usage/summaries",
            {"period": "hourly", "start": "2020-01-01", "end": "2026-01-01"},
            "too many hourly periods",
        ),
        ("/api/usage/stats", {"start": "2000-01-01", "end": "2199-01-01"}, "at most 3700 days"),
        ("/api/usage/stats", {"end": "2026-11-01T00:00:00+25:00"}, "end must be"),
    ],
)
async def test_bad_parameters_get_a_clear_400(
    metering: IdentityApp, path: str, params: dict[str, str], fragment: str
) -> None:
    alice = await metering.user()
    response = await get(metering, path, alice, **params)
    assert response.status_code == 400
    body = await response.get_json()
    assert fragment in body["error"]["message"]
    assert body["error"]["code"] == "bad_request"


async def test_records_are_the_callers_own_newest_first_and_paged(metering: IdentityApp) -> None:
    alice, bob = await metering.user(), await metering.user()
    key_id, _ = await metering.key(alice)
    base = NOW - timedelta(days=3)
    mine = [
        usage_row(
            alice,
            base + timedelta(minutes=n),
            model_id=SONNET if n % 3 else HAIKU,
            success=n % 5 != 0,
            api_key_id=key_id if n % 2 else None,
            cost=Decimal("0.000123456789") * n,
        )
        for n in range(57)
    ]
    mine.append(usage_row(alice, base + timedelta(minutes=10)))  # same time as another row
    theirs = [usage_row(bob, base + timedelta(minutes=n)) for n in range(10)]
    await seed(metering, mine + theirs)

    seen: list[dict[str, Any]] = []
    cursor = None
    while True:
        params = {"limit": "10", **({"cursor": cursor} if cursor else {})}
        body = await (await get(metering, "/api/usage/records", alice, **params)).get_json()
        seen += body["records"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == len(mine) and len({r["id"] for r in seen}) == len(mine)
    assert {r["user_id"] for r in seen} == {alice}
    keys = [(r["requested_at"], r["id"]) for r in seen]
    assert keys == sorted(keys, reverse=True)
    by_request = {r["request_id"]: r for r in seen}
    assert by_request[mine[7]["request_id"]]["cost_usd"] == "0.000864197523"

    filtered = await (
        await get(
            metering,
            "/api/usage/records",
            alice,
            model_id=HAIKU,
            success="false",
            limit="1000",
        )
    ).get_json()
    expected = [r for r in mine if r["model_id"] == HAIKU and not r["success"]]
    assert {r["request_id"] for r in filtered["records"]} == {r["request_id"] for r in expected}
    by_key = await (
        await get(metering, "/api/usage/records", alice, api_key_id=str(key_id), limit="1000")
    ).get_json()
    assert len(by_key["records"]) == 28
    ranged = await (
        await get(
            metering,
            "/api/usage/records",
            alice,
            start=(base + timedelta(minutes=50)).isoformat(),
            end=(base + timedelta(minutes=55)).isoformat(),
        )
    ).get_json()
    assert len(ranged["records"]) == 5
    page2 = await (
        await get(metering, "/api/usage/records", alice, limit="10", offset="10")
    ).get_json()
    assert [r["id"] for r in page2["records"]] == [r["id"] for r in seen[10:20]]

    # another user's data is invisible, and asking for it is refused
    other = await get(metering, "/api/usage/records", alice, user_id=str(bob))
    assert other.status_code == 403
    admin = await metering.user(admin=True)
    bobs = await (
        await get(metering, "/api/admin/usage/records", admin, user_id=str(bob), limit="100")
    ).get_json()
    assert {r["user_id"] for r in bobs["records"]} == {bob} and len(bobs["records"]) == 10
    everyone = await (
        await get(metering, "/api/admin/usage/records", admin, limit="1000")
    ).get_json()
    assert len(everyone["records"]) == len(mine) + len(theirs)


async def test_csv_export_streams_the_whole_filtered_result(
    metering: IdentityApp, monkeypatch: pytest.MonkeyPatch
) -> None:
    import web.metering.usage

    monkeypatch.setattr(web.metering.usage, "CSV_PAGE", 97)  # many pages
    alice, bob = await metering.user(), await metering.user()
    base = NOW - timedelta(days=1)
    rows = [
        usage_row(alice, base + timedelta(seconds=n), cost=None if n % 7 == 0 else Decimal("0.5"))
        for n in range(1203)
    ]
    rows[5]["error_message"] = "=HYPERLINK(evil)"
    await seed(metering, [*rows, usage_row(bob, base)])
    response, chunks = await stream(metering, "/api/usage/records", alice, format="csv")
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/csv")
    assert "attachment" in response.headers["Content-Disposition"]
    assert len(chunks) >= 1203 // 97  # sent page by page, not built whole
    text = b"".join(chunks).decode()
    table = list(csv.DictReader(io.StringIO(text)))
    assert len(table) == 1203  # far more than a page, and no 500-row cap
    assert {r["user_id"] for r in table} == {str(alice)}
    assert sum(1 for r in table if r["cost_usd"] == "") == len(range(0, 1203, 7))
    assert (
        next(r for r in table if r["request_id"] == rows[5]["request_id"])["error_message"]
        == "'=HYPERLINK(evil)"
    )
    _, chunks = await stream(
        metering,
        "/api/usage/records",
        alice,
        format="csv",
        start=(base + timedelta(seconds=1000)).isoformat(),
    )
    assert len(list(csv.DictReader(io.StringIO(b"".join(chunks).decode())))) == 203


async def test_summaries_and_stats_give_the_same_numbers_before_and_after_the_roll_up(
    metering: IdentityApp,
) -> None:
    alice, bob = await metering.user(), await metering.user()
    admin = await metering.user(admin=True)
    start = datetime(2026, 10, 30, 22, 17, tzinfo=UTC)  # crosses a month end
    rows = [
        usage_row(
            user,
            start + timedelta(minutes=37 * n),
            model_id=(SONNET, HAIKU)[n % 2],
            input_tokens=100 + n,
            output_tokens=7 * n,
            cache_read_tokens=n,
            cache_write_5m_tokens=2 * n,
            cache_write_1h_tokens=3,
            cost=None if n % 11 == 0 else Decimal(n) / 1000,
            latency_ms=100 * n,
            success=n % 4 != 0,
        )
        for n in range(200)
        for user in (alice, bob)
    ]
    await seed(metering, rows)
    params = {"start": "2026-10-30T23:30:00Z", "end": "2026-11-03T05:45:00Z"}

    async def answers() -> list[Any]:
        out = []
        for period in ("hourly", "daily", "weekly", "monthly"):
            r = await get(metering, "/api/usage/summaries", alice, period=period, **params)
            out.append(await r.get_json())
        out.append(await (await get(metering, "/api/usage/stats", alice, **params)).get_json())
        r = await get(metering, "/api/admin/usage/stats", admin, **params)
        out.append(await r.get_json())
        r = await get(metering, "/api/admin/usage/summaries", admin, period="daily", **params)
        out.append(await r.get_json())
        return out

    before = await answers()
    await summarize(metering)
    after = await answers()
    assert before == after

    stats = after[4]
    lo, hi = datetime(2026, 10, 30, 23, 30, tzinfo=UTC), datetime(2026, 11, 3, 5, 45, tzinfo=UTC)
    inside = [r for r in rows if r["user_id"] == alice and lo <= r["requested_at"] < hi]
    totals = stats["totals"]
    assert totals["requests"] == len(inside)
    assert totals["input_tokens"] == sum(r["input_tokens"] for r in inside)
    assert totals["cache_write_tokens"] == sum(
        r["cache_write_5m_tokens"] + r["cache_write_1h_tokens"] for r in inside
    )
    assert Decimal(totals["cost_usd"]) == sum(
        (r["cost_usd"] for r in inside if r["cost_usd"] is not None), Decimal(0)
    )
    assert totals["unpriced_requests"] == sum(1 for r in inside if r["cost_usd"] is None)
    assert [d["date"] for d in stats["by_day"]] == [
        "2026-10-30",
        "2026-10-31",
        "2026-11-01",
        "2026-11-02",
        "2026-11-03",
    ]
    assert sum(m["requests"] for m in stats["by_model"]) == len(inside)
    assert "by_user" not in stats

    monthly = after[3]["summaries"]
    assert [(s["period_start"][:10], s["model_id"]) for s in monthly] == [
        ("2026-10-01", HAIKU),
        ("2026-10-01", SONNET),
        ("2026-11-01", HAIKU),
        ("2026-11-01", SONNET),
    ]
    admin_stats = after[5]
    assert [u["user_id"] for u in admin_stats["by_user"]] == sorted([alice, bob])
    assert admin_stats["totals"]["requests"] == 2 * len(inside)
    assert {s["user_id"] for s in after[6]["summaries"]} == {alice, bob}
    one = await get(metering, "/api/admin/usage/stats", admin, user_id=str(bob), **params)
    assert (await one.get_json())["totals"] == totals  # bob's rows mirror alice's
    merged = await get(
        metering, "/api/admin/usage/summaries", admin, period="daily", group_by="model", **params
    )
    assert all("user_id" not in s for s in (await merged.get_json())["summaries"])


async def test_the_job_overview_for_admins(metering: IdentityApp) -> None:
    admin = await metering.user(admin=True)
    await summarize(metering)
    body = await (await get(metering, "/api/admin/jobs", admin)).get_json()
    jobs = {j["name"]: j for j in body["jobs"]}
    assert set(jobs) == {"usage_summaries", "usage_cleanup"}
    assert jobs["usage_cleanup"]["description"].startswith("At 03:30")
    assert jobs["usage_summaries"]["next_fire"] == "2026-11-25T13:00:00+00:00"


async def test_scheduler_and_price_book_metrics(metering: IdentityApp) -> None:
    from actors.jobs import MemoryClaims, ScheduledJob, open_scheduler
    from actors.pricing import open_price_book
    from web.metering.metrics import metering_metrics

    async def job(now: datetime) -> str:
        return "ok"

    db = metering.services.db
    jobs = [ScheduledJob("usage_summaries", "0 * * * *", job)]
    async with (
        open_scheduler(jobs, MemoryClaims(), stop_timeout=1) as scheduler,
        open_price_book(db, None, 3600) as book,
    ):
        services = attrs.evolve(metering.services, scheduler=scheduler, prices=book)
        families = {m.name: m for m in metering_metrics(services)()}
    assert {
        "bedrock_proxy_job_runs",
        "bedrock_proxy_job_next_fire_timestamp_seconds",
        "bedrock_proxy_price_book_models",
        "bedrock_proxy_price_book_reload_failures",
    } <= set(families)
    (sample,) = families["bedrock_proxy_job_runs"].samples
    assert sample.labels == {"job": "usage_summaries"} and sample.value == 0
