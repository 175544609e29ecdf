"""Admin cost routes: list/filter/page, one row (ids with ':'), edit, delete, CSV upload and
export; admins only; every change audited and priced at once."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import attrs
import pytest
import sqlalchemy as sa

from actors.pricing import open_price_book
from proxy.pricing import COST_COLUMNS, parse_costs_csv
from storage.cache import MemoryCache
from storage.database import Database
from storage.schema import audit_logs
from tests.web.conftest import IdentityApp, identity_settings, open_test_services
from web.app import create_app

SONNET = "anthropic.claude-sonnet-4-5-20250929-v1:0"
HAIKU = "anthropic.claude-haiku-4-5-20251001-v1:0"
HEADER = ",".join(COST_COLUMNS)
TABLE = f"""{HEADER}
us-east-1,{SONNET},Claude Sonnet 4.5,Anthropic,3,15,3.75,6,0.3
eu-west-1,{SONNET},Claude Sonnet 4.5,Anthropic,3.3,16.5,4.125,6.6,0.33
us-east-1,{HAIKU},Claude Haiku 4.5,Anthropic,1,5,1.25,2,0.1
"""


@pytest.fixture
async def costs_app(db: Database, tmp_path: Path) -> AsyncIterator[IdentityApp]:
    cache = MemoryCache(max_entries=1000)
    async with (
        open_test_services(db, cache, tmp_path, identity_settings()) as services,
        open_price_book(db, cache, 3600) as book,
    ):
        services = attrs.evolve(services, prices=book)
        app = create_app(services)
        async with app.test_app() as test_app:
            yield IdentityApp(app=app, services=services, client=test_app.test_client())


async def upload(app: IdentityApp, admin: int, text: str, **params: str) -> Any:
    headers = {**app.bearer(admin), "Content-Type": "text/csv"}
    return await app.client.post(
        "/api/admin/costs", data=text.encode(), headers=headers, query_string=params
    )


async def audited(app: IdentityApp) -> list[str]:
    def read(conn: sa.Connection) -> list[str]:
        rows = conn.execute(
            sa.select(audit_logs.c.metadata)
            .where(audit_logs.c.event_type == "admin_action")
            .order_by(audit_logs.c.id)
        )
        return [
            r.metadata["action"] for r in rows if r.metadata.get("action", "").startswith("cost")
        ]

    return await app.services.db.read(read)


async def test_only_admins(costs_app: IdentityApp) -> None:
    alice = await costs_app.user()
    paths = [
        ("GET", "/api/admin/costs"),
        ("GET", "/api/admin/costs.csv"),
        ("POST", "/api/admin/costs"),
        ("GET", f"/api/admin/costs/us-east-1/{SONNET}"),
        ("PUT", f"/api/admin/costs/us-east-1/{SONNET}"),
        ("DELETE", f"/api/admin/costs/us-east-1/{SONNET}"),
    ]
    for method, path in paths:
        anonymous = await costs_app.client.open(path, method=method)
        assert anonymous.status_code == 401, path
        user = await costs_app.client.open(path, method=method, headers=costs_app.bearer(alice))
        assert user.status_code == 403, path


async def test_upload_list_get_edit_delete_export(costs_app: IdentityApp) -> None:
    admin = await costs_app.user(admin=True)
    auth = costs_app.bearer(admin)
    book = costs_app.services.prices
    assert book is not None

    report = await (await upload(costs_app, admin, TABLE)).get_json()
    assert (report["added"], report["updated"], report["unchanged"]) == (3, 0, 0)
    assert report["rejected"] == [] and report["applied"] is True
    prices = book.prices_for("us-east-1", "us." + SONNET)  # reloaded at once
    assert prices is not None and prices.cache_write_1h == 6

    listed = await (
        await costs_app.client.get(
            "/api/admin/costs", headers=auth, query_string={"model": "sonnet", "limit": "1"}
        )
    ).get_json()
    assert listed["total"] == 2 and len(listed["costs"]) == 1
    assert listed["costs"][0]["region"] == "eu-west-1"  # ordered by region
    assert listed["costs"][0]["cache_read_price"] == "0.33"
    by_region = await (
        await costs_app.client.get(
            "/api/admin/costs", headers=auth, query_string={"region": "us-east-1"}
        )
    ).get_json()
    assert [c["model_id"] for c in by_region["costs"]] == [HAIKU, SONNET]

    one = await costs_app.client.get(f"/api/admin/costs/us-east-1/{SONNET}", headers=auth)
    assert (await one.get_json())["output_price"] == "15"
    encoded = await costs_app.client.get(
        f"/api/admin/costs/us-east-1/{SONNET.replace(':', '%3A')}", headers=auth
    )
    assert encoded.status_code == 200
    missing = await costs_app.client.get(f"/api/admin/costs/us-west-2/{SONNET}", headers=auth)
    assert missing.status_code == 404

    # JSON numbers are read exactly (no float on the way)
    body = b'{"input_price": 2.999999999999, "output_price": "15", "cache_read_price": null}'
    put = await costs_app.client.put(
        f"/api/admin/costs/us-east-1/{SONNET}",
        data=body,
        headers={**auth, "Content-Type": "application/json"},
    )
    assert put.status_code == 200
    saved = await put.get_json()
    assert saved["input_price"] == "2.999999999999" and saved["cache_read_price"] is None
    prices = book.prices_for("us-east-1", SONNET)
    assert prices is not None and prices.input == Decimal("2.999999999999")

    created = await costs_app.client.put(
        f"/api/admin/costs/ap-northeast-1/{HAIKU}",
        json={"input_price": "1.1", "output_price": "5.5", "model_name": "Haiku"},
        headers=auth,
    )
    assert created.status_code == 201
    assert (await created.get_json())["provider"] == "Anthropic"

    gone = await costs_app.client.delete(f"/api/admin/costs/ap-northeast-1/{HAIKU}", headers=auth)
    assert gone.status_code == 204
    assert book.prices_for("ap-northeast-1", HAIKU) is None
    again = await costs_app.client.delete(f"/api/admin/costs/ap-northeast-1/{HAIKU}", headers=auth)
    assert again.status_code == 404

    export = await costs_app.client.get("/api/admin/costs.csv", headers=auth)
    assert export.headers["Content-Type"].startswith("text/csv")
    rows, rejected = parse_costs_csv((await export.get_data()).decode())
    assert rejected == [] and len(rows) == 3
    # re-uploading the export changes nothing
    report = await (await upload(costs_app, admin, (await export.get_data()).decode())).get_json()
    assert (report["added"], report["updated"], report["unchanged"]) == (0, 0, 3)
    assert await audited(costs_app) == [
        "costs_uploaded",
        "cost_updated",
        "cost_created",
        "cost_deleted",
    ]


async def test_upload_reports_rejected_lines_and_applies_the_rest_in_one_go(
    costs_app: IdentityApp,
) -> None:
    admin = await costs_app.user(admin=True)
    await upload(costs_app, admin, TABLE)
    text = f"""{HEADER}
us-east-1,{SONNET},Claude Sonnet 4.5,Anthropic,3,15,3.75,6,0.3
us-east-1,{HAIKU},Claude Haiku 4.5,Anthropic,0.8,4,1,1.6,0.08
us-east-1,us.{HAIKU},profile,Anthropic,1,5,,,
moon-base-1,{HAIKU},Haiku,Anthropic,1,5,,,
us-west-2,{HAIKU},Haiku,Anthropic,one,5,,,
us-west-2,{SONNET},Sonnet,Anthropic,3,15,,,
us-west-2,{SONNET},Sonnet,Anthropic,3,15,,,
"""
    dry = await (await upload(costs_app, admin, text, dry_run="true")).get_json()
    assert dry["applied"] is False and (dry["added"], dry["updated"]) == (1, 1)
    listed = await (
        await costs_app.client.get("/api/admin/costs", headers=costs_app.bearer(admin))
    ).get_json()
    assert listed["total"] == 3  # the dry run changed nothing

    report = await (await upload(costs_app, admin, text)).get_json()
    assert (report["added"], report["updated"], report["unchanged"]) == (1, 1, 1)
    assert [r["line"] for r in report["rejected"]] == [4, 5, 6, 8]
    reasons = " | ".join(r["reason"] for r in report["rejected"])
    assert "base model id" in reasons and "invalid region" in reasons
    assert "not a number" in reasons and "duplicate of line 7" in reasons
    assert report["changes"]["added"] == [{"region": "us-west-2", "model_id": SONNET}]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"input_price": "3"}, "output price is required"),
        ({"input_price": "-1", "output_price": "2"}, "must be between 0 and"),
        ({"input_price": "1e9", "output_price": "2"}, "must be between 0 and"),
        ({"input_price": "NaN", "output_price": "2"}, "must be between"),
        ({"input_price": True, "output_price": "2"}, "must be a string or a number"),
        ({"input_price": "1", "output_price": "2", "colour": "red"}, "unknown field(s) colour"),
    ],
)
async def test_bad_edits_are_400(
    costs_app: IdentityApp, body: dict[str, Any], fragment: str
) -> None:
    admin = await costs_app.user(admin=True)
    r = await costs_app.client.put(
        f"/api/admin/costs/us-east-1/{SONNET}", json=body, headers=costs_app.bearer(admin)
    )
    assert r.status_code == 400
    assert fragment in (await r.get_json())["error"]["message"]


async def test_bad_paths_and_bodies_are_400(costs_app: IdentityApp) -> None:
    admin = await costs_app.user(admin=True)
    auth = costs_app.bearer(admin)
    prices = {"input_price": "1", "output_price": "2"}
    profile = await costs_app.client.put(
        f"/api/admin/costs/us-east-1/us.{SONNET}", json=prices, headers=auth
    )
    assert "base model id" in (await profile.get_json())["error"]["message"]
    region = await costs_app.client.put(
        f"/api/admin/costs/Mars/{SONNET}", json=prices, headers=auth
    )
    assert "invalid region" in (await region.get_json())["error"]["message"]
    for data in (b"not json", b"[1, 2]", b"\xff\xfe"):
        r = await costs_app.client.put(
            f"/api/admin/costs/us-east-1/{SONNET}",
            data=data,
            headers={**auth, "Content-Type": "application/json"},
        )
        assert r.status_code == 400
    header = await upload(costs_app, admin, "region,model\nus-east-1,x\n")
    assert header.status_code == 400
    assert "line 1: header must be exactly" in (await header.get_json())["error"]["message"]
    empty = await upload(costs_app, admin, "")
    assert empty.status_code == 400
    binary = await costs_app.client.post(
        "/api/admin/costs", data=b"\xff\xfe\x00", headers={**auth, "Content-Type": "text/csv"}
    )
    assert binary.status_code == 400
    listing = await costs_app.client.get(
        "/api/admin/costs", headers=auth, query_string={"limit": "5000"}
    )
    assert listing.status_code == 400


async def test_upload_as_a_multipart_file(costs_app: IdentityApp) -> None:
    import io

    from werkzeug.datastructures import FileStorage

    admin = await costs_app.user(admin=True)
    file = FileStorage(io.BytesIO(TABLE.encode()), filename="prices.csv", content_type="text/csv")
    r = await costs_app.client.post(
        "/api/admin/costs", files={"file": file}, headers=costs_app.bearer(admin)
    )
    assert r.status_code == 200
    assert (await r.get_json())["added"] == 3
