"""`/api/keys`: a person's own API keys."""

from __future__ import annotations

from typing import Any

from quart import Blueprint, Response

from storage.errors import NotFound
from web.auth.identity import Identity
from web.auth.keys import DEFAULT
from web.auth.quart import (
    api_errors,
    client_info,
    current_principal,
    read_json_object,
    require_auth,
)
from web.auth.views import iso, key_json
from web.http import json_error, json_response

MAX_ID = 2**63 - 1


def parse_id(raw: str, what: str) -> int:
    """A positive database id from a URL segment; anything else is `NotFound` (404)."""
    if not raw.isascii() or not raw.isdigit() or len(raw) > 19 or not 0 < int(raw) <= MAX_ID:
        raise NotFound(f"{what} {raw[:40]!r} not found")
    return int(raw)


def register(app: Any, ident: Identity) -> None:
    """Add the `/api/keys` routes to `app`."""
    bp = Blueprint("api_keys", __name__)
    keys = ident.keys

    @bp.post("/api/keys")
    @require_auth()
    @api_errors
    async def create_key() -> Response:
        body = await read_json_object()
        unknown = set(body) - {"name", "expires_in_days"}
        if unknown:
            return json_error(400, f"unknown field(s): {', '.join(sorted(unknown))[:200]}")
        expiry = body.get("expires_in_days", DEFAULT)
        created = await keys.create(
            current_principal().user_id, body.get("name"), expiry, client_info()
        )
        row = created.row
        return json_response(
            {
                "id": row.id,
                "key": created.key,
                "name": row.name,
                "hint": row.hint,
                "created_at": iso(row.created_at),
                "expires_at": iso(row.expires_at),
            },
            201,
        )

    @bp.get("/api/keys")
    @require_auth()
    @api_errors
    async def list_keys() -> Response:
        rows = await keys.list_keys(current_principal().user_id)
        now = keys.now()
        return json_response({"keys": [key_json(row, now) for row in rows]})

    @bp.delete("/api/keys/<key_id>")
    @require_auth()
    @api_errors
    async def revoke_key(key_id: str) -> Response:
        row = await keys.revoke(
            parse_id(key_id, "API key"), current_principal().user_id, client_info()
        )
        return json_response(key_json(row, keys.now()))

    app.register_blueprint(bp)
