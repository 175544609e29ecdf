"""The admin's model costs page: filter, inline edit, delete, CSV upload and download.

Edits go through `CostService` with the same validation as the JSON API and the CSV table,
are audited, and reach every instance's price book at once.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from quart import Blueprint, Response, request

from web.auth import audit
from web.auth.audit import AuditEvent
from web.auth.errors import InvalidInput
from web.auth.quart import client_info, current_principal
from web.metering.costs import PRICE_FIELDS, CostService, validate_edit
from web.services import Services
from web.ui.core import form, page, render, see_other

COSTS_PAGE = 50
PRICE_LABELS = {
    "input_price": "Input",
    "output_price": "Output",
    "cache_write_5m_price": "Cache write 5 min",
    "cache_write_1h_price": "Cache write 1 h",
    "cache_read_price": "Cache read",
}


def _auditor() -> Any:
    principal, client = current_principal(), client_info()

    def event(meta: dict[str, Any]) -> AuditEvent:
        return AuditEvent(audit.ADMIN_ACTION, True, principal.user_id, client, meta)

    return event


def _arg(name: str) -> str | None:
    raw = (request.args.get(name) or "").strip()
    if not raw:
        return None
    if len(raw) > 200 or not raw.isprintable():
        raise InvalidInput(f"{name} must be at most 200 printable characters")
    return raw


def register(bp: Blueprint, services: Services) -> None:
    """Add the cost pages to `bp`."""
    costs = CostService(services.db, services.now, services.prices)

    async def costs_page(status: int = 200, **extra: Any) -> Response:
        region, model, provider = _arg("region"), _arg("model"), _arg("provider")
        raw_offset = request.args.get("offset") or "0"
        if not raw_offset.isdigit() or len(raw_offset) > 9:
            raise InvalidInput("offset must be a whole number")
        offset = int(raw_offset)
        rows, total = await costs.list(
            region=region, model=model, provider=provider, limit=COSTS_PAGE, offset=offset
        )
        kept = {"region": region, "model": model, "provider": provider}

        def link(**changes: Any) -> str:
            merged = {**kept, **changes}
            return urlencode({k: v for k, v in merged.items() if v not in (None, "", 0)})

        editing = (request.args.get("edit_region"), request.args.get("edit_model"))
        return render(
            "admin_costs.html",
            status,
            rows=rows,
            total=total,
            offset=offset,
            page_size=COSTS_PAGE,
            filters={k: v or "" for k, v in kept.items()},
            link=link,
            editing=editing,
            price_fields=PRICE_FIELDS,
            price_labels=PRICE_LABELS,
            saved=request.args.get("saved") or "",
            **{"report": None, "error": None, **extra},
        )

    @bp.get("/admin/costs")
    @page(admin=True)
    async def list_costs() -> Response:
        return await costs_page()

    @bp.post("/admin/costs")
    @page(admin=True)
    async def save_cost() -> Response:
        fields = await form()
        region = fields.get("region", "").strip()
        model_id = fields.get("model_id", "").strip()
        if not region or not model_id:
            raise InvalidInput("region and model_id are required")
        if fields.get("action") == "delete":
            if not await costs.delete(region, model_id, audit=_auditor()):
                raise InvalidInput(f"no price for {model_id} in {region}")
            return see_other("/admin/costs?" + urlencode({"saved": f"deleted {model_id}"}))
        body = {
            name: fields.get(name, "").strip() or None
            for name in ("model_name", "provider", *PRICE_FIELDS)
        }
        try:
            row = validate_edit(region, model_id, body)
        except InvalidInput as exc:
            return await costs_page(400, error=f"{model_id} in {region}: {exc}")
        await costs.put(row, audit=_auditor())
        query = {"model": model_id, "region": region, "saved": f"saved {model_id} in {region}"}
        return see_other("/admin/costs?" + urlencode(query))

    @bp.post("/admin/costs/upload")
    @page(admin=True)
    async def upload_costs() -> Response:
        fields = await form()
        files = await request.files
        upload = files.get("file")
        raw = upload.read() if upload is not None else b""
        if not raw:
            return await costs_page(400, error="Choose a CSV file to upload.")
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError:
            return await costs_page(400, error="The CSV must be UTF-8 text.")
        dry_run = fields.get("dry_run") == "yes"
        try:
            report = await costs.upload(text, dry_run=dry_run, audit=_auditor())
        except InvalidInput as exc:
            return await costs_page(400, error=f"The CSV was not applied: {exc}")
        return await costs_page(report=report)
