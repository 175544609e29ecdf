"""`/api/admin/costs...`: model prices for admins — list, one row, edit, delete, upload, export.

Prices are USD per million tokens, sent and returned as decimal strings (JSON numbers are
accepted and read exactly). Each change is audited (`admin_action`) in its own transaction
and reaches the price book of every instance at once.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from quart import Blueprint, Response, request

from web.auth import audit
from web.auth.audit import AuditEvent
from web.auth.errors import InvalidInput
from web.auth.quart import client_info, current_principal, require_admin
from web.http import json_error, json_response
from web.metering.costs import CostService, validate_edit
from web.metering.views import cost_json
from web.routes.params import bool_arg, int_arg, text_arg
from web.routes.usage import metering_errors
from web.services import Services

MAX_PAGE = 1000


def _auditor() -> Any:
    principal, client = current_principal(), client_info()

    def event(meta: dict[str, Any]) -> AuditEvent:
        return AuditEvent(audit.ADMIN_ACTION, True, principal.user_id, client, meta)

    return event


async def _json_body() -> dict[str, Any]:
    raw = await request.get_data(cache=True)
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        body = json.loads(text, parse_float=Decimal) if text else None
    except UnicodeDecodeError:
        raise InvalidInput("request body is not UTF-8") from None
    except ValueError:
        raise InvalidInput("request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise InvalidInput("request body must be a JSON object of prices")
    return body


async def _csv_text() -> str:
    if request.mimetype == "multipart/form-data":
        files = await request.files
        upload = files.get("file")
        if upload is None:
            raise InvalidInput("send the CSV as the form field 'file' (or as a text/csv body)")
        raw = upload.read()
    else:
        raw = await request.get_data(cache=True)
    if not raw:
        raise InvalidInput("the CSV is empty")
    try:
        return raw.decode("utf-8") if isinstance(raw, bytes) else str(raw)
    except UnicodeDecodeError:
        raise InvalidInput("the CSV must be UTF-8 text") from None


def register(app: Any, services: Services) -> None:
    """Add the cost routes to `app`."""
    costs = CostService(services.db, services.now, services.prices)
    bp = Blueprint("admin_costs", __name__)

    @bp.get("/api/admin/costs")
    @require_admin()
    @metering_errors
    async def list_costs() -> Response:
        limit = int_arg("limit", 100, 1, MAX_PAGE) or 100
        offset = int_arg("offset", 0, 0, 1_000_000) or 0
        rows, total = await costs.list(
            region=text_arg("region"),
            model=text_arg("model"),
            provider=text_arg("provider"),
            limit=limit,
            offset=offset,
        )
        return json_response(
            {
                "costs": [cost_json(r) for r in rows],
                "total": total,
                "limit": limit,
                "offset": offset,
            }
        )

    @bp.get("/api/admin/costs.csv")
    @require_admin()
    @metering_errors
    async def export_costs() -> Response:
        response = Response(await costs.export(), content_type="text/csv; charset=utf-8")
        response.headers["Content-Disposition"] = 'attachment; filename="model_costs.csv"'
        response.headers["Cache-Control"] = "no-store"
        return response

    @bp.post("/api/admin/costs")
    @require_admin()
    @metering_errors
    async def upload_costs() -> Response:
        text = await _csv_text()
        dry_run = bool(bool_arg("dry_run"))
        report = await costs.upload(text, dry_run=dry_run, audit=_auditor())
        return json_response(report.json())

    @bp.get("/api/admin/costs/<region>/<path:model_id>")
    @require_admin()
    @metering_errors
    async def get_cost(region: str, model_id: str) -> Response:
        row = await costs.get(region, model_id)
        if row is None:
            return json_error(404, f"no price for {model_id} in {region}")
        return json_response(cost_json(row))

    @bp.put("/api/admin/costs/<region>/<path:model_id>")
    @require_admin()
    @metering_errors
    async def put_cost(region: str, model_id: str) -> Response:
        row = validate_edit(region, model_id, await _json_body())
        saved, created = await costs.put(row, audit=_auditor())
        return json_response(cost_json(saved), 201 if created else 200)

    @bp.delete("/api/admin/costs/<region>/<path:model_id>")
    @require_admin()
    @metering_errors
    async def delete_cost(region: str, model_id: str) -> Response:
        if not await costs.delete(region, model_id, audit=_auditor()):
            return json_error(404, f"no price for {model_id} in {region}")
        return Response("", status=204)

    app.register_blueprint(bp)
